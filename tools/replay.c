// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iomapfs-replay: rebuild a device image from a write log (-o log_writes),
 * with the interface of fstests' replay-log for dm-log-writes, whose file
 * layout the log shares (include/iomapfs/bio.h, struct blk_log_*).
 *
 *   iomapfs-replay --log LOG --replay DEV [--start-entry N] [--limit N]
 *                  [--end-mark NAME] [--skip N[,N...]] [-v]
 *   iomapfs-replay --log LOG --find --end-mark NAME [--start-entry N]
 *   iomapfs-replay --log LOG --find --next-flush [--start-entry N]
 *   iomapfs-replay --log LOG --replay DEV --check N|flush|fua --fsck CMD
 *   iomapfs-replay --log LOG --list
 *
 * The log holds what was written after the device was opened, not its
 * contents then: DEV must start as a copy of the image the log was recorded
 * on (for a mount, the image as mkfs left it or as the previous unmount
 * left it).  Entries are numbered from 0.  --start-entry N skips entries
 * before N (DEV already holds them: the checker replays incrementally),
 * --limit N stops after N entries in all, --end-mark stops after that mark.
 * --skip leaves the listed writes out, which is how a checker builds a
 * crash state where some writes of a flush epoch never reached the media.
 * --check runs CMD (through sh -c) on DEV after every N entries, after
 * every flush or after every FUA write, and stops with exit status 1 at the
 * first failure.  --list prints one line per entry:
 *   "<n> write <sector> <nr_sectors>", "<n> flush", "<n> mark <name>",
 * with " fua" appended to FUA writes.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <iomapfs/bio.h>
#include <iomapfs/common.h>

struct replay {
	int		logfd, devfd;
	uint64_t	nr_entries;
	uint64_t	pos;		/* byte offset of the next entry */
	uint64_t	cur;		/* its number */
	bool		verbose;
	uint8_t		*skip;		/* bitmap of entries to leave out */
	uint64_t	nr_skip_bits;
};

struct entry {
	struct blk_log_entry	e;
	char			mark[BLK_LOG_MARK_MAX + 1];
};

enum check_kind { CHECK_NONE, CHECK_EVERY_N, CHECK_FLUSH, CHECK_FUA };

static int open_log(struct replay *r, const char *path)
{
	char sec[BLK_LOG_SECTOR];
	struct blk_log_super sb;

	r->logfd = open(path, O_RDONLY);
	if (r->logfd < 0) {
		fprintf(stderr, "iomapfs-replay: cannot open log %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (full_pread(r->logfd, sec, sizeof(sec), 0)) {
		fprintf(stderr, "iomapfs-replay: %s: cannot read the log super\n", path);
		return -1;
	}
	memcpy(&sb, sec, sizeof(sb));
	if (le64toh(sb.magic) != BLK_LOG_MAGIC || le64toh(sb.version) != BLK_LOG_VERSION ||
	    le32toh(sb.sectorsize) != BLK_LOG_SECTOR) {
		fprintf(stderr, "iomapfs-replay: %s is not a write log (bad magic, version "
			"or sector size)\n", path);
		return -1;
	}
	r->nr_entries = le64toh(sb.nr_entries);
	r->pos = BLK_LOG_SECTOR;
	return 0;
}

/* Read the entry at r->pos into @ent; does not advance. */
static int read_entry(struct replay *r, struct entry *ent)
{
	char sec[BLK_LOG_SECTOR];
	struct blk_log_entry *e = &ent->e;

	if (full_pread(r->logfd, sec, sizeof(sec), r->pos)) {
		fprintf(stderr, "iomapfs-replay: entry %" PRIu64 ": log cut short\n", r->cur);
		return -1;
	}
	memcpy(e, sec, sizeof(*e));
	e->sector = le64toh(e->sector);
	e->nr_sectors = le64toh(e->nr_sectors);
	e->flags = le64toh(e->flags);
	e->data_len = le64toh(e->data_len);
	ent->mark[0] = '\0';
	if (e->flags & BLK_LOG_MARK) {
		if (e->data_len > BLK_LOG_MARK_MAX) {
			fprintf(stderr, "iomapfs-replay: entry %" PRIu64 ": bad mark\n", r->cur);
			return -1;
		}
		memcpy(ent->mark, sec + sizeof(*e), e->data_len);
		ent->mark[e->data_len] = '\0';
	}
	return 0;
}

static void advance(struct replay *r, const struct entry *ent)
{
	r->pos += (1 + ent->e.nr_sectors) * BLK_LOG_SECTOR;
	r->cur++;
}

static bool skipped(const struct replay *r, uint64_t n)
{
	return n < r->nr_skip_bits && (r->skip[n / 8] & (1u << (n % 8)));
}

static int apply_write(struct replay *r, const struct entry *ent)
{
	size_t len = ent->e.nr_sectors * BLK_LOG_SECTOR;
	char *buf;
	int err;

	if (skipped(r, r->cur) || r->devfd < 0)
		return 0;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	err = full_pread(r->logfd, buf, len, r->pos + BLK_LOG_SECTOR);
	if (!err)
		err = full_pwrite(r->devfd, buf, len, ent->e.sector * BLK_LOG_SECTOR);
	free(buf);
	if (err)
		fprintf(stderr, "iomapfs-replay: entry %" PRIu64 ": %s\n", r->cur, strerror(-err));
	return err;
}

static void print_entry(FILE *out, uint64_t n, const struct entry *ent)
{
	const struct blk_log_entry *e = &ent->e;

	if (e->flags & BLK_LOG_MARK)
		fprintf(out, "%" PRIu64 " mark %s\n", n, ent->mark);
	else if (e->flags & BLK_LOG_FLUSH && !e->nr_sectors)
		fprintf(out, "%" PRIu64 " flush\n", n);
	else
		fprintf(out, "%" PRIu64 " write %" PRIu64 " %" PRIu64 "%s%s\n", n, e->sector,
			e->nr_sectors, e->flags & BLK_LOG_FUA ? " fua" : "",
			e->flags & BLK_LOG_FLUSH ? " preflush" : "");
}

/* Move to entry @n without applying anything. */
static int seek_entry(struct replay *r, uint64_t n)
{
	struct entry ent;

	while (r->cur < n && r->cur < r->nr_entries) {
		if (read_entry(r, &ent))
			return -1;
		advance(r, &ent);
	}
	return 0;
}

static int run_check(struct replay *r, const char *cmd, uint64_t n)
{
	int st;

	if (fsync(r->devfd))
		return -1;
	st = system(cmd);
	if (st != 0) {
		fprintf(stderr, "iomapfs-replay: check failed after entry %" PRIu64
			" (status %d): %s\n", n, st, cmd);
		return -1;
	}
	return 0;
}

static bool check_due(enum check_kind kind, uint64_t every, const struct entry *ent,
		      uint64_t done)
{
	switch (kind) {
	case CHECK_EVERY_N:
		return done % every == 0;
	case CHECK_FLUSH:
		return ent->e.flags & BLK_LOG_FLUSH;
	case CHECK_FUA:
		return ent->e.flags & BLK_LOG_FUA;
	default:
		return false;
	}
}

struct opts {
	const char	*log, *dev, *end_mark, *fsck, *skip;
	uint64_t	limit, start;
	bool		has_limit, find, next_flush, list;
	enum check_kind	check;
	uint64_t	check_every;
};

/* Replay (or with --find, only look) until the limit, the mark or the end. */
static int replay(struct replay *r, const struct opts *o)
{
	struct entry ent;
	uint64_t done = 0;

	while (r->cur < r->nr_entries && (!o->has_limit || r->cur < o->limit)) {
		uint64_t n = r->cur;

		if (read_entry(r, &ent))
			return 1;
		if (r->verbose || o->list)
			print_entry(o->list ? stdout : stderr, n, &ent);
		if (!o->find && !o->list && ent.e.nr_sectors && apply_write(r, &ent))
			return 1;
		advance(r, &ent);
		done++;
		if (o->find && o->next_flush && (ent.e.flags & BLK_LOG_FLUSH)) {
			printf("%" PRIu64 "\n", n);
			return 0;
		}
		if (o->end_mark && (ent.e.flags & BLK_LOG_MARK) && !strcmp(ent.mark, o->end_mark)) {
			if (o->find)
				printf("%" PRIu64 "\n", n);
			return 0;
		}
		if (check_due(o->check, o->check_every, &ent, done) && run_check(r, o->fsck, n))
			return 1;
	}
	if (o->find || o->end_mark) {
		fprintf(stderr, "iomapfs-replay: %s not found\n",
			o->end_mark ? o->end_mark : "a flush");
		return 1;
	}
	return 0;
}

static int parse_skip(struct replay *r, const char *list)
{
	const char *p = list;

	while (*p) {
		char *end;
		uint64_t n;

		/* Past the log's end it names no entry (and would size the
		 * bitmap from an arbitrary number). */
		if (parse_u64(p, &end, &n) || (*end && *end != ',') || n >= r->nr_entries)
			return -1;
		if (n >= r->nr_skip_bits) {
			uint64_t bits = (n + 1024) & ~7ull;

			uint8_t *skip = realloc(r->skip, bits / 8);

			if (!skip)
				return -1;
			r->skip = skip;
			memset(r->skip + r->nr_skip_bits / 8, 0, (bits - r->nr_skip_bits) / 8);
			r->nr_skip_bits = bits;
		}
		r->skip[n / 8] |= 1u << (n % 8);
		p = *end ? end + 1 : end;
	}
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: iomapfs-replay --log LOG --replay DEV [--start-entry N] [--limit N]\n"
		"                      [--end-mark NAME] [--skip N[,N...]] [-v]\n"
		"       iomapfs-replay --log LOG --find (--end-mark NAME | --next-flush) [--start-entry N]\n"
		"       iomapfs-replay --log LOG --replay DEV --check N|flush|fua --fsck CMD\n"
		"       iomapfs-replay --log LOG --list\n"
		"DEV must start with the contents the device had when the log began.\n");
}

static int parse_check(struct opts *o, const char *v)
{
	char *end;

	if (!strcmp(v, "flush"))
		o->check = CHECK_FLUSH;
	else if (!strcmp(v, "fua"))
		o->check = CHECK_FUA;
	else {
		o->check = CHECK_EVERY_N;
		if (parse_u64(v, &end, &o->check_every) || *end || !o->check_every)
			return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o, bool *verbose)
{
	static const struct option lopts[] = {
		{ "log", required_argument, NULL, 'l' },
		{ "replay", required_argument, NULL, 'r' },
		{ "limit", required_argument, NULL, 'n' },
		{ "start-entry", required_argument, NULL, 's' },
		{ "end-mark", required_argument, NULL, 'm' },
		{ "find", no_argument, NULL, 'f' },
		{ "next-flush", no_argument, NULL, 'F' },
		{ "check", required_argument, NULL, 'c' },
		{ "fsck", required_argument, NULL, 'k' },
		{ "skip", required_argument, NULL, 'x' },
		{ "list", no_argument, NULL, 'L' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "vh", lopts, NULL)) != -1) {
		switch (c) {
		case 'l': o->log = optarg; break;
		case 'r': o->dev = optarg; break;
		case 'm': o->end_mark = optarg; break;
		case 'f': o->find = true; break;
		case 'F': o->next_flush = true; break;
		case 'k': o->fsck = optarg; break;
		case 'x': o->skip = optarg; break;
		case 'L': o->list = true; break;
		case 'v': *verbose = true; break;
		case 'n':
		case 's':
			if (parse_u64(optarg, &end, c == 'n' ? &o->limit : &o->start) || *end)
				return -1;
			o->has_limit |= c == 'n';
			break;
		case 'c':
			if (parse_check(o, optarg))
				return -1;
			break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (optind != argc || !o->log)
		return -1;
	if (o->find)
		return (o->end_mark || o->next_flush) && !o->dev ? 0 : -1;
	if (o->list)
		return o->dev ? -1 : 0;
	if (!o->dev || (o->check != CHECK_NONE) != !!o->fsck)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct replay r = { .logfd = -1, .devfd = -1 };
	struct opts o = { 0 };
	int ret;

	if (parse_args(argc, argv, &o, &r.verbose)) {
		usage(stderr);
		return 2;
	}
	if (open_log(&r, o.log))
		return 1;
	if (o.skip && parse_skip(&r, o.skip)) {
		fprintf(stderr, "iomapfs-replay: bad --skip list '%s'\n", o.skip);
		return 2;
	}
	if (o.dev) {
		r.devfd = open(o.dev, O_RDWR);
		if (r.devfd < 0) {
			fprintf(stderr, "iomapfs-replay: cannot open %s: %s\n", o.dev,
				strerror(errno));
			return 1;
		}
	}
	if (seek_entry(&r, o.start))
		return 1;
	ret = replay(&r, &o);
	if (r.devfd >= 0 && fsync(r.devfd)) {
		fprintf(stderr, "iomapfs-replay: %s: fsync: %s\n", o.dev, strerror(errno));
		ret = 1;
	}
	free(r.skip);
	return ret;
}
