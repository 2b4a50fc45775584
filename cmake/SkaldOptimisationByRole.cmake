# Optimisation by role. The build type's -O2 stays for what runs the coordinator's and a
# participant's hot path: the coordinator's libraries (coordinator/*, but the CLI), the SDK,
# tls/, proto/, and what measures them (bench/, outbox-bench, and the simulator's store and
# scheduler: its seeded runs per minute are a reported figure). Code that only drives, starts
# or checks them -- the CLI's subcommands and `main`, the examples, the tests' helper
# libraries and programs -- is compiled at -Og, like test code (cmake/SkaldTest.cmake):
# about a third less compile time per file than -O2 (code generation at -O2 is most of a
# file's cost; test_participant.cc 13.7 -> 11.2 CPU-s against -O1), and nothing that changes
# a measured figure.
#
# -Og and -O2 agree on what a precompiled header depends on (__OPTIMIZE__, no __NO_INLINE__),
# so these targets keep the shell's header (-O0 would not). -DSKALD_TOOLS_OPTIMISATION=-O2
# builds everything at the build type's level.
include_guard(GLOBAL)

set(SKALD_TOOLS_OPTIMISATION "-Og" CACHE STRING
    "Optimisation of the CLI, examples and test helpers (not the coordinator's libraries)")

function(skald_optimise_by_role)
  if(NOT CMAKE_BUILD_TYPE MATCHES "^(RelWithDebInfo|Release)$")
    return()
  endif()
  set(targets skald_cli skald)
  foreach(dir examples tests)
    if(IS_DIRECTORY ${PROJECT_SOURCE_DIR}/${dir})
      get_property(known DIRECTORY ${PROJECT_SOURCE_DIR} PROPERTY SUBDIRECTORIES)
      if(${PROJECT_SOURCE_DIR}/${dir} IN_LIST known)
        skald_collect_targets(${PROJECT_SOURCE_DIR}/${dir} found)
        list(APPEND targets ${found})
      endif()
    endif()
  endforeach()
  foreach(target IN LISTS targets)
    if(NOT TARGET ${target})
      continue()
    endif()
    get_target_property(type ${target} TYPE)
    if(NOT type MATCHES "^(STATIC_LIBRARY|EXECUTABLE|OBJECT_LIBRARY)$"
       OR target MATCHES "bench|_pch$|^skald_sim")
      continue()
    endif()
    get_target_property(options ${target} COMPILE_OPTIONS)
    if("-Og" IN_LIST options)
      continue()
    endif()
    target_compile_options(${target} PRIVATE ${SKALD_TOOLS_OPTIMISATION})
  endforeach()
endfunction()
