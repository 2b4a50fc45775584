# skald_add_test(NAME name SOURCES file...
#                [LIBS target...] [LABELS label...] [TIMEOUT seconds] [PREFIX text]
#                [DEFINITIONS def...] [INCLUDES dir...] [DEPENDS target...]
#                [DISCOVERY_TIMEOUT seconds])
#
# One GoogleTest executable of the suite: built with the project's warnings, linked
# privately to LIBS, given DEFINITIONS and INCLUDES, built after DEPENDS (binaries it
# starts), and its tests discovered after the build (gtest_discover_tests, DISCOVERY_TIMEOUT
# 30 s by default), each test named PREFIX + its GoogleTest name and given TIMEOUT and
# LABELS (none: ctest's defaults).
include_guard(GLOBAL)
include(GoogleTest)

function(skald_add_test)
  cmake_parse_arguments(PARSE_ARGV 0 ARG ""
                        "NAME;TIMEOUT;PREFIX;DISCOVERY_TIMEOUT"
                        "SOURCES;LIBS;LABELS;DEFINITIONS;INCLUDES;DEPENDS")
  if(NOT ARG_NAME OR NOT ARG_SOURCES)
    message(FATAL_ERROR "skald_add_test: NAME and SOURCES are required")
  endif()
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "skald_add_test(${ARG_NAME}): unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_DISCOVERY_TIMEOUT)
    set(ARG_DISCOVERY_TIMEOUT 30)
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBS})
  target_compile_options(${ARG_NAME} PRIVATE ${SKALD_WARNINGS})
  if(ARG_DEFINITIONS)
    target_compile_definitions(${ARG_NAME} PRIVATE ${ARG_DEFINITIONS})
  endif()
  if(ARG_INCLUDES)
    target_include_directories(${ARG_NAME} PRIVATE ${ARG_INCLUDES})
  endif()
  if(ARG_DEPENDS)
    add_dependencies(${ARG_NAME} ${ARG_DEPENDS})
  endif()
  # LABELS is passed quoted, so that several labels stay one property value.
  if(ARG_TIMEOUT AND ARG_LABELS)
    gtest_discover_tests(${ARG_NAME} TEST_PREFIX "${ARG_PREFIX}"
                         DISCOVERY_TIMEOUT ${ARG_DISCOVERY_TIMEOUT}
                         PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}")
  elseif(ARG_TIMEOUT)
    gtest_discover_tests(${ARG_NAME} TEST_PREFIX "${ARG_PREFIX}"
                         DISCOVERY_TIMEOUT ${ARG_DISCOVERY_TIMEOUT}
                         PROPERTIES TIMEOUT ${ARG_TIMEOUT})
  elseif(ARG_LABELS)
    gtest_discover_tests(${ARG_NAME} TEST_PREFIX "${ARG_PREFIX}"
                         DISCOVERY_TIMEOUT ${ARG_DISCOVERY_TIMEOUT}
                         PROPERTIES LABELS "${ARG_LABELS}")
  else()
    gtest_discover_tests(${ARG_NAME} TEST_PREFIX "${ARG_PREFIX}"
                         DISCOVERY_TIMEOUT ${ARG_DISCOVERY_TIMEOUT})
  endif()
endfunction()
