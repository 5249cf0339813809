// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fhandle: name_to_handle_at(2) and open_by_handle_at(2) from the shell,
 * for xfstests-lite (python3's os module has neither).
 *
 *   fhandle get PATH             print PATH's handle as one hex word
 *   fhandle open MOUNT HANDLE    open the handle through MOUNT, read the
 *                                file's first bytes (up to 64) and print
 *                                them, or print the errno name (ESTALE...)
 *
 * Exit status: 0 when the call's result was printed (even an errno name),
 * 2 on bad usage or an error outside the handle calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HANDLE_MAX	128

static int usage(void)
{
	fprintf(stderr, "usage: fhandle get PATH | fhandle open MOUNT HANDLE\n");
	return 2;
}

static const char *errno_name(int err)
{
	switch (err) {
	case ESTALE: return "ESTALE";
	case ENOENT: return "ENOENT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EINVAL: return "EINVAL";
	case EPERM: return "EPERM";
	default: return strerror(err);
	}
}

static int cmd_get(const char *path)
{
	struct file_handle *fh = calloc(1, sizeof(*fh) + HANDLE_MAX);
	int mount_id;

	fh->handle_bytes = HANDLE_MAX;
	if (name_to_handle_at(AT_FDCWD, path, fh, &mount_id, 0)) {
		printf("%s\n", errno_name(errno));
		free(fh);
		return 0;
	}
	printf("%08x", fh->handle_type);
	for (unsigned i = 0; i < fh->handle_bytes; i++)
		printf("%02x", fh->f_handle[i]);
	printf("\n");
	free(fh);
	return 0;
}

/* The inverse of cmd_get's format: 8 hex digits of type, then the bytes. */
static struct file_handle *parse_handle(const char *hex)
{
	size_t len = strlen(hex);
	struct file_handle *fh;
	unsigned byte;

	if (len < 8 || len % 2 || (len - 8) / 2 > HANDLE_MAX)
		return NULL;
	fh = calloc(1, sizeof(*fh) + HANDLE_MAX);
	if (sscanf(hex, "%8x", (unsigned *)&fh->handle_type) != 1)
		goto bad;
	fh->handle_bytes = (len - 8) / 2;
	for (unsigned i = 0; i < fh->handle_bytes; i++) {
		if (sscanf(hex + 8 + 2 * i, "%2x", &byte) != 1)
			goto bad;
		fh->f_handle[i] = byte;
	}
	return fh;
bad:
	free(fh);
	return NULL;
}

static int cmd_open(const char *mnt, const char *hex)
{
	struct file_handle *fh = parse_handle(hex);
	char buf[65];
	ssize_t n;
	int mfd, fd;

	if (!fh)
		return usage();
	mfd = open(mnt, O_RDONLY | O_DIRECTORY);
	if (mfd < 0) {
		perror(mnt);
		free(fh);
		return 2;
	}
	fd = open_by_handle_at(mfd, fh, O_RDONLY);
	if (fd < 0) {
		printf("%s\n", errno_name(errno));
	} else {
		n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		printf("opened: %s\n", buf);
		close(fd);
	}
	close(mfd);
	free(fh);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "get"))
		return cmd_get(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "open"))
		return cmd_open(argv[2], argv[3]);
	return usage();
}
