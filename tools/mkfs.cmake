# SPDX-License-Identifier: GPL-2.0-or-later
# mkfs.iomapfs: a thin main over meta_mkfs() (fuse/libfs/mkfs.c).
add_executable(mkfs.iomapfs mkfs.c progress.c)
target_link_libraries(mkfs.iomapfs PRIVATE iomapfs_libfs iomapfs_base)
