// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Whole-buffer file I/O for the places that use plain pread/pwrite rather
 * than the block layer: the write log's file (iouring/log-writes.c) and
 * iomapfs-replay's log and image.  pread and pwrite may transfer less than
 * asked (a signal, a filesystem's own limit); every caller wants all of it
 * or an error, so the retry loop lives here once.
 */
#include <iomapfs/common.h>

#include <errno.h>
#include <unistd.h>

/*
 * One loop for both directions.  A transfer of 0 bytes is end of file for
 * a read and "no progress" for a write: either way the buffer cannot be
 * completed, which the caller sees as -EIO rather than an endless loop.
 */
static int full_io(int fd, char *p, size_t len, uint64_t off, bool write)
{
	while (len) {
		ssize_t n = write ? pwrite(fd, p, len, (off_t)off) :
				    pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

int full_pread(int fd, void *buf, size_t len, uint64_t off)
{
	return full_io(fd, buf, len, off, false);
}

int full_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	return full_io(fd, (char *)buf, len, off, true);
}
