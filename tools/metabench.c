// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * metabench: metadata operation rates on any mounted filesystem, so that
 * iomapfs and a kernel filesystem on the same device can be compared in one
 * run (tools/metabench.sh does that).
 *
 *   metabench [-n FILES] [-p PROCS] [-s SLICE] [-k] DIR   create/stat/readdir/unlink
 *   metabench -w TREE [-r ROUNDS]                 ls -l style walk of TREE
 *
 * Each of PROCS processes works in its own directory DIR/mb.<pid>.<i> on
 * FILES empty files.  The phases run in lockstep: every process waits at a
 * barrier before a phase, and a phase's rate is the total number of
 * operations divided by the wall time from the barrier to the last process
 * done.  Phases:
 *   create   open(O_CREAT|O_EXCL|O_WRONLY) + close of each name
 *   stat     stat() of each name, in creation order
 *   readdir  one full readdir of the directory (rate: entries per second)
 *   unlink   unlink() of each name
 * -k keeps the files (skips unlink).  Output, one line per phase:
 *   <phase> procs=<P> files=<N> ops=<total> secs=<s> rate=<ops/s>
 * -s SLICE also prints, as it goes, the rate of every SLICE consecutive
 * names of each process, so that a large directory shows whether the cost
 * per operation grows with its size (-n 1000000 -s 100000: ten slices that
 * should be flat if directory operations are O(log n)):
 *   slice <phase> proc=<i> files=<first>-<last> secs=<s> rate=<ops/s>
 *
 * The walk (-w) opens every directory of TREE and lstat()s every entry,
 * as `ls -lR` does; it prints entries per second.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum phase { PH_CREATE, PH_STAT, PH_READDIR, PH_UNLINK, PH_NR };
static const char *const phase_name[PH_NR] = { "create", "stat", "readdir", "unlink" };

/* Shared between the processes: a barrier and each phase's end times. */
struct shared {
	pthread_barrier_t	barrier;
	double			start[PH_NR];
	double			end[PH_NR];	/* latest finish */
	unsigned long		ops[PH_NR];
	pthread_mutex_t		lock;
	int			failed;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "metabench: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

/* Per-process settings of a run. */
struct run {
	const char	*dir;
	unsigned long	n, slice;	/* slice 0: no per-slice lines */
	unsigned	idx;		/* this process's number */
};

/* Names [i + 1 - slice, i] are done: report their rate. */
static void slice_done(const struct run *r, enum phase ph, unsigned long i,
		       double *t0)
{
	double t = now();

	printf("slice %-7s proc=%u files=%lu-%lu secs=%.3f rate=%.0f\n",
	       phase_name[ph], r->idx, i + 1 - r->slice, i, t - *t0,
	       t > *t0 ? r->slice / (t - *t0) : 0.0);
	fflush(stdout);
	*t0 = t;
}

static unsigned long run_phase(enum phase ph, const struct run *r)
{
	const char *dir = r->dir;
	unsigned long n = r->n;
	double t0 = now();
	char path[PATH_MAX + 32];
	unsigned long done = 0;
	struct stat st;

	if (ph == PH_READDIR) {
		DIR *d = opendir(dir);
		struct dirent *de;

		if (!d)
			die("opendir", dir);
		while ((de = readdir(d)))
			done++;
		closedir(d);
		return done;
	}
	for (unsigned long i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/f%08lu", dir, i);
		switch (ph) {
		case PH_CREATE: {
			int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);

			if (fd < 0)
				die("create", path);
			close(fd);
			break;
		}
		case PH_STAT:
			if (stat(path, &st))
				die("stat", path);
			break;
		case PH_UNLINK:
			if (unlink(path))
				die("unlink", path);
			break;
		default:
			break;
		}
		done++;
		if (r->slice && (i + 1) % r->slice == 0)
			slice_done(r, ph, i, &t0);
	}
	return done;
}

static void child(struct shared *sh, const struct run *r, bool keep)
{
	for (int ph = 0; ph < PH_NR; ph++) {
		if (ph == PH_UNLINK && keep)
			break;
		if (pthread_barrier_wait(&sh->barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
			sh->start[ph] = now();
		pthread_barrier_wait(&sh->barrier);	/* start is set */
		unsigned long ops = run_phase(ph, r);
		double t = now();

		pthread_mutex_lock(&sh->lock);
		sh->ops[ph] += ops;
		if (t > sh->end[ph])
			sh->end[ph] = t;
		pthread_mutex_unlock(&sh->lock);
	}
}

static struct shared *shared_new(unsigned procs)
{
	pthread_barrierattr_t ba;
	pthread_mutexattr_t ma;
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (sh == MAP_FAILED)
		die("mmap", "shared");
	memset(sh, 0, sizeof(*sh));
	pthread_barrierattr_init(&ba);
	pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
	pthread_barrier_init(&sh->barrier, &ba, procs);
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&sh->lock, &ma);
	return sh;
}

static int bench_files(const char *top, unsigned long n, unsigned long slice,
		       unsigned procs, bool keep)
{
	struct shared *sh = shared_new(procs);
	char dir[PATH_MAX];
	int status, rc = 0;

	for (unsigned p = 0; p < procs; p++) {
		snprintf(dir, sizeof(dir), "%s/mb.%d.%u", top, (int)getpid(), p);
		if (mkdir(dir, 0755))
			die("mkdir", dir);
	}
	for (unsigned p = 0; p < procs; p++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork", "");
		if (pid == 0) {
			struct run r = { .dir = dir, .n = n, .slice = slice, .idx = p };

			snprintf(dir, sizeof(dir), "%s/mb.%d.%u", top, (int)getppid(), p);
			child(sh, &r, keep);
			_exit(0);
		}
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			rc = 1;
	if (rc)
		return rc;
	for (int ph = 0; ph < PH_NR; ph++) {
		if (ph == PH_UNLINK && keep)
			break;
		double secs = sh->end[ph] - sh->start[ph];

		printf("%-8s procs=%u files=%lu ops=%lu secs=%.3f rate=%.0f\n",
		       phase_name[ph], procs, n, sh->ops[ph], secs,
		       secs > 0 ? sh->ops[ph] / secs : 0.0);
	}
	if (!keep)
		for (unsigned p = 0; p < procs; p++) {
			snprintf(dir, sizeof(dir), "%s/mb.%d.%u", top, (int)getpid(), p);
			if (rmdir(dir))
				die("rmdir", dir);
		}
	return 0;
}

static unsigned long walk(const char *path)
{
	char child_path[PATH_MAX + 256];
	unsigned long n = 0;
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(path);

	if (!d)
		die("opendir", path);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(child_path, sizeof(child_path), "%s/%s", path, de->d_name);
		if (lstat(child_path, &st))
			die("lstat", child_path);
		n++;
		if (S_ISDIR(st.st_mode))
			n += walk(child_path);
	}
	closedir(d);
	return n;
}

static int bench_walk(const char *tree, unsigned rounds)
{
	for (unsigned r = 0; r < rounds; r++) {
		double t0 = now();
		unsigned long n = walk(tree);
		double secs = now() - t0;

		printf("walk     round=%u entries=%lu secs=%.3f rate=%.0f\n",
		       r + 1, n, secs, secs > 0 ? n / secs : 0.0);
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: metabench [-n FILES] [-p PROCS] [-s SLICE] [-k] DIR\n"
			"       metabench -w TREE [-r ROUNDS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long n = 10000, slice = 0;
	unsigned procs = 1, rounds = 2;
	const char *tree = NULL;
	bool keep = false;
	int c;

	while ((c = getopt(argc, argv, "n:p:s:kw:r:h")) != -1) {
		switch (c) {
		case 's': slice = strtoul(optarg, NULL, 0); break;
		case 'n': n = strtoul(optarg, NULL, 0); break;
		case 'p': procs = strtoul(optarg, NULL, 0); break;
		case 'k': keep = true; break;
		case 'w': tree = optarg; break;
		case 'r': rounds = strtoul(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (tree)
		return optind == argc ? bench_walk(tree, rounds) : (usage(), 2);
	if (optind != argc - 1 || !n || !procs || procs > 64)
		usage();
	return bench_files(argv[optind], n, slice, procs, keep);
}
