# SPDX-License-Identifier: GPL-2.0-or-later
# Crash testing: iomapfs-replay rebuilds an image from a write log
# (-o log_writes); tools/crashcheck.py drives it.  The replay tool reads
# the log layout from include/iomapfs/bio.h and links only the runtime
# helpers (full_pread/full_pwrite).
add_executable(iomapfs-replay ${CMAKE_CURRENT_SOURCE_DIR}/replay.c)
target_link_libraries(iomapfs-replay PRIVATE iomapfs_util)
