// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mkfs.iomapfs [-f] [-q] [-L label] [-J journal_blocks] DEVICE
 *
 * A thin main over meta_mkfs(): parses the options, opens the device or
 * image file through the block layer, refuses to overwrite an existing
 * iomapfs filesystem without -f, and prints a summary read back from the
 * new superblock.  On a terminal it shows the progress of the bitmap write
 * (tools/progress.c); -q silences progress and summary.  Exit status 0 on
 * success, 1 on any error.
 */
#include <iomapfs/defaults.h>
#include "meta.h"
#include "progress.h"

#include <getopt.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: mkfs.iomapfs [-f] [-q] [-L label] [-J journal_blocks] DEVICE\n"
		   "  -f    overwrite an existing iomapfs filesystem\n"
		   "  -q    quiet: no progress, no summary\n"
		   "  -L    volume label (up to 63 bytes)\n"
		   "  -J    journal size in 4 KiB blocks (default: 1%% of the device,\n"
		   "        %u..%u)\n", IOMAPFS_DEFAULT_JOURNAL_MIN, IOMAPFS_DEFAULT_JOURNAL_MAX);
}

static void print_summary(const char *path, const struct iomapfs_super *sb)
{
	const uint8_t *u = sb->uuid;

	printf("%s: iomapfs version %u, %.1f MiB, %llu blocks of %u bytes\n", path,
	       sb->version, (double)sb->nr_blocks * sb->block_size / (1 << 20),
	       (unsigned long long)sb->nr_blocks, sb->block_size);
	printf("  journal: %llu blocks at block %llu\n",
	       (unsigned long long)sb->journal_blocks, (unsigned long long)sb->journal_start);
	printf("  bitmap:  %llu blocks at block %llu\n",
	       (unsigned long long)sb->bitmap_blocks, (unsigned long long)sb->bitmap_start);
	printf("  free:    %llu blocks\n", (unsigned long long)sb->free_blocks);
	printf("  label:   %s\n", sb->label[0] ? sb->label : "(none)");
	printf("  UUID:    %02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	       "%02x%02x%02x%02x%02x%02x\n", u[0], u[1], u[2], u[3], u[4], u[5], u[6],
	       u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* Mount read-only to prove the result is valid and to print it. */
static int summarize(struct blk_dev *dev, const char *path)
{
	struct meta_mount_opts mo = { .readonly = true, .commit_interval_ms = 0 };
	struct meta *m;
	int err = meta_mount(dev, &mo, &m);

	if (err)
		return err;
	print_summary(path, meta_super(m));
	return meta_unmount(m);
}

int main(int argc, char **argv)
{
	struct mkfs_opts opts = { 0 };
	struct blk_dev_config cfg = { 0 };
	struct term_progress tp;
	struct blk_dev *dev;
	const char *path;
	bool quiet = false;
	int c, err;

	iomapfs_log_set_ident("mkfs.iomapfs");
	while ((c = getopt(argc, argv, "fqL:J:h")) != -1) {
		switch (c) {
		case 'f':
			opts.force = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'L':
			if (strlen(optarg) >= sizeof(((struct iomapfs_super *)0)->label)) {
				fprintf(stderr, "mkfs.iomapfs: label too long (max 63 bytes)\n");
				return 1;
			}
			opts.label = optarg;
			break;
		case 'J':
			if (parse_u64_arg(optarg, &opts.journal_blocks) || !opts.journal_blocks) {
				fprintf(stderr, "mkfs.iomapfs: bad journal size '%s'\n", optarg);
				return 1;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 1;
	}
	path = argv[optind];
	err = blk_dev_open(path, &cfg, &dev);
	if (err) {
		fprintf(stderr, "mkfs.iomapfs: cannot open %s: %s\n", path, strerror(-err));
		return 1;
	}
	term_progress_init(&tp, &opts.progress, "mkfs.iomapfs", quiet);
	err = meta_mkfs(dev, &opts);
	term_progress_done(&tp);
	if (!err && !quiet)
		err = summarize(dev, path);
	blk_dev_close(dev);
	if (err == -EEXIST)
		fprintf(stderr, "mkfs.iomapfs: %s: refusing to overwrite without -f\n", path);
	else if (err)
		fprintf(stderr, "mkfs.iomapfs: %s: %s\n", path, strerror(-err));
	return err ? 1 : 0;
}
