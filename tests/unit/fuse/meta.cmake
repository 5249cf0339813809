# SPDX-License-Identifier: GPL-2.0-or-later
# One Check suite per tests/unit/fuse/test_meta_*.c, linked with iomapfs_meta.
# test_meta_fixture.c is the shared fixture each suite #includes, not a suite.
file(GLOB _meta_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test_meta*.c)
list(FILTER _meta_tests EXCLUDE REGEX "test_meta_fixture\\.c$")
foreach(_t IN LISTS _meta_tests)
  iomapfs_add_unit_test(${_t} iomapfs_meta)
  get_filename_component(_name ${_t} NAME_WE)
  # The super suite runs the real mkfs.iomapfs for its exit codes.
  target_compile_definitions(${_name} PRIVATE MKFS_BIN="$<TARGET_FILE:mkfs.iomapfs>")
  add_dependencies(${_name} mkfs.iomapfs)
endforeach()
