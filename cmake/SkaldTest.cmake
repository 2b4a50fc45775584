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

# Test code is compiled with -Og: a third less CPU than RelWithDebInfo's -O2 for GoogleTest's
# templates, and still fine to debug. What tests drive (coordinator, SDK, support libraries)
# keeps the build type's optimisation. -pthread everywhere: the precompiled header below is
# refused by a file compiled with a different _REENTRANT, and some tests get -pthread from
# gRPC's targets.
set(SKALD_TEST_COMPILE_OPTIONS -Og -pthread)

# One precompiled header for every test executable: GoogleTest, gMock and nlohmann/json are
# parsed once per build instead of once per test file (about 4 s of CPU each).
add_library(skald_test_pch OBJECT ${PROJECT_SOURCE_DIR}/tests/support/precompiled_test_headers.cc)
target_link_libraries(skald_test_pch PRIVATE GTest::gtest GTest::gmock
                      nlohmann_json::nlohmann_json)
target_compile_options(skald_test_pch PRIVATE ${SKALD_WARNINGS} ${SKALD_TEST_COMPILE_OPTIONS})
target_precompile_headers(skald_test_pch PRIVATE <gtest/gtest.h> <gmock/gmock.h>
                          <nlohmann/json.hpp> <chrono> <functional> <map> <memory> <optional>
                          <string> <thread> <vector>)

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
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBS} Threads::Threads)
  target_compile_options(${ARG_NAME} PRIVATE ${SKALD_WARNINGS} ${SKALD_TEST_COMPILE_OPTIONS})
  target_precompile_headers(${ARG_NAME} REUSE_FROM skald_test_pch)
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
