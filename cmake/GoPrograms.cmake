# Go programs built on the Go participant SDK (participant-sdk/go), for examples and tests
# that need them as binaries next to the C++ ones. Built offline in GOPATH mode against
# Debian's Go packages in /usr/share/gocode, like scripts/test-go.sh, but without writing into
# the source tree: the GOPATH lives in the build directory, its packages are symlinks to the
# sources, and the SDK's generated skald.v1 code is generated there.
#
#   skald_add_go_program(<target> PACKAGE <import path below the repository>
#                        SOURCE_DIR <dir of the package's .go files>)
# adds target <target> (built with ALL) producing ${CMAKE_CURRENT_BINARY_DIR}/go-bin/<target>;
# $<TARGET_PROPERTY:<target>,SKALD_GO_BINARY> is its path. Nothing is added when Go is
# missing (SKALD_GO_FOUND is then false; callers skip their tests).
#
# Every including directory gets the variables (they are directory-scoped); the GOPATH, the
# generation of skald.v1 and the function are set up by the first inclusion only.

find_program(SKALD_GO_EXECUTABLE go)
find_program(SKALD_PROTOC_GEN_GO protoc-gen-go)
find_program(SKALD_PROTOC_GEN_GO_GRPC protoc-gen-go-grpc)
if(SKALD_GO_EXECUTABLE AND SKALD_PROTOC_GEN_GO AND SKALD_PROTOC_GEN_GO_GRPC
   AND EXISTS /usr/share/gocode/src/google.golang.org/grpc)
  set(SKALD_GO_FOUND TRUE)
else()
  set(SKALD_GO_FOUND FALSE)
  message(STATUS "Go programs skipped: go, protoc-gen-go(-grpc) or Debian's grpc-go missing "
                 "(scripts/install-deps.sh installs them)")
  return()
endif()

set(SKALD_GO_IMPORT_ROOT github.com/skald-saga/skald)
set(SKALD_GOPATH ${CMAKE_BINARY_DIR}/gopath)
set(SKALD_GOPATH_ROOT ${SKALD_GOPATH}/src/${SKALD_GO_IMPORT_ROOT})
set(SKALD_GO_PB_DIR ${SKALD_GOPATH_ROOT}/participant-sdk/go/internal/skaldv1)
set(SKALD_GO_PB_PACKAGE ${SKALD_GO_IMPORT_ROOT}/participant-sdk/go/internal/skaldv1)
set(SKALD_GO_PB_MAP
    "Mskald/v1/participant.proto=${SKALD_GO_PB_PACKAGE},Mskald/v1/registry.proto=${SKALD_GO_PB_PACKAGE},Mskald/v1/saga_service.proto=${SKALD_GO_PB_PACKAGE}")
set(SKALD_GO_PB_FILES
    ${SKALD_GO_PB_DIR}/participant.pb.go ${SKALD_GO_PB_DIR}/participant_grpc.pb.go
    ${SKALD_GO_PB_DIR}/registry.pb.go ${SKALD_GO_PB_DIR}/registry_grpc.pb.go
    ${SKALD_GO_PB_DIR}/saga_service.pb.go ${SKALD_GO_PB_DIR}/saga_service_grpc.pb.go)
include_guard(GLOBAL)

file(MAKE_DIRECTORY ${SKALD_GO_PB_DIR})
# The SDK's own sources, linked in; its internal/skaldv1 is a real directory holding the
# generated code.
foreach(part skald cmd)
  file(CREATE_LINK ${PROJECT_SOURCE_DIR}/participant-sdk/go/${part}
       ${SKALD_GOPATH_ROOT}/participant-sdk/go/${part} SYMBOLIC)
endforeach()
add_custom_command(
  OUTPUT ${SKALD_GO_PB_FILES}
  COMMAND protobuf::protoc -I ${PROJECT_SOURCE_DIR}/proto
          --go_out=${SKALD_GO_PB_DIR} "--go_opt=module=${SKALD_GO_PB_PACKAGE},${SKALD_GO_PB_MAP}"
          --go-grpc_out=${SKALD_GO_PB_DIR}
          "--go-grpc_opt=module=${SKALD_GO_PB_PACKAGE},${SKALD_GO_PB_MAP}"
          skald/v1/participant.proto skald/v1/registry.proto skald/v1/saga_service.proto
  DEPENDS ${PROJECT_SOURCE_DIR}/proto/skald/v1/participant.proto
          ${PROJECT_SOURCE_DIR}/proto/skald/v1/registry.proto
          ${PROJECT_SOURCE_DIR}/proto/skald/v1/saga_service.proto
  COMMENT "Generating skald.v1 Go code (build-tree GOPATH)")
add_custom_target(skald_go_proto DEPENDS ${SKALD_GO_PB_FILES})

function(skald_add_go_program target)
  cmake_parse_arguments(GO "" "PACKAGE;SOURCE_DIR" "" ${ARGN})
  # The SDK's own commands are reached through its linked cmd/ folder.
  if(NOT GO_PACKAGE MATCHES "^participant-sdk/go/")
    get_filename_component(link_parent ${SKALD_GOPATH_ROOT}/${GO_PACKAGE} DIRECTORY)
    file(MAKE_DIRECTORY ${link_parent})
    file(CREATE_LINK ${GO_SOURCE_DIR} ${SKALD_GOPATH_ROOT}/${GO_PACKAGE} SYMBOLIC)
  endif()
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${GO_SOURCE_DIR}/*.go
       ${PROJECT_SOURCE_DIR}/participant-sdk/go/skald/*.go)
  set(binary ${CMAKE_CURRENT_BINARY_DIR}/go-bin/${target})
  add_custom_command(
    OUTPUT ${binary}
    COMMAND ${CMAKE_COMMAND} -E env GO111MODULE=off
            GOPATH=${SKALD_GOPATH}:/usr/share/gocode GOFLAGS=
            ${SKALD_GO_EXECUTABLE} build -o ${binary} ${SKALD_GO_IMPORT_ROOT}/${GO_PACKAGE}
    DEPENDS ${sources} ${SKALD_GO_PB_FILES}
    COMMENT "Building Go program ${target} (GOPATH mode)"
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${binary})
  add_dependencies(${target} skald_go_proto)
  set_target_properties(${target} PROPERTIES SKALD_GO_BINARY ${binary})
endfunction()
