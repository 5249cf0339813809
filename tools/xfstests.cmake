# SPDX-License-Identifier: GPL-2.0-or-later
# The xfstests-lite exercisers: plain C programs with no project libraries,
# built into build/bin where tests/common finds them ($FSX_PROG,
# $FSSTRESS_PROG, $GODOWN_PROG).
#   fsx-lite       random file I/O against an in-memory shadow copy
#   fsstress-lite  N processes of random namespace and data operations
#   godown         FS_IOC_SHUTDOWN on a mounted filesystem
#   fhandle        file handles (name_to_handle_at, open_by_handle_at)
add_executable(fsx-lite ${CMAKE_CURRENT_SOURCE_DIR}/fsx.c)
target_link_libraries(fsx-lite PRIVATE iomapfs_base)

add_executable(fsstress-lite ${CMAKE_CURRENT_SOURCE_DIR}/fsstress.c)
target_link_libraries(fsstress-lite PRIVATE iomapfs_base)

add_executable(godown ${CMAKE_CURRENT_SOURCE_DIR}/godown.c)
target_link_libraries(godown PRIVATE iomapfs_base)

# metabench: metadata rates on any mounted filesystem (tools/metabench.sh).
add_executable(metabench ${CMAKE_CURRENT_SOURCE_DIR}/metabench.c)
target_link_libraries(metabench PRIVATE iomapfs_base)

# fhandle: name_to_handle_at/open_by_handle_at from the shell ($FHANDLE_PROG)
add_executable(fhandle ${CMAKE_CURRENT_SOURCE_DIR}/fhandle.c)
