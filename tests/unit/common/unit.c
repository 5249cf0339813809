// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The scratch directory and the Check runner of every unit-test
 * executable (see unit.h).
 */
#include "unit.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

char unit_scratch_dir[64];

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

int unit_run(Suite *s, const char *tag)
{
	SRunner *sr = srunner_create(s);
	int failed;

	if (tag)
		unit_scratch_create(tag);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (tag)
		unit_scratch_remove();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
