// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * godown: shut a mounted filesystem down with FS_IOC_SHUTDOWN, as the
 * fstests tool of the same name does, so that tests can simulate a crash
 * after an fsync and check what survived.
 *
 *   godown [-f] [-v] PATH
 *
 * PATH is any file or directory on the filesystem (usually the mount
 * point).  By default the filesystem goes down without flushing its log
 * (FS_SHUTDOWN_FLAGS_NOLOGFLUSH): whatever was not made durable by fsync
 * may be lost.  -f flushes the log first (FS_SHUTDOWN_FLAGS_LOGFLUSH).
 * Exits 0 on success, 1 with the error printed otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/fs.h>

/* Older uapi headers lack these; the values are the kernel's (XFS origin). */
#ifndef FS_IOC_SHUTDOWN
#define FS_IOC_SHUTDOWN			_IOR('X', 125, uint32_t)
#endif
#ifndef FS_SHUTDOWN_FLAGS_LOGFLUSH
#define FS_SHUTDOWN_FLAGS_DEFAULT	0x0
#define FS_SHUTDOWN_FLAGS_LOGFLUSH	0x1
#define FS_SHUTDOWN_FLAGS_NOLOGFLUSH	0x2
#endif

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-f] [-v] PATH\n"
		"  -f  flush the log before going down (LOGFLUSH)\n"
		"  -v  say what is being done\n", prog);
}

int main(int argc, char **argv)
{
	uint32_t flag = FS_SHUTDOWN_FLAGS_NOLOGFLUSH;
	int verbose = 0, c, fd;

	while ((c = getopt(argc, argv, "fvh")) != -1) {
		switch (c) {
		case 'f':
			flag = FS_SHUTDOWN_FLAGS_LOGFLUSH;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage(argv[0]);
			return c == 'h' ? 0 : 1;
		}
	}
	if (optind != argc - 1) {
		usage(argv[0]);
		return 1;
	}
	/* O_RDONLY works on directories and on files alike. */
	fd = open(argv[optind], O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "godown: open %s: %s\n", argv[optind],
			strerror(errno));
		return 1;
	}
	if (verbose)
		printf("godown: shutting down %s (%s)\n", argv[optind],
		       flag == FS_SHUTDOWN_FLAGS_LOGFLUSH ? "logflush" :
		       "nologflush");
	if (ioctl(fd, FS_IOC_SHUTDOWN, &flag) < 0) {
		fprintf(stderr, "godown: FS_IOC_SHUTDOWN %s: %s\n",
			argv[optind], strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	return 0;
}
