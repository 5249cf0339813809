# SPDX-License-Identifier: GPL-2.0-or-later
# iomapfs-stat: reads the counters from a mounted iomapfs (an xattr), so it
# links nothing of the filesystem itself.
add_executable(iomapfs-stat ${CMAKE_CURRENT_SOURCE_DIR}/stat.c)
target_link_libraries(iomapfs-stat PRIVATE iomapfs_base)
