# The shell's precompiled header: gRPC, protobuf, libpqxx, nlohmann/json, spdlog, absl and the
# standard library, parsed once per build instead of once per translation unit (about 5 of
# the 10-25 CPU-seconds each file of the coordinator, SDK, examples and test helpers cost).
# skald_use_shell_pch_everywhere() gives it to every C++ target defined so
# far except the pure core (kept free of I/O headers even implicitly) and the GoogleTest
# executables, which have their own (cmake/SkaldTest.cmake).
#
# A precompiled header is used only by a file compiled with the same definitions the header
# depends on: every user gets libpqxx's PQXX_HAVE_OPTIONAL, spdlog's definitions (by linking
# spdlog) and -pthread (_REENTRANT). A mismatch fails loudly (-Winvalid-pch with -Werror).
# -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON builds without it (and shows a missing #include).
# It also carries cmake/pch_include/skald_fmt_extern_templates.h: every file that logs calls
# libfmt's compiled formatter instead of compiling its own (engine.cc: 0.69x the CPU).
include_guard(GLOBAL)

add_library(skald_shell_pch OBJECT ${PROJECT_SOURCE_DIR}/cmake/precompiled_shell_headers.cc)
target_link_libraries(skald_shell_pch PRIVATE gRPC::grpc++ protobuf::libprotobuf PkgConfig::PQXX
                      nlohmann_json::nlohmann_json spdlog::spdlog absl::status absl::statusor
                      absl::time)
target_compile_definitions(skald_shell_pch PRIVATE ${SKALD_PQXX_DEFINES})
target_compile_options(skald_shell_pch PRIVATE ${SKALD_WARNINGS} -pthread)
# Found through an include directory rather than by its absolute path, so that the header's
# text is the same in every folder (a fresh clone's objects still hit ccache).
target_include_directories(skald_shell_pch SYSTEM PRIVATE ${PROJECT_SOURCE_DIR}/cmake/pch_include)
target_precompile_headers(skald_shell_pch PRIVATE
  <algorithm> <atomic> <chrono> <condition_variable> <cstdint> <deque> <fstream> <functional>
  <map> <memory> <mutex> <optional> <set> <sstream> <string> <string_view> <thread>
  <unordered_map> <utility> <variant> <vector>
  <absl/status/status.h> <absl/status/statusor.h> <absl/time/time.h>
  <nlohmann/json.hpp> <spdlog/spdlog.h> <skald_fmt_extern_templates.h>
  <google/protobuf/message.h> <grpcpp/grpcpp.h> <pqxx/pqxx>)

# Every target in DIR and below, into the list named by OUT.
function(skald_collect_targets dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(subdir IN LISTS subdirs)
    skald_collect_targets(${subdir} sub_targets)
    list(APPEND targets ${sub_targets})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

function(skald_use_shell_pch_everywhere)
  skald_collect_targets(${PROJECT_SOURCE_DIR} targets)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(NOT type MATCHES "^(STATIC_LIBRARY|EXECUTABLE|OBJECT_LIBRARY)$"
       OR target MATCHES "^(skald_core|skald_shell_pch|skald_test_pch|skald_test_shell_pch)$")
      continue()
    endif()
    get_target_property(reused ${target} PRECOMPILE_HEADERS_REUSE_FROM)
    get_target_property(own ${target} PRECOMPILE_HEADERS)
    get_target_property(options ${target} COMPILE_OPTIONS)
    if(reused OR own OR "-Og" IN_LIST options)
      continue()
    endif()
    target_link_libraries(${target} PRIVATE spdlog::spdlog)
    target_compile_definitions(${target} PRIVATE ${SKALD_PQXX_DEFINES})
    target_compile_options(${target} PRIVATE -pthread)
    # The header's text is the fallback if a compiler refuses the binary form: libpq's headers
    # must then be found.
    target_include_directories(${target} SYSTEM PRIVATE
      $<TARGET_PROPERTY:PkgConfig::PQXX,INTERFACE_INCLUDE_DIRECTORIES>
      ${PROJECT_SOURCE_DIR}/cmake/pch_include)
    target_precompile_headers(${target} REUSE_FROM skald_shell_pch)
  endforeach()
endfunction()
