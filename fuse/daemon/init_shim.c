// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The INIT-negotiation shim: our own read and write of /dev/fuse, installed
 * with fuse_session_custom_io(), that edits one message, the INIT reply.
 *
 * Why: files are opened with FOPEN_DIRECT_IO so that the daemon's cache is
 * the only cache for read() and write().  The kernel refuses a shared
 * mapping of such a file (ENODEV) unless the daemon accepted
 * FUSE_DIRECT_IO_ALLOW_MMAP at INIT (protocol 7.39, kernel 6.6+, bit 36 of
 * the INIT flags, i.e. bit 4 of flags2 under FUSE_INIT_EXT).  libfuse 3.14
 * predates the flag and never sets flags2, but it hands every /dev/fuse
 * read and write to a custom transport when one is installed, so we:
 *
 *   1. read: the INIT request is the first message on the connection; note
 *      its id and whether the kernel offered ALLOW_MMAP;
 *   2. writev: when the reply to that id goes out and is a success with a
 *      full-size fuse_init_out, set FUSE_INIT_EXT and the ALLOW_MMAP bit,
 *      but only if the kernel offered it.  Every other message passes
 *      through untouched.
 *
 * The shim sees each clone_fd channel's fd too: libfuse passes the fd of
 * the channel a thread reads from.  Nothing else can race with INIT: the
 * kernel queues every other request until INIT is answered.  Splice stays
 * off (we give no splice hooks and do not ask for FUSE_CAP_SPLICE_*), so
 * every message goes through these two functions.
 *
 * What the kernel then does for coherence, and what the daemon owes, is in
 * docs/design-notes.md ("Shared mmap of direct-I/O files").
 *
 * Threads: the FUSE request threads.
 */
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/fuse.h>
#include "ops.h"

#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP	(1ULL << 36)
#endif
#define ALLOW_MMAP_FLAGS2	((uint32_t)(FUSE_DIRECT_IO_ALLOW_MMAP >> 32))

/* The INIT reply is a header and a fuse_init_out: small, flat on our stack. */
#define INIT_REPLY_MAX	(sizeof(struct fuse_out_header) + sizeof(struct fuse_init_out))

static struct init_shim *shim_of(void *userdata)
{
	return &((struct iomapfs_daemon *)userdata)->shim;
}

/* Step 1: remember the INIT request and what it offered. */
static void shim_saw_request(struct init_shim *s, const void *buf, size_t len)
{
	const struct fuse_in_header *ih = buf;
	struct fuse_init_in in;

	if (len < sizeof(*ih) || ih->opcode != FUSE_INIT)
		return;
	memset(&in, 0, sizeof(in));
	memcpy(&in, (const char *)buf + sizeof(*ih),
	       min_t(size_t, len - sizeof(*ih), sizeof(in)));
	if ((in.flags & FUSE_INIT_EXT) && (in.flags2 & ALLOW_MMAP_FLAGS2))
		atomic_store(&s->kernel_allow_mmap, true);
	atomic_store(&s->init_unique, ih->unique);
}

static ssize_t shim_read(int fd, void *buf, size_t len, void *userdata)
{
	struct init_shim *s = shim_of(userdata);
	ssize_t n = read(fd, buf, len);

	if (n > 0 && !atomic_load(&s->done) && !atomic_load(&s->init_unique))
		shim_saw_request(s, buf, n);
	return n;
}

/* Is this message the successful, full-size reply to the INIT we saw? */
static bool is_init_reply(struct init_shim *s, const struct iovec *iov, int count,
			  size_t total)
{
	const struct fuse_out_header *oh = iov[0].iov_base;
	uint64_t unique = atomic_load(&s->init_unique);

	if (count < 1 || iov[0].iov_len < sizeof(*oh))
		return false;
	return oh->unique == unique && oh->error == 0 &&
	       total >= sizeof(*oh) + offsetof(struct fuse_init_out, flags2) +
			sizeof(uint32_t) && total <= INIT_REPLY_MAX;
}

/* Step 2: add ALLOW_MMAP to the INIT reply (a copy: iov is libfuse's). */
static ssize_t shim_send_init_reply(struct init_shim *s, int fd,
				    const struct iovec *iov, int count, size_t total)
{
	char msg[INIT_REPLY_MAX];
	struct fuse_init_out *out = (void *)(msg + sizeof(struct fuse_out_header));
	size_t pos = 0;

	for (int i = 0; i < count; i++) {
		memcpy(msg + pos, iov[i].iov_base, iov[i].iov_len);
		pos += iov[i].iov_len;
	}
	out->flags |= FUSE_INIT_EXT;
	out->flags2 |= ALLOW_MMAP_FLAGS2;
	atomic_store(&s->allow_mmap, true);
	atomic_store(&s->done, true);
	return write(fd, msg, total);
}

static ssize_t shim_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct init_shim *s = shim_of(userdata);
	size_t total = 0;

	if (!atomic_load(&s->done) && atomic_load(&s->init_unique)) {
		for (int i = 0; i < count; i++)
			total += iov[i].iov_len;
		if (is_init_reply(s, iov, count, total)) {
			if (atomic_load(&s->kernel_allow_mmap))
				return shim_send_init_reply(s, fd, iov, count, total);
			atomic_store(&s->done, true);
		}
	}
	return writev(fd, iov, count);
}

static const struct fuse_custom_io init_shim_io = {
	.read	= shim_read,
	.writev	= shim_writev,
};

int init_shim_install(struct fuse_session *se)
{
	int fd = fuse_session_fd(se);

	if (fd < 0)
		return -EBADF;
	return fuse_session_custom_io(se, &init_shim_io, fd);
}
