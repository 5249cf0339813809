# SPDX-License-Identifier: GPL-2.0-or-later
# fsck.iomapfs: a thin main over fs_fsck() in iomapfs_fs (fuse/fsck.c).
# Built once the libraries it needs exist (layers land independently).
if(TARGET iomapfs_fs AND TARGET iomapfs_meta AND TARGET iomapfs_cache
   AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/fsck.c)
  add_executable(fsck.iomapfs ${CMAKE_CURRENT_SOURCE_DIR}/fsck.c)
  target_include_directories(fsck.iomapfs PRIVATE ${CMAKE_SOURCE_DIR}/fuse)
  target_link_libraries(fsck.iomapfs PRIVATE iomapfs_fs iomapfs_base)
endif()
