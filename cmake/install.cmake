# SPDX-License-Identifier: GPL-2.0-or-later
# Install like a filesystem package, and the Debian package (CPack).
#
#   /usr/sbin        iomapfs, mkfs.iomapfs, fsck.iomapfs: mount.fuse3 runs
#                    "iomapfs" for type fuse.iomapfs, mkfs -t and fsck -t
#                    run mkfs.TYPE and fsck.TYPE from there
#   /usr/bin         iomapfs-stat
#   /usr/libexec/iomapfs   the exercisers (fsx-lite, fsstress-lite, godown)
#   /usr/share/man   the man pages;  /usr/share/doc/iomapfs   the docs
#
# `cmake --install build` installs; `cpack --config build/CPackConfig.cmake`
# builds iomapfs_VERSION_ARCH.deb, whose Depends are fuse3 (mount.fuse3,
# fusermount3) plus what dpkg-shlibdeps finds the programs linked against.

# Installing and packaging take the build as it is (build first): checking
# every target again made cpack take minutes on a loaded machine.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

install(TARGETS iomapfs mkfs.iomapfs fsck.iomapfs
        RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(TARGETS iomapfs-stat RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS fsx-lite fsstress-lite godown
        RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/iomapfs)
install(FILES man/iomapfs.8 man/mkfs.iomapfs.8 man/fsck.iomapfs.8
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES man/iomapfs-stat.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES README.md docs/design.md docs/on-disk-format.md docs/crash-model.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME iomapfs)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "iomapfs maintainers <iomapfs@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "FUSE filesystem for raw block devices with a private page cache")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "iomapfs formats and mounts a block device or image file with its own\n on-disk format, journal and page cache inside a FUSE daemon.\n Includes mkfs.iomapfs, fsck.iomapfs and iomapfs-stat.")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_DEPENDS fuse3)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
