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

# A second one for the tests that drive the shell (nearly all but the pure core's): the same
# headers plus gRPC, protobuf, libpqxx, cpp-httplib and absl::Status, which such a test
# otherwise parses in each of its translation units (5-8 s of CPU each: http_port_test.cc
# 16 -> 10.6 s, an e2e batch 34.6 -> 26.7 s). The pure core's and observability's tests keep
# the light header, so that nothing of the shell is in scope there even implicitly. Every user is given the
# definitions the header was built with (a mismatch fails loudly, -Winvalid-pch -Werror).
set(SKALD_TEST_SHELL_DEFINITIONS ${SKALD_PQXX_DEFINES})
set(SKALD_TEST_SHELL_OPTIONS ${HTTPLIB_CFLAGS_OTHER})
add_library(skald_test_shell_pch OBJECT
            ${PROJECT_SOURCE_DIR}/tests/support/precompiled_test_headers.cc)
target_link_libraries(skald_test_shell_pch PRIVATE GTest::gtest GTest::gmock
                      nlohmann_json::nlohmann_json gRPC::grpc++ protobuf::libprotobuf
                      PkgConfig::PQXX PkgConfig::HTTPLIB absl::status absl::statusor)
target_compile_definitions(skald_test_shell_pch PRIVATE ${SKALD_TEST_SHELL_DEFINITIONS})
target_compile_options(skald_test_shell_pch PRIVATE ${SKALD_WARNINGS}
                       ${SKALD_TEST_COMPILE_OPTIONS} ${SKALD_TEST_SHELL_OPTIONS})
target_precompile_headers(skald_test_shell_pch PRIVATE <gtest/gtest.h> <gmock/gmock.h>
                          <nlohmann/json.hpp> <chrono> <functional> <map> <memory> <optional>
                          <string> <thread> <vector> <absl/status/status.h>
                          <absl/status/statusor.h> <google/protobuf/message.h>
                          <grpcpp/grpcpp.h> <pqxx/pqxx> <httplib.h>)

# Compiles TARGET as test code: the project's warnings, -Og, and the precompiled header its
# LIBS call for -- the light one when they bring neither gRPC nor libpqxx (the pure core,
# observability: spdlog and json only), which also keeps the sanitized build of those tests
# (scripts/fuzz-and-sanitize.sh) from compiling the shell's headers at all.
function(skald_compile_as_test target libs)
  target_compile_options(${target} PRIVATE ${SKALD_WARNINGS} ${SKALD_TEST_COMPILE_OPTIONS})
  set(light TRUE)
  foreach(lib IN LISTS libs)
    if(NOT lib MATCHES "^(skald_core|skald_observability|GTest::.*)$")
      set(light FALSE)
    endif()
  endforeach()
  if(light)
    target_precompile_headers(${target} REUSE_FROM skald_test_pch)
    return()
  endif()
  target_compile_definitions(${target} PRIVATE ${SKALD_TEST_SHELL_DEFINITIONS})
  target_compile_options(${target} PRIVATE ${SKALD_TEST_SHELL_OPTIONS})
  # The header's text is the fallback if a compiler refuses the binary form.
  target_include_directories(${target} SYSTEM PRIVATE
    $<TARGET_PROPERTY:PkgConfig::PQXX,INTERFACE_INCLUDE_DIRECTORIES>)
  target_precompile_headers(${target} REUSE_FROM skald_test_shell_pch)
endfunction()

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
  skald_compile_as_test(${ARG_NAME} "${ARG_LIBS}")
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
