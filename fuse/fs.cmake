# SPDX-License-Identifier: GPL-2.0-or-later
# iomapfs_fs: the filesystem objects.  Two lists because two people own them:
# the data side (inodes, extent maps, file data, mount) and the namespace
# side (directories, names, xattrs, fsck).  Files not yet written are skipped.
set(FS_DATA_SOURCES inode.c extent.c file.c falloc.c mount.c)
set(FS_NS_SOURCES dir.c namei.c xattr.c fsck.c fsck_check.c)
set(_fs_srcs)
foreach(_f IN LISTS FS_DATA_SOURCES FS_NS_SOURCES)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${_f})
    list(APPEND _fs_srcs ${_f})
  endif()
endforeach()
if(_fs_srcs)
  add_library(iomapfs_fs STATIC ${_fs_srcs})
  target_link_libraries(iomapfs_fs PUBLIC iomapfs_meta iomapfs_cache iomapfs_base)
endif()
