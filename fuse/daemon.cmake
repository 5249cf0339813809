# SPDX-License-Identifier: GPL-2.0-or-later
# iomapfs: the FUSE daemon.  Its own code builds as an object library, so it
# compiles before the filesystem library it links exists; the executable
# appears once iomapfs_fs does.
set(DAEMON_SOURCES ops.c ops_xattr.c ops_ioctl.c acl.c options.c main.c)
set(_daemon_srcs)
foreach(_f IN LISTS DAEMON_SOURCES)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${_f})
    list(APPEND _daemon_srcs ${_f})
  endif()
endforeach()
if(_daemon_srcs)
  add_library(iomapfs_daemon_obj OBJECT ${_daemon_srcs})
  target_include_directories(iomapfs_daemon_obj PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(iomapfs_daemon_obj PRIVATE iomapfs_base PkgConfig::FUSE3)
  if(TARGET iomapfs_fs)
    add_executable(iomapfs $<TARGET_OBJECTS:iomapfs_daemon_obj>)
    target_link_libraries(iomapfs PRIVATE iomapfs_fs iomapfs_base PkgConfig::FUSE3)
  endif()
endif()
