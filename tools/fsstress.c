// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fsstress-lite: an fsstress-style stressor written for xfstests-lite.
 *
 * N processes (-p) each run a seeded random mix of namespace and data
 * operations -- create, mkdir, rename, link, unlink, rmdir, write,
 * truncate, setxattr, fsync, readdir -- for a count (-n, per process) or a
 * time (-t seconds).  Process i works in its own subtree DIR/p<i>, so the
 * outcome of each call is predictable and any error is a real one; the
 * processes still share the filesystem's allocator, journal and the parent
 * directory.  Objects are found by a random walk of the subtree, so no
 * in-memory copy of the namespace can go stale after a rename.
 *
 * Errors that the operation makes possible are counted and tolerated:
 * ENOTEMPTY from rmdir, and with -e ENOSPC/EDQUOT (filling the device on
 * purpose).  A filesystem without user xattrs turns setxattr off on the
 * first EOPNOTSUPP.  Anything else is reported and makes the exit status 1.
 * At the end the parent prints per-operation counts summed over processes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <iomapfs/common.h>

enum fss_op {
	OP_CREATE, OP_MKDIR, OP_RENAME, OP_LINK, OP_UNLINK, OP_RMDIR,
	OP_WRITE, OP_TRUNCATE, OP_SETXATTR, OP_FSYNC, OP_READDIR, OP_NR
};

static const char *const op_names[OP_NR] = {
	"create", "mkdir", "rename", "link", "unlink", "rmdir",
	"write", "truncate", "setxattr", "fsync", "readdir",
};

static const unsigned int op_weight[OP_NR] = {
	[OP_CREATE] = 12, [OP_MKDIR] = 4, [OP_RENAME] = 8, [OP_LINK] = 5,
	[OP_UNLINK] = 8, [OP_RMDIR] = 3, [OP_WRITE] = 20, [OP_TRUNCATE] = 6,
	[OP_SETXATTR] = 6, [OP_FSYNC] = 4, [OP_READDIR] = 4,
};

/* Per-process counters, in a shared mapping the parent sums at the end. */
struct fss_stats {
	uint64_t done[OP_NR];
	uint64_t expected_err[OP_NR];
	uint64_t unexpected;
};

struct fss {
	const char *dir;
	int nproc;
	uint64_t nops;
	unsigned int seconds;
	uint64_t seed;
	bool enospc_ok, verbose, no_xattr;
	uint64_t maxsize;
};

/* One process's state. */
struct fss_proc {
	const struct fss *cfg;
	int id;
	uint64_t rng;
	uint64_t names;		/* counter for unique names */
	char root[PATH_MAX];
	bool xattr_off;
	struct fss_stats *st;
	char *buf;
};

#define MAX_DEPTH	6
#define MAX_WRITE	(64 * 1024)

/* xorshift64* (iomapfs/common.h): a seed replays the same run anywhere. */
static uint64_t rnd(struct fss_proc *p)
{
	return xorshift64s(&p->rng);
}

static uint64_t rnd_below(struct fss_proc *p, uint64_t n)
{
	return n ? rnd(p) % n : 0;
}

/* d_type, or the type from fstatat() where the filesystem gives DT_UNKNOWN */
static unsigned char entry_type(DIR *d, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type;
	if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return DT_UNKNOWN;
	return S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG :
	       DT_UNKNOWN;
}

/*
 * Pick a random entry of `dir`, of the wanted kind (DT_DIR or DT_REG), into
 * `name`.  Returns the number of candidates (0: none).
 */
static int pick_in_dir(struct fss_proc *p, const char *dir, unsigned char type,
		       char *name, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int seen = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || entry_type(d, de) != type)
			continue;
		/* reservoir sampling: one pass, uniform choice */
		if (rnd_below(p, ++seen) == 0)
			snprintf(name, len, "%s", de->d_name);
	}
	closedir(d);
	return seen;
}

/* A random directory of the subtree, by walking down from the root. */
static void pick_dir(struct fss_proc *p, char *path)
{
	char name[NAME_MAX + 1];
	int d = 0;

	snprintf(path, PATH_MAX, "%s", p->root);
	while (d < MAX_DEPTH && rnd_below(p, 3) &&
	       pick_in_dir(p, path, DT_DIR, name, sizeof(name))) {
		size_t l = strlen(path);

		snprintf(path + l, PATH_MAX - l, "/%s", name);
		d++;
	}
}

/* A random regular file; false if the chosen directory holds none. */
static bool pick_file(struct fss_proc *p, char *path)
{
	char name[NAME_MAX + 1];
	size_t l;

	pick_dir(p, path);
	if (!pick_in_dir(p, path, DT_REG, name, sizeof(name))) {
		/* none there: try the root, where most files are made */
		snprintf(path, PATH_MAX, "%s", p->root);
		if (!pick_in_dir(p, path, DT_REG, name, sizeof(name)))
			return false;
	}
	l = strlen(path);
	snprintf(path + l, PATH_MAX - l, "/%s", name);
	return true;
}

/* A new, unused name in a random directory. */
static void new_name(struct fss_proc *p, char *path, char kind)
{
	size_t l;

	pick_dir(p, path);
	l = strlen(path);
	snprintf(path + l, PATH_MAX - l, "/%c%" PRIu64, kind, p->names++);
}

/*
 * Account the result of one call.  Returns 0, or -1 after reporting an
 * unexpected error.
 */
static int account(struct fss_proc *p, int op, int rc, int err,
		   const char *path)
{
	if (p->cfg->verbose)
		printf("%d: %s %s = %d%s%s\n", p->id, op_names[op], path, rc,
		       rc < 0 ? " " : "", rc < 0 ? strerror(err) : "");
	if (rc >= 0) {
		p->st->done[op]++;
		return 0;
	}
	if ((p->cfg->enospc_ok && (err == ENOSPC || err == EDQUOT)) ||
	    (op == OP_RMDIR && (err == ENOTEMPTY || err == EEXIST))) {
		p->st->expected_err[op]++;
		return 0;
	}
	if (op == OP_SETXATTR && err == EOPNOTSUPP) {
		p->xattr_off = true;
		p->st->expected_err[op]++;
		return 0;
	}
	fprintf(stderr, "fsstress-lite[%d]: %s %s: %s\n", p->id, op_names[op],
		path, strerror(err));
	p->st->unexpected++;
	return -1;
}

static int do_create(struct fss_proc *p, char *path)
{
	int fd, err;

	new_name(p, path, 'f');
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
	err = errno;
	if (fd >= 0)
		close(fd);
	return account(p, OP_CREATE, fd, err, path);
}

static int do_write(struct fss_proc *p, char *path)
{
	uint64_t off = rnd_below(p, p->cfg->maxsize);
	size_t len = 1 + rnd_below(p, MAX_WRITE);
	ssize_t r = -1;
	int fd, err;

	fd = open(path, O_WRONLY);
	err = errno;
	if (fd >= 0) {
		memset(p->buf, 'a' + (int)(off % 26), len);
		r = pwrite(fd, p->buf, len, off);
		err = errno;
		close(fd);
	}
	return account(p, OP_WRITE, r < 0 ? -1 : 0, err, path);
}

static int do_rename(struct fss_proc *p, char *path)
{
	char dst[PATH_MAX];
	size_t l;
	int rc;

	if (rnd_below(p, 3) == 0) {
		/* a directory, to a directory that is not inside it */
		pick_dir(p, path);
		new_name(p, dst, 'd');
		l = strlen(path);
		if (!strcmp(path, p->root) ||
		    (!strncmp(dst, path, l) && dst[l] == '/'))
			return 0;
	} else {
		if (!pick_file(p, path))
			return do_create(p, path);
		/* sometimes over an existing file, to exercise overwrite */
		if (rnd_below(p, 4) || !pick_file(p, dst))
			new_name(p, dst, 'f');
	}
	rc = rename(path, dst);
	return account(p, OP_RENAME, rc, errno, path);
}

static int do_xattr(struct fss_proc *p, char *path)
{
	char name[32];
	size_t len = 1 + rnd_below(p, 256);
	int rc;

	if (p->xattr_off)
		return 0;
	if (rnd_below(p, 2) || !pick_file(p, path))
		pick_dir(p, path);
	snprintf(name, sizeof(name), "user.fss.%d", (int)rnd_below(p, 8));
	memset(p->buf, 'x', len);
	rc = setxattr(path, name, p->buf, len, 0);
	return account(p, OP_SETXATTR, rc, errno, path);
}

static int do_fsync(struct fss_proc *p, char *path)
{
	int fd, rc, err;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return account(p, OP_FSYNC, -1, errno, path);
	rc = rnd_below(p, 2) ? fsync(fd) : fdatasync(fd);
	err = errno;
	close(fd);
	return account(p, OP_FSYNC, rc, err, path);
}

static int do_readdir(struct fss_proc *p, char *path)
{
	DIR *d;
	int n = 0, err;

	pick_dir(p, path);
	d = opendir(path);
	if (!d)
		return account(p, OP_READDIR, -1, errno, path);
	errno = 0;
	while (readdir(d))
		n++;
	err = errno;
	closedir(d);
	return account(p, OP_READDIR, err ? -1 : n, err, path);
}

/* Operations that need an existing regular file. */
static int do_file_op(struct fss_proc *p, int op, char *path)
{
	char dst[PATH_MAX];
	int rc;

	if (!pick_file(p, path))
		return do_create(p, path);
	switch (op) {
	case OP_LINK:
		new_name(p, dst, 'f');
		rc = link(path, dst);
		break;
	case OP_UNLINK:
		rc = unlink(path);
		break;
	case OP_TRUNCATE:
		rc = truncate(path, rnd_below(p, p->cfg->maxsize));
		break;
	case OP_WRITE:
		return do_write(p, path);
	default:
		return do_fsync(p, path);
	}
	return account(p, op, rc, errno, path);
}

static int run_one(struct fss_proc *p, int op)
{
	char path[PATH_MAX];
	int rc;

	switch (op) {
	case OP_CREATE:
		return do_create(p, path);
	case OP_MKDIR:
		new_name(p, path, 'd');
		rc = mkdir(path, 0755);
		return account(p, op, rc, errno, path);
	case OP_RENAME:
		return do_rename(p, path);
	case OP_RMDIR:
		pick_dir(p, path);
		if (!strcmp(path, p->root))
			return 0;
		rc = rmdir(path);
		return account(p, op, rc, errno, path);
	case OP_SETXATTR:
		return do_xattr(p, path);
	case OP_READDIR:
		return do_readdir(p, path);
	default:
		return do_file_op(p, op, path);
	}
}

static int pick_op(struct fss_proc *p)
{
	unsigned int total = 0, x;
	int op;

	for (op = 0; op < OP_NR; op++)
		total += op_weight[op];
	x = rnd_below(p, total);
	for (op = 0; x >= op_weight[op]; op++)
		x -= op_weight[op];
	return op;
}

/* Body of child process `id`; returns its exit status. */
static int child_main(const struct fss *cfg, int id, struct fss_stats *st)
{
	struct fss_proc p = { .cfg = cfg, .id = id, .st = st };
	time_t end = time(NULL) + cfg->seconds;
	uint64_t i;

	p.rng = (cfg->seed + 1) * 0x9E3779B97F4A7C15ULL + id * 0xBF58476D1CE4E5B9ULL;
	if (!p.rng)
		p.rng = 1;
	p.xattr_off = cfg->no_xattr;
	snprintf(p.root, sizeof(p.root), "%s/p%d", cfg->dir, id);
	p.buf = malloc(MAX_WRITE);
	if (!p.buf)
		return 1;
	if (mkdir(p.root, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "fsstress-lite[%d]: mkdir %s: %s\n", id, p.root,
			strerror(errno));
		return 1;
	}
	for (i = 0; cfg->seconds ? time(NULL) < end : i < cfg->nops; i++)
		run_one(&p, pick_op(&p));
	free(p.buf);
	return st->unexpected ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
"usage: fsstress-lite -d DIR [options]\n"
"  -d dir      directory to work in (created if missing)\n"
"  -p procs    number of processes (default 1)\n"
"  -n ops      operations per process (default 1000)\n"
"  -t seconds  run for this long instead of -n\n"
"  -s seed     random seed (default: from time and pid, printed)\n"
"  -m bytes    largest file offset written (default 1048576)\n"
"  -e          ENOSPC/EDQUOT are expected (filling the device on purpose)\n"
"  -x          no setxattr\n"
"  -v          print every operation\n");
	exit(2);
}

static void parse_args(struct fss *cfg, int argc, char **argv)
{
	bool seeded = false;
	int c;

	while ((c = getopt(argc, argv, "d:p:n:t:s:m:exvh")) != -1) {
		switch (c) {
		case 'd': cfg->dir = optarg; break;
		case 'p': cfg->nproc = atoi(optarg); break;
		case 'n': cfg->nops = strtoull(optarg, NULL, 0); break;
		case 't': cfg->seconds = atoi(optarg); break;
		case 's':
			cfg->seed = strtoull(optarg, NULL, 0);
			seeded = true;
			break;
		case 'm': cfg->maxsize = strtoull(optarg, NULL, 0); break;
		case 'e': cfg->enospc_ok = true; break;
		case 'x': cfg->no_xattr = true; break;
		case 'v': cfg->verbose = true; break;
		default: usage();
		}
	}
	if (!cfg->dir || optind != argc || cfg->nproc < 1 || !cfg->maxsize)
		usage();
	if (!seeded)
		cfg->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
}

static void print_stats(const struct fss *cfg, const struct fss_stats *st)
{
	uint64_t done, exp, unexp = 0, total = 0;
	int op, i;

	for (i = 0; i < cfg->nproc; i++)
		unexp += st[i].unexpected;
	for (op = 0; op < OP_NR; op++) {
		done = exp = 0;
		for (i = 0; i < cfg->nproc; i++) {
			done += st[i].done[op];
			exp += st[i].expected_err[op];
		}
		total += done;
		printf("  %-9s %8" PRIu64 " ok %6" PRIu64 " expected errors\n",
		       op_names[op], done, exp);
	}
	printf("fsstress-lite: %" PRIu64 " ops ok, %" PRIu64
	       " unexpected errors\n", total, unexp);
}

int main(int argc, char **argv)
{
	struct fss cfg = { .nproc = 1, .nops = 1000, .maxsize = 1 << 20 };
	struct fss_stats *st;
	int i, status, failed = 0;
	pid_t pid;

	parse_args(&cfg, argc, argv);
	if (mkdir(cfg.dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "fsstress-lite: mkdir %s: %s\n", cfg.dir,
			strerror(errno));
		return 1;
	}
	st = mmap(NULL, cfg.nproc * sizeof(*st), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED)
		return 1;
	printf("fsstress-lite: %d procs, seed %" PRIu64 ", %s %" PRIu64 "\n",
	       cfg.nproc, cfg.seed, cfg.seconds ? "seconds" : "ops/proc",
	       cfg.seconds ? cfg.seconds : cfg.nops);
	fflush(stdout);
	for (i = 0; i < cfg.nproc; i++) {
		pid = fork();
		if (pid < 0) {
			perror("fsstress-lite: fork");
			failed = 1;
			break;
		}
		if (pid == 0)
			_exit(child_main(&cfg, i, &st[i]));
	}
	while ((pid = wait(&status)) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed = 1;
	print_stats(&cfg, st);
	return failed;
}
