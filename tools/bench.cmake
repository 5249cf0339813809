# SPDX-License-Identifier: GPL-2.0-or-later
# Benchmark references, built but not installed.
# nullfs: a FUSE daemon serving one file from memory, the floor of
# tools/fsbench.sh for anything answered through FUSE.
add_executable(nullfs ${CMAKE_CURRENT_SOURCE_DIR}/nullfs.c)
target_link_libraries(nullfs PRIVATE PkgConfig::FUSE3)
# nullmeta: a FUSE daemon with a namespace in memory, the floor of
# tools/metabench.sh for names (create, stat, unlink) through FUSE.
add_executable(nullmeta ${CMAKE_CURRENT_SOURCE_DIR}/nullmeta.c)
target_link_libraries(nullmeta PRIVATE PkgConfig::FUSE3 Threads::Threads)
