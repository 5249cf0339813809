# SPDX-License-Identifier: GPL-2.0-or-later
# iomapfs_meta: the metadata engine (meta.h): checksums, the metadata buffer
# cache, the journal, the B+tree, the allocator, superblock and mkfs.
add_library(iomapfs_meta STATIC
  crc32c.c buf.c journal.c journal_replay.c btree.c btree_check.c alloc.c super.c mkfs.c)
target_include_directories(iomapfs_meta PUBLIC ${CMAKE_SOURCE_DIR}/fuse)
target_link_libraries(iomapfs_meta PUBLIC iomapfs_blk iomapfs_base)
