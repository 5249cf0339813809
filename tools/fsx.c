// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fsx-lite: an fsx-style file exerciser written for xfstests-lite.
 *
 * It applies a seeded random sequence of operations to one file -- reads,
 * writes, truncates, fallocate in every mode the filesystem accepts (probed
 * at start: an error turns a mode off), punch hole, zero range, collapse and
 * insert range, fsync and close/reopen, and with -M reads and writes
 * through a shared mapping -- and applies the same operation to
 * a shadow copy in memory.  Every read, every reopen and the end of the run
 * compare the file with the shadow; the first difference stops the run with
 * the mismatching byte range and the last operations that touched it, and
 * exit status 1.
 *
 * Every operation is written to a text log (FILE.fsxlog, or -L PATH), one
 * line each: "<n> <op> <offset> <length>".  `fsx-lite -R LOG FILE` runs the
 * logged operations again instead of random ones; the data written by
 * operation n depends only on n and the offset, so a replay reproduces a
 * failure byte for byte.
 *
 * Mapped I/O (-M) is what the real fsx does by default (its -R/-W turn it
 * off): mapread maps the range MAP_SHARED and compares it; mapwrite grows
 * the file with ftruncate if needed, stores through a MAP_SHARED mapping,
 * and then msyncs (one operation number in four: MS_SYNC is an fsync) or
 * just unmaps, so dirty mapped pages meet the next read(), write(),
 * truncate or fallocate.
 *
 * Single-threaded; all state lives in `struct fsx`.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <iomapfs/common.h>

enum fsx_op {
	OP_READ, OP_WRITE, OP_TRUNCATE, OP_FALLOC, OP_FALLOC_KEEP,
	OP_PUNCH, OP_ZERO, OP_ZERO_KEEP, OP_COLLAPSE, OP_INSERT,
	OP_FSYNC, OP_REOPEN, OP_MAPREAD, OP_MAPWRITE, OP_NR
};

static const char *const op_names[OP_NR] = {
	"read", "write", "truncate", "falloc", "falloc_keep",
	"punch", "zero", "zero_keep", "collapse", "insert",
	"fsync", "reopen", "mapread", "mapwrite",
};

/* Relative weights of the random choice; 0 means never chosen. */
static const unsigned int op_weight[OP_NR] = {
	[OP_READ] = 20, [OP_WRITE] = 25, [OP_TRUNCATE] = 6,
	[OP_FALLOC] = 4, [OP_FALLOC_KEEP] = 4, [OP_PUNCH] = 5,
	[OP_ZERO] = 4, [OP_ZERO_KEEP] = 3, [OP_COLLAPSE] = 3,
	[OP_INSERT] = 3, [OP_FSYNC] = 4, [OP_REOPEN] = 2,
	[OP_MAPREAD] = 15, [OP_MAPWRITE] = 20,	/* only with -M */
};

/* fallocate mode for each fallocate-based operation */
static const int op_falloc_mode[OP_NR] = {
	[OP_FALLOC] = 0,
	[OP_FALLOC_KEEP] = FALLOC_FL_KEEP_SIZE,
	[OP_PUNCH] = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	[OP_ZERO] = FALLOC_FL_ZERO_RANGE,
	[OP_ZERO_KEEP] = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
	[OP_COLLAPSE] = FALLOC_FL_COLLAPSE_RANGE,
	[OP_INSERT] = FALLOC_FL_INSERT_RANGE,
};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t align_down(uint64_t x, uint64_t a)
{
	return x - x % a;
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return align_down(x + a - 1, a);
}

/* One executed operation, kept for the "what touched it" report. */
struct fsx_rec {
	uint64_t n;		/* operation number, as in the log */
	uint64_t off, len;
	uint64_t size_before;
	uint8_t op;
};

struct fsx {
	const char *path;
	int fd;
	int oflags;
	bool direct, quiet, mapped;
	uint64_t seed, rng;
	uint64_t nops, maxlen, maxop, blksz, align;
	bool enabled[OP_NR];
	uint8_t *good;		/* shadow: bytes past `size` are always zero */
	uint8_t *buf;		/* I/O buffer, aligned for O_DIRECT */
	uint64_t size;
	struct fsx_rec *hist;
	uint64_t nhist, hist_cap;
	uint64_t cur;		/* number of the operation being run */
	uint64_t counts[OP_NR];
	FILE *log;
	FILE *replay;
};

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fsx-lite: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	exit(2);
}

/* xorshift64* (iomapfs/common.h): a seed replays the same run anywhere. */
static uint64_t rnd(struct fsx *f)
{
	return xorshift64s(&f->rng);
}

static uint64_t rnd_below(struct fsx *f, uint64_t n)
{
	return n ? rnd(f) % n : 0;
}

/*
 * Fill buf with the bytes operation `n` writes at file offset `pos`: they
 * differ between operations and between neighbouring offsets, so stale or
 * misplaced data shows, and depend on nothing else, so a replay writes the
 * same bytes.
 */
static void fill_pattern(uint8_t *buf, uint64_t n, uint64_t pos, uint64_t len)
{
	uint32_t h = (uint32_t)((n + 1) * 0x9E3779B97F4A7C15ULL >> 32);
	uint64_t i;

	for (i = 0; i < len; i++) {
		uint64_t x = pos + i;

		buf[i] = (uint8_t)((x ^ (x >> 8) ^ (x >> 16)) + (h >> ((x & 3) * 8)));
	}
}

static void fsx_log(struct fsx *f, uint64_t n, int op, uint64_t off,
		    uint64_t len)
{
	if (f->log)
		fprintf(f->log, "%" PRIu64 " %s 0x%" PRIx64 " 0x%" PRIx64 "\n",
			n, op_names[op], off, len);
}

static void hist_add(struct fsx *f, uint64_t n, int op, uint64_t off,
		     uint64_t len)
{
	if (f->nhist == f->hist_cap) {
		f->hist_cap = f->hist_cap ? f->hist_cap * 2 : 4096;
		f->hist = realloc(f->hist, f->hist_cap * sizeof(*f->hist));
		if (!f->hist)
			die("out of memory for the history\n");
	}
	f->hist[f->nhist++] = (struct fsx_rec){
		.n = n, .off = off, .len = len, .size_before = f->size,
		.op = op,
	};
}

/* Does recorded operation r change bytes in [lo, hi)? */
static bool rec_touches(const struct fsx_rec *r, uint64_t lo, uint64_t hi)
{
	uint64_t a = r->off, b = r->off + r->len;

	switch (r->op) {
	case OP_READ:
	case OP_MAPREAD:
	case OP_FSYNC:
	case OP_REOPEN:
		return false;
	case OP_TRUNCATE:
		a = min_u64(r->off, r->size_before);
		b = UINT64_MAX;
		break;
	case OP_COLLAPSE:
	case OP_INSERT:
		b = UINT64_MAX;	/* everything after the range moves */
		break;
	default:
		break;
	}
	return a < hi && lo < b;
}

static void report_history(struct fsx *f, uint64_t lo, uint64_t hi)
{
	unsigned int shown = 0;
	uint64_t i;

	fprintf(stderr, "last operations touching 0x%" PRIx64 "..0x%" PRIx64
		" (newest first):\n", lo, hi);
	for (i = f->nhist; i-- > 0 && shown < 10;) {
		const struct fsx_rec *r = &f->hist[i];

		if (!rec_touches(r, lo, hi))
			continue;
		fprintf(stderr, "  op %" PRIu64 ": %s 0x%" PRIx64 " 0x%" PRIx64
			" (size before 0x%" PRIx64 ")\n", r->n, op_names[r->op],
			r->off, r->len, r->size_before);
		shown++;
	}
	if (!shown)
		fprintf(stderr, "  none: the range was never written\n");
}

/*
 * Compare `len` bytes read at `off` with the shadow; on a difference print
 * the first mismatching range and exit 1.
 */
static void check_buf(struct fsx *f, const uint8_t *got, uint64_t off,
		      uint64_t len, const char *what)
{
	uint64_t i, bad, end;

	if (!memcmp(got, f->good + off, len))
		return;
	for (i = 0; got[i] == f->good[off + i]; i++)
		;
	bad = i;
	for (end = bad; end < len && got[end] != f->good[off + end]; end++)
		;
	fprintf(stderr, "fsx-lite: data mismatch during %s (op %" PRIu64
		", seed %" PRIu64 ")\n", what, f->cur, f->seed);
	fprintf(stderr, "first bad range 0x%" PRIx64 "..0x%" PRIx64
		" (0x%" PRIx64 " bytes), file size 0x%" PRIx64 "\n",
		off + bad, off + end, end - bad, f->size);
	fprintf(stderr, "offset              expected  got\n");
	for (i = bad; i < end && i < bad + 16; i++)
		fprintf(stderr, "0x%016" PRIx64 "  0x%02x      0x%02x\n",
			off + i, f->good[off + i], got[i]);
	report_history(f, off + bad, off + end);
	if (f->log) {
		fprintf(f->log, "# mismatch at 0x%" PRIx64 " len 0x%" PRIx64 "\n",
			off + bad, end - bad);
		fflush(f->log);
	}
	exit(1);
}

static void fail_errno(struct fsx *f, const char *what, uint64_t off,
		       uint64_t len)
{
	int err = errno;

	fprintf(stderr, "fsx-lite: op %" PRIu64 " %s 0x%" PRIx64 " 0x%" PRIx64
		": %s (seed %" PRIu64 ")\n", f->cur, what, off, len,
		strerror(err), f->seed);
	if (f->log)
		fflush(f->log);
	exit(1);
}

static void fsx_open(struct fsx *f, int extra)
{
	f->fd = open(f->path, O_RDWR | f->oflags | extra, 0644);
	if (f->fd < 0)
		die("open %s: %s\n", f->path, strerror(errno));
}

static void check_size(struct fsx *f, const char *what)
{
	struct stat st;

	if (fstat(f->fd, &st) < 0)
		fail_errno(f, "fstat", 0, 0);
	if ((uint64_t)st.st_size != f->size) {
		fprintf(stderr, "fsx-lite: size mismatch after %s (op %" PRIu64
			"): expected 0x%" PRIx64 " got 0x%" PRIx64 "\n", what,
			f->cur, f->size, (uint64_t)st.st_size);
		report_history(f, min_u64(f->size, st.st_size), UINT64_MAX);
		exit(1);
	}
}

/*
 * Read [off, off+len) in pieces of at most maxop and compare; the part past
 * EOF must come back short, as with O_DIRECT reads of the aligned tail.
 */
static void read_check(struct fsx *f, uint64_t off, uint64_t len,
		       const char *what)
{
	while (len) {
		uint64_t n = min_u64(len, f->maxop);
		uint64_t want = off < f->size ? min_u64(n, f->size - off) : 0;
		ssize_t r = pread(f->fd, f->buf, n, off);

		if (r < 0)
			fail_errno(f, "read", off, n);
		if ((uint64_t)r != want) {
			fprintf(stderr, "fsx-lite: read at 0x%" PRIx64 " returned"
				" 0x%zx, expected 0x%" PRIx64 " (op %" PRIu64
				", size 0x%" PRIx64 ")\n", off, r, want,
				f->cur, f->size);
			report_history(f, off + min_u64(r, want), off + n);
			exit(1);
		}
		check_buf(f, f->buf, off, r, what);
		if (want < n)
			return;
		off += n;
		len -= n;
	}
}

static void check_all(struct fsx *f, const char *what)
{
	check_size(f, what);
	read_check(f, 0, align_up(f->size, f->align), what);
}

/* A random offset and length inside [0, maxlen), aligned for O_DIRECT. */
static void rnd_range(struct fsx *f, uint64_t limit, uint64_t *off,
		      uint64_t *len)
{
	*off = rnd_below(f, limit);
	*len = 1 + rnd_below(f, f->maxop);
	if (f->direct) {
		*off = align_down(*off, f->align);
		*len = align_up(*len, f->align);
	}
	if (*off + *len > f->maxlen)
		*len = f->maxlen - *off;
}

static int pick_op(struct fsx *f)
{
	unsigned int total = 0, x;
	int op;

	for (op = 0; op < OP_NR; op++)
		if (f->enabled[op])
			total += op_weight[op];
	x = rnd_below(f, total);
	for (op = 0; op < OP_NR; op++) {
		if (!f->enabled[op])
			continue;
		if (x < op_weight[op])
			return op;
		x -= op_weight[op];
	}
	return OP_WRITE;
}

/*
 * Choose the next operation and its arguments, all within maxlen and valid
 * for the current size; falls back to a write where an operation cannot
 * apply (nothing to read in an empty file, no room to insert).
 */
static int gen_op(struct fsx *f, uint64_t *off, uint64_t *len)
{
	int op = pick_op(f);
	uint64_t m, lb;

	*off = *len = 0;
	switch (op) {
	case OP_READ:
	case OP_MAPREAD:
	case OP_PUNCH:
		if (!f->size)
			break;
		rnd_range(f, f->size, off, len);
		return op;
	case OP_TRUNCATE:
		*off = rnd_below(f, f->maxlen + 1);
		return op;
	case OP_FALLOC:
	case OP_FALLOC_KEEP:
	case OP_ZERO:
	case OP_ZERO_KEEP:
		rnd_range(f, f->maxlen, off, len);
		return op;
	case OP_COLLAPSE:
		/* whole blocks, and the range must end before EOF */
		m = f->size ? (f->size - 1) / f->blksz : 0;
		if (!m)
			break;
		lb = 1 + rnd_below(f, min_u64(m, f->maxop / f->blksz));
		*off = rnd_below(f, m - lb + 1) * f->blksz;
		*len = lb * f->blksz;
		return op;
	case OP_INSERT:
		m = (f->maxlen - f->size) / f->blksz;
		if (!f->size || !m)
			break;
		lb = 1 + rnd_below(f, min_u64(m, f->maxop / f->blksz));
		*off = rnd_below(f, (f->size - 1) / f->blksz + 1) * f->blksz;
		*len = lb * f->blksz;
		return op;
	case OP_FSYNC:
	case OP_REOPEN:
		return op;
	case OP_MAPWRITE:
		rnd_range(f, f->maxlen, off, len);
		return op;
	default:
		break;
	}
	rnd_range(f, f->maxlen, off, len);
	return OP_WRITE;
}

static void do_write(struct fsx *f, uint64_t n, uint64_t off, uint64_t len)
{
	uint64_t done = 0;

	fill_pattern(f->good + off, n, off, len);
	while (done < len) {
		uint64_t chunk = min_u64(len - done, f->maxop);
		ssize_t r;

		memcpy(f->buf, f->good + off + done, chunk);
		r = pwrite(f->fd, f->buf, chunk, off + done);
		if (r < 0)
			fail_errno(f, "write", off + done, chunk);
		if ((uint64_t)r != chunk) {
			fprintf(stderr, "fsx-lite: short write 0x%zx of 0x%"
				PRIx64 " at 0x%" PRIx64 "\n", r, chunk,
				off + done);
			exit(1);
		}
		done += chunk;
	}
	if (off + len > f->size)
		f->size = off + len;
}

/* A shared mapping of [off, off+len), from the page below @off. */
static uint8_t *map_range(struct fsx *f, uint64_t off, uint64_t len, int prot,
			  uint64_t *pg_off, const char *what)
{
	uint64_t pg = align_down(off, (uint64_t)getpagesize());
	void *p = mmap(NULL, off - pg + len, prot, MAP_SHARED, f->fd, pg);

	if (p == MAP_FAILED)
		fail_errno(f, what, off, len);
	*pg_off = off - pg;
	return p;
}

/* Past EOF a mapping faults (SIGBUS): only [off, size) is read. */
static void do_mapread(struct fsx *f, uint64_t off, uint64_t len)
{
	uint64_t in;
	uint8_t *p;

	len = min_u64(len, f->size - off);
	p = map_range(f, off, len, PROT_READ, &in, "mapread");

	check_buf(f, p + in, off, len, "mapread");
	if (munmap(p, in + len) < 0)
		fail_errno(f, "munmap", off, len);
}

static void do_mapwrite(struct fsx *f, uint64_t n, uint64_t off, uint64_t len)
{
	uint64_t in;
	uint8_t *p;

	if (off + len > f->size) {
		if (ftruncate(f->fd, off + len) < 0)
			fail_errno(f, "mapwrite truncate", off, len);
		f->size = off + len;
	}
	p = map_range(f, off, len, PROT_READ | PROT_WRITE, &in, "mapwrite");
	fill_pattern(f->good + off, n, off, len);
	memcpy(p + in, f->good + off, len);
	if ((n & 3) == 1 && msync(p, in + len, MS_SYNC) < 0)
		fail_errno(f, "msync", off, len);
	if (munmap(p, in + len) < 0)
		fail_errno(f, "munmap", off, len);
}

static void shadow_zero(struct fsx *f, uint64_t off, uint64_t end)
{
	if (end > off)
		memset(f->good + off, 0, end - off);
}

static void do_falloc(struct fsx *f, int op, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;

	if (fallocate(f->fd, op_falloc_mode[op], off, len) < 0)
		fail_errno(f, op_names[op], off, len);
	switch (op) {
	case OP_FALLOC:
		f->size = end > f->size ? end : f->size;
		break;
	case OP_FALLOC_KEEP:
		break;
	case OP_PUNCH:
	case OP_ZERO_KEEP:
		shadow_zero(f, off, min_u64(end, f->size));
		break;
	case OP_ZERO:
		shadow_zero(f, off, end);
		f->size = end > f->size ? end : f->size;
		break;
	case OP_COLLAPSE:
		memmove(f->good + off, f->good + end, f->size - end);
		shadow_zero(f, f->size - len, f->size);
		f->size -= len;
		break;
	case OP_INSERT:
		memmove(f->good + end, f->good + off, f->size - off);
		shadow_zero(f, off, end);
		f->size += len;
		break;
	}
}

static void do_truncate(struct fsx *f, uint64_t newsize)
{
	if (ftruncate(f->fd, newsize) < 0)
		fail_errno(f, "truncate", newsize, 0);
	shadow_zero(f, newsize, f->size);
	f->size = newsize;
}

/* Run operation number n against the file and the shadow. */
static void apply_op(struct fsx *f, uint64_t n, int op, uint64_t off,
		     uint64_t len)
{
	fsx_log(f, n, op, off, len);
	f->cur = n;
	hist_add(f, n, op, off, len);
	f->counts[op]++;
	switch (op) {
	case OP_READ:
		read_check(f, off, len, "read");
		break;
	case OP_WRITE:
		do_write(f, n, off, len);
		break;
	case OP_MAPREAD:
		do_mapread(f, off, len);
		break;
	case OP_MAPWRITE:
		do_mapwrite(f, n, off, len);
		break;
	case OP_TRUNCATE:
		do_truncate(f, off);
		break;
	case OP_FSYNC:
		/* alternate, so both paths get exercised */
		if ((n & 1 ? fdatasync(f->fd) : fsync(f->fd)) < 0)
			fail_errno(f, n & 1 ? "fdatasync" : "fsync", 0, 0);
		break;
	case OP_REOPEN:
		if (close(f->fd) < 0)
			fail_errno(f, "close", 0, 0);
		fsx_open(f, 0);
		check_all(f, "reopen");
		break;
	default:
		do_falloc(f, op, off, len);
		break;
	}
	check_size(f, op_names[op]);
}

/*
 * Try each fallocate mode on a scratch layout of four blocks in the test
 * file; a mode that fails (EOPNOTSUPP, or EINVAL for the shifting modes)
 * is left out of the run.  The file is empty again afterwards.
 */
static void probe_falloc(struct fsx *f)
{
	int op;

	for (op = OP_FALLOC; op <= OP_INSERT; op++) {
		uint64_t off = op >= OP_COLLAPSE ? f->blksz : 0;

		if (!f->enabled[op])
			continue;
		if (ftruncate(f->fd, 0) < 0 || ftruncate(f->fd, 4 * f->blksz) < 0)
			die("truncate %s: %s\n", f->path, strerror(errno));
		if (fallocate(f->fd, op_falloc_mode[op], off, f->blksz) == 0)
			continue;
		f->enabled[op] = false;
		if (!f->quiet)
			printf("fsx-lite: %s off: %s\n", op_names[op],
			       strerror(errno));
	}
	if (ftruncate(f->fd, 0) < 0)
		die("truncate %s: %s\n", f->path, strerror(errno));
}

static int op_by_name(const char *name)
{
	int op;

	for (op = 0; op < OP_NR; op++)
		if (!strcmp(name, op_names[op]))
			return op;
	return -1;
}

/* Run the operations of a log written by an earlier run, in order. */
static void run_replay(struct fsx *f)
{
	char line[256], name[32];
	uint64_t n, off, len;
	int op;

	while (fgets(line, sizeof(line), f->replay)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%" SCNu64 " %31s %" SCNx64 " %" SCNx64,
			   &n, name, &off, &len) != 4 ||
		    (op = op_by_name(name)) < 0)
			die("bad replay line: %s", line);
		if (off + len > f->maxlen)
			die("replay op %" PRIu64 " beyond -l 0x%" PRIx64
			    ": rerun with the original -l\n", n, f->maxlen);
		apply_op(f, n, op, off, len);
	}
}

static void run_random(struct fsx *f)
{
	uint64_t n, off, len;
	int op;

	for (n = 0; n < f->nops; n++) {
		op = gen_op(f, &off, &len);
		apply_op(f, n, op, off, len);
	}
}

static void usage(void)
{
	fprintf(stderr,
"usage: fsx-lite [options] FILE\n"
"  -S seed     random seed (default: from time and pid, printed)\n"
"  -N ops      number of operations (default 10000)\n"
"  -l len      maximum file length (default 262144)\n"
"  -o len      maximum size of one operation (default 65536)\n"
"  -b bytes    block size for collapse/insert and O_DIRECT (default st_blksize)\n"
"  -f          no fallocate-based operations (falloc, punch, zero, collapse, insert)\n"
"  -x op,...   disable these operations by name\n"
"  -d, -Z      O_DIRECT: reads and writes aligned to the block size (-Z as\n"
"              in fstests' fsx)\n"
"  -M          also read and write through shared mappings (mapread, mapwrite)\n"
"  -L path     operation log (default FILE.fsxlog; '-' for none)\n"
"  -R log      replay the operations of a log instead of random ones\n"
"  -q          quiet: print only failures\n");
	exit(2);
}

static void disable_ops(struct fsx *f, char *list)
{
	char *tok, *save = NULL;
	int op;

	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		op = op_by_name(tok);
		if (op < 0 || op == OP_WRITE)
			die("cannot disable '%s'\n", tok);
		f->enabled[op] = false;
	}
}

static void parse_args(struct fsx *f, int argc, char **argv,
		       const char **logpath)
{
	bool seeded = false;
	int c, op;

	for (op = 0; op < OP_NR; op++)
		f->enabled[op] = op != OP_MAPREAD && op != OP_MAPWRITE;
	while ((c = getopt(argc, argv, "S:N:l:o:b:fx:dZML:R:qh")) != -1) {
		switch (c) {
		case 'S':
			f->seed = strtoull(optarg, NULL, 0);
			seeded = true;
			break;
		case 'N': f->nops = strtoull(optarg, NULL, 0); break;
		case 'l': f->maxlen = strtoull(optarg, NULL, 0); break;
		case 'o': f->maxop = strtoull(optarg, NULL, 0); break;
		case 'b': f->blksz = strtoull(optarg, NULL, 0); break;
		case 'f':
			for (op = OP_FALLOC; op <= OP_INSERT; op++)
				f->enabled[op] = false;
			break;
		case 'x': disable_ops(f, optarg); break;
		case 'd':
		case 'Z': f->direct = true; break;
		case 'M':
			f->mapped = true;
			f->enabled[OP_MAPREAD] = f->enabled[OP_MAPWRITE] = true;
			break;
		case 'L': *logpath = optarg; break;
		case 'R':
			f->replay = fopen(optarg, "r");
			if (!f->replay)
				die("open %s: %s\n", optarg, strerror(errno));
			break;
		case 'q': f->quiet = true; break;
		default: usage();
		}
	}
	if (optind != argc - 1)
		usage();
	f->path = argv[optind];
	if (!seeded)
		f->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
	if (!f->maxlen || !f->maxop)
		die("-l and -o must be positive\n");
	if (f->mapped && f->direct)
		die("-M and -d exclude each other\n");
}

static void setup(struct fsx *f, const char *logpath)
{
	struct stat st;
	char *def = NULL;

	f->oflags = f->direct ? O_DIRECT : 0;
	fsx_open(f, O_CREAT | O_TRUNC);
	if (fstat(f->fd, &st) < 0)
		die("fstat %s: %s\n", f->path, strerror(errno));
	if (!f->blksz)
		f->blksz = st.st_blksize ? st.st_blksize : 4096;
	f->align = f->direct ? f->blksz : 1;
	if (f->direct) {
		f->maxop = align_up(f->maxop, f->align);
		f->maxlen = align_up(f->maxlen, f->align);
	}
	f->good = calloc(1, f->maxlen);
	if (!f->good || posix_memalign((void **)&f->buf, 4096,
				       align_up(f->maxop, 4096)))
		die("out of memory for -l/-o buffers\n");
	f->rng = f->seed * 0x9E3779B97F4A7C15ULL + 1;
	if (!f->rng)
		f->rng = 1;
	if (!logpath) {
		if (f->replay)
			return;	/* never overwrite the log being replayed */
		if (asprintf(&def, "%s.fsxlog", f->path) < 0)
			die("out of memory\n");
		logpath = def;
	}
	if (strcmp(logpath, "-")) {
		f->log = fopen(logpath, "w");
		if (!f->log)
			die("open log %s: %s\n", logpath, strerror(errno));
		fprintf(f->log, "# fsx-lite seed %" PRIu64 " -l 0x%" PRIx64
			" -o 0x%" PRIx64 " -b 0x%" PRIx64 "%s\n", f->seed,
			f->maxlen, f->maxop, f->blksz,
			f->direct ? " -d" : f->mapped ? " -M" : "");
	}
	free(def);
}

int main(int argc, char **argv)
{
	struct fsx f = { .nops = 10000, .maxlen = 256 * 1024,
			 .maxop = 64 * 1024 };
	const char *logpath = NULL;
	int op;

	parse_args(&f, argc, argv, &logpath);
	setup(&f, logpath);
	if (!f.replay)
		probe_falloc(&f);
	if (!f.quiet)
		printf("fsx-lite: seed %" PRIu64 ", %" PRIu64 " ops, -l %" PRIu64
		       " -o %" PRIu64 "%s\n", f.seed, f.replay ? 0 : f.nops,
		       f.maxlen, f.maxop, f.direct ? ", O_DIRECT" :
		       f.mapped ? ", mapped" : "");
	if (f.replay)
		run_replay(&f);
	else
		run_random(&f);
	if (fsync(f.fd) < 0)
		fail_errno(&f, "fsync", 0, 0);
	check_all(&f, "final check");
	if (close(f.fd) < 0)
		fail_errno(&f, "close", 0, 0);
	if (f.log && fclose(f.log))
		die("writing the log: %s\n", strerror(errno));
	if (!f.quiet) {
		printf("fsx-lite: %" PRIu64 " ops ok, final size %" PRIu64 "\n",
		       f.nhist, f.size);
		for (op = 0; op < OP_NR; op++)
			printf("  %-12s %" PRIu64 "%s\n", op_names[op],
			       f.counts[op], f.enabled[op] ? "" : " (off)");
	}
	free(f.good);
	free(f.buf);
	free(f.hist);
	return 0;
}
