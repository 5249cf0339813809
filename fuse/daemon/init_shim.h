/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The INIT-negotiation shim (init_shim.c): a custom /dev/fuse transport
 * that lets the daemon accept FUSE INIT flags newer than libfuse 3.14
 * knows.  Today that is FUSE_DIRECT_IO_ALLOW_MMAP (protocol 7.39, kernel
 * 6.6+): shared writable mmap of files opened with FOPEN_DIRECT_IO.
 */
#ifndef IOMAPFS_INIT_SHIM_H
#define IOMAPFS_INIT_SHIM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct fuse_session;

/* Per session; lives in struct iomapfs_daemon (the session's userdata). */
struct init_shim {
	_Atomic uint64_t init_unique;	/* the INIT request's id, once read */
	_Atomic bool	done;		/* INIT answered: pass everything through */
	_Atomic bool	kernel_allow_mmap;	/* the kernel offered ALLOW_MMAP */
	_Atomic bool	allow_mmap;		/* ...and our INIT reply accepted it */
};

/*
 * Route the mounted session's /dev/fuse reads and writes through the shim.
 * Call after fuse_session_mount() and before the session loop; the
 * session's userdata must be the struct iomapfs_daemon holding @shim.
 * Returns 0 or -errno.
 */
int init_shim_install(struct fuse_session *se);

#endif /* IOMAPFS_INIT_SHIM_H */
