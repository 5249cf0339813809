// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Helpers shared by the iouring/ unit suites (see blk_test.h).
 */
#include "blk_test.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

atomic_int tio_final_calls;
atomic_int tio_first_calls;

int blk_test_run(Suite *s)
{
	return unit_run(s, "blk");
}

void blk_test_image(char *path, size_t pathlen, const char *name, uint64_t size)
{
	int fd;

	snprintf(path, pathlen, "%s/%s-%d.img", unit_scratch_dir, name, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, size), 0);
	close(fd);
}

void *abuf(size_t len)
{
	void *p = NULL;

	ck_assert_int_eq(posix_memalign(&p, 4096, len), 0);
	memset(p, 0, len);
	return p;
}

void fill_pattern(void *buf, size_t len, unsigned seed)
{
	unsigned char *b = buf;
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (unsigned char)(i * 31 + seed * 7 + (i >> 12));
}

void current_comm(char comm[16])
{
	memset(comm, 0, 16);
	prctl(PR_GET_NAME, comm);
}

bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

void tio_init(struct tio *t, bool defer)
{
	memset(t, 0, sizeof(*t));
	t->defer = defer;
}

static bool tio_try_defer(struct tio *t, struct bio *bio)
{
	if (t->always_defer) {
		/*
		 * The re-offload loop the series' review found: a worker that still looks atomic (no preempt
		 * count) would offload the bio again, forever.  Pretend to be
		 * such a worker.
		 */
		bool fake = !in_atomic_ctx();
		bool ret;

		if (fake)
			atomic_ctx_enter();
		ret = bio_complete_in_task(bio);
		if (fake)
			atomic_ctx_exit();
		return ret;
	}
	if (t->defer_on_error)
		return bio->bi_status && bio_complete_in_task(bio);
	return t->defer && bio_complete_in_task(bio);
}

/*
 * Runs in the reaper, a worker, or a submitting thread.  Records the call,
 * defers when asked, and on the final call records the status.
 */
void tio_end_io(struct bio *bio)
{
	struct tio *t = bio->bi_private;
	/*
	 * Count the call before deferring: once bio_complete_in_task() has
	 * queued the bio, a worker may run the next call at once, and this
	 * call must not touch the bio or its tracker any more (the kernel's
	 * rule too).
	 */
	int n = atomic_fetch_add(&t->calls, 1);
	bool deferred;

	if (n < TIO_MAX_CALLS) {
		current_comm(t->comm[n]);
		t->atomic_ctx[n] = in_atomic_ctx();
	}
	if (n == 0)
		atomic_fetch_add(&tio_first_calls, 1);
	if (n < TIO_MAX_CALLS)
		t->deferred[n] = true;	/* before: the worker may run at once */
	deferred = tio_try_defer(t, bio);
	if (deferred)
		return;
	if (n < TIO_MAX_CALLS)
		t->deferred[n] = false;
	t->status = bio->bi_status;
	if (t->batch_cb)
		bio_task_batch_add_cb(t->batch_cb);
	bio_put(bio);
	atomic_store(&t->ended, 1);
	atomic_fetch_add(&tio_final_calls, 1);
}

struct bio *tio_bio(struct blk_dev *dev, enum req_op op, void *buf, size_t len,
		    uint64_t off, struct tio *t)
{
	struct bio *bio = bio_alloc(dev, len ? 1 : 0, op);

	bio->bi_sector = off >> SECTOR_SHIFT;
	bio->bi_end_io = tio_end_io;
	bio->bi_private = t;
	if (len)
		ck_assert(bio_add_buf(bio, buf, len));
	return bio;
}

bool wait_atomic_ge(atomic_int *v, int target)
{
	struct timespec ts = { 0, 1000 * 1000 };
	int i;

	for (i = 0; i < 30000; i++) {
		if (atomic_load(v) >= target)
			return true;
		nanosleep(&ts, NULL);
	}
	return atomic_load(v) >= target;
}

bool wait_deferred(struct blk_dev *dev, uint64_t nr)
{
	struct timespec ts = { 0, 1000 * 1000 };
	struct blk_stats st;
	int i;

	for (i = 0; i < 30000; i++) {
		blk_dev_get_stats(dev, &st);
		if (st.deferred >= nr)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

struct blk_dev *open_dev(const char *path, const struct blk_dev_config *cfg)
{
	struct blk_dev *dev = NULL;

	ck_assert_int_eq(blk_dev_open(path, cfg, &dev), 0);
	ck_assert_ptr_nonnull(dev);
	return dev;
}
