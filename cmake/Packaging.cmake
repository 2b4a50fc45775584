# The Debian package (scripts/package.sh): `skald` (the migrations are compiled in), the
# hardened systemd unit, /etc/skald/skald.conf, a `skald` system user made in postinst, and
# the docs; built by CPack's DEB generator, its library dependencies found by dpkg-shlibdeps.
# Also `skald --version`: the version below and the git commit, from one generated file.

set(SKALD_VERSION "0.18.0" CACHE STRING "The version `skald --version` prints and packages carry")

# The commit, checked at every build (a new commit rewrites one small .cc, nothing else).
set(SKALD_BUILD_INFO_CC ${CMAKE_BINARY_DIR}/generated/build_info.cc)
add_custom_target(skald_build_info_source
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DVERSION=${SKALD_VERSION}
          -DOUT=${SKALD_BUILD_INFO_CC} -P ${PROJECT_SOURCE_DIR}/cmake/BuildInfo.cmake
  BYPRODUCTS ${SKALD_BUILD_INFO_CC}
  COMMENT "Checking the git commit for skald --version")
add_library(skald_build_info STATIC ${SKALD_BUILD_INFO_CC})
add_dependencies(skald_build_info skald_build_info_source)
target_include_directories(skald_build_info PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_options(skald_build_info PRIVATE ${SKALD_WARNINGS})

install(TARGETS skald RUNTIME DESTINATION bin COMPONENT skald)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/skald.service
        DESTINATION /lib/systemd/system COMPONENT skald)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/skald.conf
        DESTINATION /etc/skald COMPONENT skald)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/operations.md
              ${PROJECT_SOURCE_DIR}/docs/definitions.md ${PROJECT_SOURCE_DIR}/docs/tls.md
              ${PROJECT_SOURCE_DIR}/docs/security.md
        DESTINATION share/doc/skald COMPONENT skald)
install(FILES ${PROJECT_SOURCE_DIR}/examples/order-saga/order-saga.json
        DESTINATION share/doc/skald/examples COMPONENT skald)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME skald)
set(CPACK_PACKAGE_VERSION ${SKALD_VERSION})
set(CPACK_PACKAGE_CONTACT "Skald maintainers <skald@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Saga coordinator for distributed transactions")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL OFF)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # skald_<version>_amd64.deb
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE amd64)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql (>= 15)")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
    ${PROJECT_SOURCE_DIR}/packaging/debian/postrm
    ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
