// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iomapfs-stat MOUNTPOINT [INTERVAL] [--once|--watch|--hist]: the live
 * counters of a mounted iomapfs, read from the root directory's
 * user.iomapfs.stats xattr ("name value" lines from the block layer, the
 * cache and the filesystem).
 *
 * --once prints the lines as they are, for scripts.  --watch prints one
 * compact line per INTERVAL (throughput, cache, where completions ran,
 * deferral latency), for a terminal or a log.  --hist draws the deferral
 * latency histogram (the log2 defer_hist_* buckets): since mount, or, with
 * an INTERVAL, over each interval.  Otherwise a table is redrawn every
 * INTERVAL seconds (default 1): counters show their value and their rate
 * over the last interval, gauges (pages resident, dirty, under writeback,
 * deferral latencies, objects cached, means) their current value only.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define STATS_XATTR	"user.iomapfs.stats"
#define NAME_LEN	64

struct counter {
	char		name[NAME_LEN];
	uint64_t	val;
};

struct snapshot {
	struct counter	*c;
	size_t		nr;
	struct timespec	when;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* Values that are levels, not running totals: no rate makes sense.
 * "*_cached" (objects held now) and "*_mean" (an average so far) too. */
static bool is_gauge(const char *name)
{
	static const char *const gauges[] = {
		"pages_total", "pages_resident", "pages_dirty", "pages_writeback",
	};

	if (!strncmp(name, "defer_lat_", 10) || has_suffix(name, "_cached") ||
	    has_suffix(name, "_mean"))
		return true;
	for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++)
		if (!strcmp(name, gauges[i]))
			return true;
	return false;
}

/* The xattr's text, NUL-terminated, or NULL with errno set. */
static char *read_stats(const char *mnt)
{
	for (int tries = 0; tries < 4; tries++) {
		ssize_t len = getxattr(mnt, STATS_XATTR, NULL, 0);
		char *buf;

		if (len < 0)
			return NULL;
		buf = malloc(len + 1);
		if (!buf)
			return NULL;
		len = getxattr(mnt, STATS_XATTR, buf, len);
		if (len >= 0) {
			buf[len] = '\0';
			return buf;
		}
		free(buf);
		if (errno != ERANGE)	/* ERANGE: it grew between the calls */
			return NULL;
	}
	return NULL;
}

static int parse_stats(char *text, struct snapshot *s)
{
	size_t cap = 0;

	s->nr = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		struct counter c;
		unsigned long long v;

		if (sscanf(line, "%63s %llu", c.name, &v) != 2)
			continue;
		c.val = v;
		if (s->nr == cap) {
			cap = cap ? 2 * cap : 64;
			s->c = realloc(s->c, cap * sizeof(*s->c));
			if (!s->c)
				return -ENOMEM;
		}
		s->c[s->nr++] = c;
	}
	return 0;
}

static int take_snapshot(const char *mnt, struct snapshot *s)
{
	char *text = read_stats(mnt);
	int err;

	if (!text)
		return -errno;
	clock_gettime(CLOCK_MONOTONIC, &s->when);
	err = parse_stats(text, s);
	free(text);
	return err;
}

static const struct counter *find(const struct snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->nr; i++)
		if (!strcmp(s->c[i].name, name))
			return &s->c[i];
	return NULL;
}

static void print_table(const char *mnt, const struct snapshot *prev,
			const struct snapshot *cur, bool tty)
{
	double secs = (cur->when.tv_sec - prev->when.tv_sec) +
		      (cur->when.tv_nsec - prev->when.tv_nsec) / 1e9;

	if (tty)
		fputs("\033[H\033[2J", stdout);
	printf("iomapfs-stat %s   interval %.2fs\n", mnt, secs);
	printf("%-28s %20s %16s\n", "counter", "value", "per second");
	for (size_t i = 0; i < cur->nr; i++) {
		const struct counter *c = &cur->c[i], *p = find(prev, c->name);

		if (!strncmp(c->name, "defer_hist_", 11))
			continue;	/* --hist draws these */
		if (is_gauge(c->name) || !p || secs <= 0)
			printf("%-28s %20llu %16s\n", c->name, (unsigned long long)c->val, "");
		else
			printf("%-28s %20llu %16.1f\n", c->name, (unsigned long long)c->val,
			       (double)(c->val - p->val) / secs);
	}
	if (!tty)
		putchar('\n');
	fflush(stdout);
}

/* The value of @name in @s, 0 when absent (an older daemon). */
static uint64_t value(const struct snapshot *s, const char *name)
{
	const struct counter *c = find(s, name);

	return c ? c->val : 0;
}

static double seconds_between(const struct snapshot *a, const struct snapshot *b)
{
	return (b->when.tv_sec - a->when.tv_sec) + (b->when.tv_nsec - a->when.tv_nsec) / 1e9;
}

/* Per-second rate of a counter between two snapshots. */
static double rate(const struct snapshot *prev, const struct snapshot *cur,
		   const char *name, double secs)
{
	uint64_t a = value(prev, name), b = value(cur, name);

	return secs > 0 && b >= a ? (b - a) / secs : 0;
}

static uint64_t deferred_total(const struct snapshot *s)
{
	return value(s, "deferred_dropbehind") + value(s, "deferred_error") +
	       value(s, "deferred_unwritten") + value(s, "deferred_read_error");
}

/* --watch: one line per interval; the header every 20 lines. */
static void print_watch_line(const struct snapshot *prev, const struct snapshot *cur,
			     unsigned line)
{
	double secs = seconds_between(prev, cur);
	char now[16];
	time_t t = time(NULL);

	if (line % 20 == 0)
		printf("%-8s %9s %9s %8s %7s %7s %9s %9s %9s %9s %6s %8s %8s\n", "time",
		       "rd MiB/s", "wr MiB/s", "resident", "dirty", "wback", "hits/s",
		       "misses/s", "reaper/s", "defer/s", "batch", "p50 us", "p99 us");
	strftime(now, sizeof(now), "%H:%M:%S", localtime(&t));
	printf("%-8s %9.1f %9.1f %8llu %7llu %7llu %9.0f %9.0f %9.0f %9.0f %6llu %8llu %8llu\n",
	       now, rate(prev, cur, "bytes_read", secs) / (1 << 20),
	       rate(prev, cur, "bytes_written", secs) / (1 << 20),
	       (unsigned long long)value(cur, "pages_resident"),
	       (unsigned long long)value(cur, "pages_dirty"),
	       (unsigned long long)value(cur, "pages_writeback"),
	       rate(prev, cur, "hits", secs), rate(prev, cur, "misses", secs),
	       rate(prev, cur, "completed_in_reaper", secs),
	       secs > 0 ? (deferred_total(cur) - deferred_total(prev)) / secs : 0,
	       (unsigned long long)value(cur, "worker_batch_mean"),
	       (unsigned long long)value(cur, "defer_lat_p50_us"),
	       (unsigned long long)value(cur, "defer_lat_p99_us"));
	fflush(stdout);
}

#define HIST_PREFIX	"defer_hist_"
#define HIST_BAR	50

/* --hist: the defer_hist_<lower>us buckets of @cur (minus @prev, if any)
 * as rows "[lower, next lower) us  count  bar", from the first to the
 * last non-empty bucket. */
static void print_hist(const struct snapshot *prev, const struct snapshot *cur)
{
	size_t first = SIZE_MAX, last = 0, nr = 0, idx[64];
	uint64_t count[64], max = 0, total = 0;

	for (size_t i = 0; i < cur->nr && nr < 64; i++) {
		const struct counter *c = &cur->c[i];

		if (strncmp(c->name, HIST_PREFIX, strlen(HIST_PREFIX)))
			continue;
		count[nr] = c->val - (prev ? value(prev, c->name) : 0);
		idx[nr] = i;
		if (count[nr]) {
			first = first == SIZE_MAX ? nr : first;
			last = nr;
		}
		max = count[nr] > max ? count[nr] : max;
		total += count[nr];
		nr++;
	}
	printf("deferral latency (bio_complete_in_task -> worker), %s: %llu completions\n",
	       prev ? "last interval" : "since mount", (unsigned long long)total);
	for (size_t j = first; total && j <= last; j++) {
		unsigned long long lo = strtoull(cur->c[idx[j]].name + strlen(HIST_PREFIX), NULL, 10);
		int bar = (int)((count[j] * HIST_BAR + max - 1) / max);
		char range[48];

		if (j + 1 < nr)
			snprintf(range, sizeof(range), "%llu..%llu us", lo,
				 strtoull(cur->c[idx[j + 1]].name + strlen(HIST_PREFIX), NULL, 10) - 1);
		else
			snprintf(range, sizeof(range), ">= %llu us", lo);
		printf("%22s %10llu %.*s\n", range, (unsigned long long)count[j], bar,
		       "##################################################");
	}
	fflush(stdout);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: iomapfs-stat MOUNTPOINT [INTERVAL] [--once|--watch|--hist]\n"
		     "  (no flag)  redraw a table of every counter every INTERVAL seconds (1)\n"
		     "  --once     print \"name value\" lines once, for scripts\n"
		     "  --watch    one compact line per INTERVAL\n"
		     "  --hist     deferral latency histogram since mount; with INTERVAL,\n"
		     "             per interval\n");
}

static int report_error(const char *mnt, int err)
{
	if (err == -ENODATA || err == -EOPNOTSUPP || err == -ENOTSUP)
		fprintf(stderr, "iomapfs-stat: %s is not an iomapfs mount (no %s)\n",
			mnt, STATS_XATTR);
	else
		fprintf(stderr, "iomapfs-stat: %s: %s\n", mnt, strerror(-err));
	return 1;
}

int main(int argc, char **argv)
{
	struct snapshot a = { 0 }, b = { 0 }, *prev = &a, *cur = &b, *tmp;
	const char *mnt = NULL;
	double interval = 1.0;
	bool once = false, watch = false, hist = false, have_interval = false;
	unsigned line = 0;
	int err;

	for (int i = 1; i < argc; i++) {
		char *end;

		if (!strcmp(argv[i], "--once")) {
			once = true;
		} else if (!strcmp(argv[i], "--watch")) {
			watch = true;
		} else if (!strcmp(argv[i], "--hist")) {
			hist = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!mnt) {
			mnt = argv[i];
		} else {
			interval = strtod(argv[i], &end);
			if (*end || interval <= 0) {
				fprintf(stderr, "iomapfs-stat: bad interval '%s'\n", argv[i]);
				return 1;
			}
			have_interval = true;
		}
	}
	if (!mnt || once + watch + hist > 1) {
		usage(stderr);
		return 1;
	}
	err = take_snapshot(mnt, prev);
	if (err)
		return report_error(mnt, err);
	if (once) {
		for (size_t i = 0; i < prev->nr; i++)
			printf("%s %llu\n", prev->c[i].name, (unsigned long long)prev->c[i].val);
		free(prev->c);
		return 0;
	}
	if (hist && !have_interval) {
		print_hist(NULL, prev);
		free(prev->c);
		return 0;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop) {
		struct timespec ts = { (time_t)interval,
				       (long)((interval - (time_t)interval) * 1e9) };

		nanosleep(&ts, NULL);
		if (stop)
			break;
		err = take_snapshot(mnt, cur);
		if (err)
			break;
		if (watch)
			print_watch_line(prev, cur, line++);
		else if (hist)
			print_hist(prev, cur);
		else
			print_table(mnt, prev, cur, isatty(STDOUT_FILENO));
		tmp = prev;
		prev = cur;
		cur = tmp;
	}
	free(a.c);
	free(b.c);
	return err ? report_error(mnt, err) : 0;
}
