# Debian packages with CPack: `cpack -G DEB` in the build directory (after building meshkv-server
# and meshkv) writes two packages to <build>/packages/:
#   meshkv-server_<version>-1_<arch>.deb  the server, its systemd unit, /etc/default/meshkv (a
#                                         conffile), meshkv-certs, and a postinst that creates
#                                         the `meshkv` system user
#   meshkv_<version>-1_<arch>.deb         the command-line client
# Library dependencies come from dpkg-shlibdeps (dpkg-dev), so the packages install on the
# Debian release they were built on (bookworm here). tests/package installs and starts them.
include(GNUInstallDirs)

set(MESHKV_DEBIAN_DIR ${PROJECT_SOURCE_DIR}/deploy/debian)

# The server package. Absolute destinations on purpose: Debian's places, whatever the prefix.
install(TARGETS meshkv-server RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT meshkv-server)
install(PROGRAMS ${PROJECT_SOURCE_DIR}/scripts/certs.sh DESTINATION ${CMAKE_INSTALL_BINDIR}
  RENAME meshkv-certs COMPONENT meshkv-server)
install(FILES ${MESHKV_DEBIAN_DIR}/meshkv-server.service DESTINATION /lib/systemd/system
  COMPONENT meshkv-server)
install(FILES ${MESHKV_DEBIAN_DIR}/meshkv.default DESTINATION /etc/default RENAME meshkv
  COMPONENT meshkv-server)

# The client package.
install(TARGETS meshkv RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT meshkv)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME meshkv)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "meshkv maintainers <meshkv@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_OUTPUT_FILE_PREFIX ${PROJECT_BINARY_DIR}/packages)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_COMPONENTS_ALL meshkv-server meshkv)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

set(CPACK_DEBIAN_MESHKV-SERVER_PACKAGE_NAME meshkv-server)
# adduser: the postinst; openssl: meshkv-certs.
set(CPACK_DEBIAN_MESHKV-SERVER_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_MESHKV-SERVER_PACKAGE_RECOMMENDS "openssl, meshkv (= ${PROJECT_VERSION}-1)")
# The first line of each description is the package's summary (Debian policy); no
# CPACK_PACKAGE_DESCRIPTION_SUMMARY, which CPack would put before it.
set(CPACK_DEBIAN_MESHKV-SERVER_DESCRIPTION "meshkv replicated key-value server
Every node holds the whole dictionary in memory, serves the gRPC KeyValue API and
replicates writes to every other node over a mutual-TLS mesh. Runs under systemd as
meshkv-server.service, configured in /etc/default/meshkv.")
set(CPACK_DEBIAN_MESHKV-SERVER_PACKAGE_CONTROL_EXTRA
  ${MESHKV_DEBIAN_DIR}/control/postinst
  ${MESHKV_DEBIAN_DIR}/control/prerm
  ${MESHKV_DEBIAN_DIR}/control/postrm
  ${MESHKV_DEBIAN_DIR}/control/conffiles)

set(CPACK_DEBIAN_MESHKV_PACKAGE_NAME meshkv)
set(CPACK_DEBIAN_MESHKV_DESCRIPTION "meshkv command-line client
The meshkv command: get, set, delete, list and watch keys of a meshkv cluster over gRPC.")

include(CPack)
