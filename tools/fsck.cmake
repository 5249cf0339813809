# SPDX-License-Identifier: GPL-2.0-or-later
# fsck.iomapfs: a thin main over fs_fsck() (fuse/fsck/).
add_executable(fsck.iomapfs ${CMAKE_CURRENT_SOURCE_DIR}/fsck.c
               ${CMAKE_CURRENT_SOURCE_DIR}/progress.c)
target_link_libraries(fsck.iomapfs PRIVATE iomapfs_fsck iomapfs_base)
