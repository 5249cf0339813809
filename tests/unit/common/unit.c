// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The scratch directory and the Check runner of every unit-test
 * executable (see unit.h).
 */
#include "unit.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

char unit_scratch_dir[64];
/* Where unit_skip() records skipped cases, one line each (unit_run). */
static char unit_skip_path[64];

void unit_scratch_create(const char *tag)
{
	snprintf(unit_scratch_dir, sizeof(unit_scratch_dir),
		 "/var/tmp/iomapfs-%s-XXXXXX", tag);
	if (!mkdtemp(unit_scratch_dir)) {
		perror("mkdtemp");
		exit(EXIT_FAILURE);
	}
}

void unit_scratch_remove(void)
{
	DIR *d = opendir(unit_scratch_dir);
	struct dirent *de;
	char path[sizeof(unit_scratch_dir) + 256 + 2];

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", unit_scratch_dir, de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(unit_scratch_dir);
}

void unit_skip(const char *fmt, ...)
{
	FILE *f = unit_skip_path[0] ? fopen(unit_skip_path, "a") : NULL;
	va_list ap;

	va_start(ap, fmt);
	fputs("skipped: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (!f)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
	va_end(ap);
	fclose(f);
}

/* The cases unit_skip() recorded, printed; true if there were any. */
static bool unit_report_skips(void)
{
	FILE *f = fopen(unit_skip_path, "r");
	char line[256];
	bool any = false;

	while (f && fgets(line, sizeof(line), f)) {
		if (!any)
			fputs("unit: every other case passed; not run here:\n", stderr);
		fprintf(stderr, "  %s", line);
		any = true;
	}
	if (f)
		fclose(f);
	return any;
}

int unit_run(Suite *s, const char *tag)
{
	SRunner *sr = srunner_create(s);
	bool skipped;
	int failed, fd;

	snprintf(unit_skip_path, sizeof(unit_skip_path), "/var/tmp/iomapfs-skips-XXXXXX");
	fd = mkstemp(unit_skip_path);
	if (fd < 0) {
		perror("mkstemp");
		exit(EXIT_FAILURE);
	}
	close(fd);
	if (tag)
		unit_scratch_create(tag);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (tag)
		unit_scratch_remove();
	skipped = unit_report_skips();
	unlink(unit_skip_path);
	if (failed)
		return EXIT_FAILURE;
	return skipped ? UNIT_EXIT_SKIP : EXIT_SUCCESS;
}
