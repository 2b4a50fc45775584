# Unity builds: the C++ files of a target are compiled in batches of SKALD_UNITY_BATCH_SIZE,
# one translation unit per batch. Every file of a target includes much the same gRPC,
# protobuf, libpqxx, nlohmann/json and GoogleTest headers and instantiates much the same
# templates; in a batch they are parsed, instantiated, optimised and written into the
# object file once instead of once per file (docs/decisions.md; README's build table).
#
# skald_use_unity_builds_everywhere() turns it on, last in the top-level CMakeLists, for
# every library and program with two C++ files or more (a target of one file gains nothing,
# and its own file on the command line keeps its object cacheable across folders without
# a preprocessor run). A batch of about eight files keeps a one-file change cheap: it
# recompiles its batch, not the target.
#
# A file whose private names clash with another's in its batch is a name to fix (say what
# each helper is for); SKIP_UNITY_BUILD_INCLUSION on a source keeps it alone, for a file
# that must be. -DSKALD_UNITY_BUILD=OFF compiles each file alone, which is also the check
# that every file includes what it uses (CI's job with precompiled headers off as well).
include_guard(GLOBAL)

option(SKALD_UNITY_BUILD "Compile each target's files in batches (unity build)" ON)
# CI builds from nothing every time and never rebuilds after a small change: there, a
# target's files are one translation unit (0: no limit), which compiles the templates they
# share once per target instead of once per batch. Elsewhere, batches of eight keep a
# one-file change to its batch. Decided when the build folder is configured first.
if("$ENV{CI}" MATCHES "^(1|[Tt][Rr][Uu][Ee]|[Yy][Ee][Ss])$")
  set(skald_default_unity_batch_size 0)
else()
  set(skald_default_unity_batch_size 8)
endif()
set(SKALD_UNITY_BATCH_SIZE ${skald_default_unity_batch_size} CACHE STRING
    "Files per translation unit in a unity build (0: a target's files all in one)")

function(skald_use_unity_builds_everywhere)
  if(NOT SKALD_UNITY_BUILD)
    return()
  endif()
  skald_collect_targets(${PROJECT_SOURCE_DIR} targets)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(NOT type MATCHES "^(STATIC_LIBRARY|EXECUTABLE|OBJECT_LIBRARY)$")
      continue()
    endif()
    get_target_property(sources ${target} SOURCES)
    list(FILTER sources INCLUDE REGEX "\\.(cc|cpp|cxx)$")
    # protoc's files define the same file-level statics (schemas, file_default_instances):
    # each stays a translation unit of its own.
    set(generated_protos ${sources})
    list(FILTER generated_protos INCLUDE REGEX "\\.pb\\.cc$")
    list(FILTER sources EXCLUDE REGEX "\\.pb\\.cc$")
    if(generated_protos)
      set_property(SOURCE ${generated_protos} TARGET_DIRECTORY ${target}
                   PROPERTY SKIP_UNITY_BUILD_INCLUSION ON)
    endif()
    list(LENGTH sources count)
    if(count LESS 2)
      continue()
    endif()
    set_target_properties(${target} PROPERTIES UNITY_BUILD ON
                          UNITY_BUILD_BATCH_SIZE ${SKALD_UNITY_BATCH_SIZE})
    # GCC warns when a class defined outside the main file has a member of a type from an
    # anonymous namespace (an ODR hazard in a real header). In a batch every .cc is "outside
    # the main file", so a .cc's own Impl holding its own private type would be refused; the
    # build without unity keeps the warning for headers.
    target_compile_options(${target} PRIVATE -Wno-subobject-linkage)
  endforeach()
endfunction()
