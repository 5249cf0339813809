# SPDX-License-Identifier: GPL-2.0-or-later
# One Check suite per tests/unit/fuse/test_fs_*.c, linked with iomapfs_fs.
file(GLOB _fs_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test_fs_*.c)
foreach(_t IN LISTS _fs_tests)
  iomapfs_add_unit_test(${_t} iomapfs_fs)
endforeach()
