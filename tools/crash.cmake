# SPDX-License-Identifier: GPL-2.0-or-later
# Crash testing: iomapfs-replay rebuilds an image from a write log
# (-o log_writes); tools/crashcheck.py drives it.  The replay tool reads
# the log layout from include/iomapfs/bio.h and links only the runtime
# helpers (full_pread/full_pwrite).
add_executable(iomapfs-replay ${CMAKE_CURRENT_SOURCE_DIR}/replay.c)
target_link_libraries(iomapfs-replay PRIVATE iomapfs_util)

# iomapfs-crashstate checks crash states in-process (mount, walk, fsck
# through the shared libraries over an in-memory device); libcrypto gives
# it the SHA-256 that crashcheck.py's oracle records.
pkg_check_modules(LIBCRYPTO REQUIRED IMPORTED_TARGET libcrypto)
add_executable(iomapfs-crashstate ${CMAKE_CURRENT_SOURCE_DIR}/crashstate.c)
target_link_libraries(iomapfs-crashstate PRIVATE iomapfs_fsck iomapfs_fs PkgConfig::LIBCRYPTO)
