# SPDX-License-Identifier: GPL-2.0-or-later
# One Check suite per tests/unit/fuse/test_fs_*.c, linked with iomapfs_fs.
file(GLOB _fs_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test_fs_*.c)
foreach(_t IN LISTS _fs_tests)
  get_filename_component(_name ${_t} NAME_WE)
  add_executable(${_name} ${_t})
  target_link_libraries(${_name} PRIVATE iomapfs_fs iomapfs_unit)
  add_test(NAME ${_name} COMMAND ${_name})
  set_tests_properties(${_name} PROPERTIES LABELS unit TIMEOUT 300)
endforeach()
