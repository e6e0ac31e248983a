# `cmake --install` and `cpack -G DEB` (make package): the server, its man
# page, the systemd unit, the example /etc/default/orderd and the Debian
# doc files. Included from the top CMakeLists.txt after the orderd target.
include(GNUInstallDirs)

# Where the unit goes: systemd's own unit directory (/lib/systemd/system on
# Debian 12), from systemd.pc when it is there. It is absolute on purpose:
# systemd reads no unit below /usr/local. The unit starts /usr/bin/orderd,
# the path of the .deb: install with --prefix /usr to use it as it is.
pkg_get_variable(ORDERD_SYSTEMD_UNITDIR_FOUND systemd systemdsystemunitdir)
if(NOT ORDERD_SYSTEMD_UNITDIR_FOUND)
  set(ORDERD_SYSTEMD_UNITDIR_FOUND /lib/systemd/system)
endif()
set(ORDERD_SYSTEMD_UNITDIR "${ORDERD_SYSTEMD_UNITDIR_FOUND}" CACHE PATH "Directory for orderd.service")
# The unit's EnvironmentFile: absolute, /etc even for a /usr install
set(ORDERD_DEFAULTS_DIR /etc/default CACHE PATH "Directory for the example environment file 'orderd'")

set(ORDERD_DOCDIR ${CMAKE_INSTALL_DATADIR}/doc/orderd)
set(pkg ${PROJECT_BINARY_DIR}/package)

# Man pages and the Debian changelog are installed gzip -9n (no name, no
# time stamp), as Debian policy 12.3 and lintian want them.
find_program(GZIP_EXECUTABLE gzip REQUIRED)
# The package's version is the changelog's newest entry: they must agree.
file(STRINGS docs/deploy/changelog changelog_top LIMIT_COUNT 1)
if(NOT changelog_top MATCHES "^orderd \\(${PROJECT_VERSION}\\) ")
  message(FATAL_ERROR "docs/deploy/changelog starts with '${changelog_top}': "
    "add an entry for orderd ${PROJECT_VERSION} (the project() version)")
endif()
foreach(src docs/orderd.8 docs/deploy/changelog)
  get_filename_component(f ${src} NAME)
  add_custom_command(OUTPUT ${pkg}/${f}.gz
    COMMAND ${GZIP_EXECUTABLE} -9n -c ${PROJECT_SOURCE_DIR}/${src} > ${pkg}/${f}.gz
    DEPENDS ${PROJECT_SOURCE_DIR}/${src} VERBATIM)
  list(APPEND ORDERD_GZIPPED ${pkg}/${f}.gz)
endforeach()
add_custom_target(orderd_gzipped ALL DEPENDS ${ORDERD_GZIPPED})

# /usr/share/doc/orderd/copyright in the machine-readable format, made
# from LICENSE so that the licence text lives in one file.
file(READ ${PROJECT_SOURCE_DIR}/LICENSE license)
string(REGEX REPLACE "^MIT License\n\nCopyright \\(c\\) ([^\n]*)\n\n" "" license_body "${license}")
set(license_holder "${CMAKE_MATCH_1}")
string(REGEX REPLACE "\n$" "" license_body "${license_body}")
string(REPLACE "\n\n" "\n.\n" license_body "${license_body}")
string(REPLACE "\n" "\n " license_body "${license_body}")
configure_file(cmake/copyright.in ${pkg}/copyright @ONLY)

install(TARGETS orderd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${pkg}/orderd.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES docs/deploy/orderd.service DESTINATION ${ORDERD_SYSTEMD_UNITDIR})
install(FILES docs/deploy/orderd.default DESTINATION ${ORDERD_DEFAULTS_DIR} RENAME orderd)
install(FILES ${pkg}/copyright ${pkg}/changelog.gz README.md docs/openapi.yaml DESTINATION ${ORDERD_DOCDIR})

# The .deb: /usr/bin/orderd, libraries found by dpkg-shlibdeps.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME orderd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "orderd maintainers <orderd@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "order-management REST server with a write-ahead journal")
set(CPACK_PACKAGE_DESCRIPTION "orderd serves an HTTP/1.1 and HTTP/2 JSON API that creates, reads,
lists and cancels orders, with an operator API for fulfilment. Every change
goes to a write-ahead journal with group commit before it is answered, so
acknowledged orders survive crashes. It comes with a sandboxed systemd unit
(Type=notify, DynamicUser, StateDirectory /var/lib/orderd).")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
# dpkg marks files under /etc that the admin edits; an upgrade keeps them
file(WRITE ${pkg}/conffiles "${ORDERD_DEFAULTS_DIR}/orderd\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${pkg}/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
