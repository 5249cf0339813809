// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The io_uring rings (the analogue of blk-mq hardware queues): setup and
 * teardown, the default backend that queues a bio as one SQE, in-flight
 * limiting so that CQEs never overflow, and the requeue path the reaper
 * uses to resubmit the rest of a short read or write.
 *
 * Several task threads submit to one ring at once; SQ access is serialised
 * by ring->sq_lock, held only around io_uring_get_sqe + io_uring_submit.
 * The reaper never waits on it.  In-flight slots are counted per ring and
 * capped at the CQ size: a submitter that finds the ring full sleeps on a
 * futex that the reaper wakes without taking any lock.
 */
#include "blk.h"

#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Task context: take an in-flight slot, sleeping while the ring is full. */
static void ring_get_inflight(struct blk_ring *r)
{
	for (;;) {
		unsigned cur = atomic_load(&r->inflight);

		if (cur < r->inflight_max) {
			if (atomic_compare_exchange_weak(&r->inflight, &cur, cur + 1))
				return;
			continue;
		}
		atomic_fetch_add(&r->inflight_waiters, 1);
		cur = atomic_load(&r->inflight);
		if (cur >= r->inflight_max)
			futex_wait(&r->inflight, cur, 0);
		atomic_fetch_sub(&r->inflight_waiters, 1);
	}
}

/* Reaper: a bio has ended; wake submitters (and close) waiting for a slot. */
void ring_put_inflight(struct blk_ring *r)
{
	atomic_fetch_sub(&r->inflight, 1);
	if (atomic_load(&r->inflight_waiters))
		futex_wake(&r->inflight, FUTEX_WAKE_ALL);
}

/* Called with sq_lock held: one SQE for @bio covering @vec at @off. */
static void ring_prep_locked(struct blk_ring *r, struct bio *bio,
			     const struct iovec *vec, unsigned nr_vecs, uint64_t off)
{
	struct io_uring_sqe *sqe;
	int fd = r->fixed_file ? 0 : r->dev->fd;

	while (!(sqe = io_uring_get_sqe(&r->ring)))
		io_uring_submit(&r->ring);	/* SQ full: push what is queued */
	if (bio->bi_inject_status)
		io_uring_prep_nop(sqe);		/* a fault: the reaper applies it */
	else if (bio->bi_op == REQ_OP_READ)
		io_uring_prep_readv(sqe, fd, vec, nr_vecs, off);
	else if (bio->bi_op == REQ_OP_WRITE)
		io_uring_prep_writev(sqe, fd, vec, nr_vecs, off);
	else
		io_uring_prep_fsync(sqe, fd, 0);
	if (r->fixed_file)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, bio);
	atomic_fetch_add_explicit(&r->sq_seq, 1, memory_order_release);
}

/*
 * Called with sq_lock held.  io_uring_submit() has published the SQE tail
 * before it enters the kernel, so a failed enter leaves the SQE queued:
 * retry until the kernel has taken it (only -EINTR/-EAGAIN/-EBUSY in
 * practice; the in-flight cap keeps -EBUSY away).
 */
static void ring_submit_locked(struct blk_ring *r)
{
	int ret;

	while ((ret = io_uring_submit(&r->ring)) < 0) {
		if (ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			WARN_ON_ONCE(ret);
		sched_yield();
	}
}

static void ring_flush_requeue_locked(struct blk_ring *r);

/* Task context: queue one bio (it already holds an in-flight slot). */
void ring_queue_bio(struct blk_ring *r, struct bio *bio, const struct iovec *vec,
		    unsigned nr_vecs, uint64_t off)
{
	pthread_mutex_lock(&r->sq_lock);
	ring_prep_locked(r, bio, vec, nr_vecs, off);
	ring_flush_requeue_locked(r);
	ring_submit_locked(r);
	pthread_mutex_unlock(&r->sq_lock);
	/* The reaper may have requeued while we held the lock. */
	if (atomic_load(&r->requeue))
		ring_requeue(r, NULL);
}

static void ring_prep_remainder_locked(struct blk_ring *r, struct bio *bio)
{
	const struct iovec *vec = bio->bi_remain_vec;
	unsigned nr = 0;

	while (vec[nr].iov_len)
		nr++;
	ring_prep_locked(r, bio, vec, nr, bio->bi_sector * SECTOR_SIZE + bio->bi_done);
}

static void ring_flush_requeue_locked(struct blk_ring *r)
{
	struct bio *bio = atomic_exchange(&r->requeue, NULL);

	while (bio) {
		struct bio *next = bio->bi_next;

		bio->bi_next = NULL;
		ring_prep_remainder_locked(r, bio);
		bio = next;
	}
}

/*
 * Reaper (or a submitter after unlocking, with @bio NULL): resubmit the rest
 * of a short I/O.  The bio keeps its in-flight slot.  The reaper must not
 * wait for sq_lock, so it pushes the bio on a lock-free list and submits
 * only if the trylock succeeds; otherwise the holder flushes the list
 * before or right after unlocking (ring_queue_bio), so nothing is left:
 *
 *   reaper: push; trylock fails      holder: ...; unlock; sees list; trylock
 */
void ring_requeue(struct blk_ring *r, struct bio *bio)
{
	if (bio) {
		struct bio *old = atomic_load(&r->requeue);

		do {
			bio->bi_next = old;
		} while (!atomic_compare_exchange_weak(&r->requeue, &old, bio));
	}
	while (atomic_load(&r->requeue) && !pthread_mutex_trylock(&r->sq_lock)) {
		ring_flush_requeue_locked(r);
		ring_submit_locked(r);
		pthread_mutex_unlock(&r->sq_lock);
	}
}

static struct blk_ring *blk_pick_ring(struct blk_dev *dev)
{
	int cpu;

	if (dev->nr_rings == 1)
		return &dev->rings[0];
	cpu = sched_getcpu();
	return &dev->rings[(cpu < 0 ? 0 : cpu) % dev->nr_rings];
}

/*
 * The io_uring backend.  Task context.  READ -> READV, WRITE -> WRITEV,
 * FLUSH -> FSYNC on the O_DIRECT fd, user_data = the bio.  A bio with
 * bi_inject_status set becomes a NOP that the reaper fails.
 */
void blk_dev_default_submit(struct blk_dev *dev, struct bio *bio)
{
	struct blk_ring *r = blk_pick_ring(dev);

	might_sleep();
	ring_get_inflight(r);
	bio->bi_submit_ns = ktime_get_ns();
	ring_queue_bio(r, bio, bio->bi_io_vec, bio->bi_vcnt,
		       bio->bi_sector * SECTOR_SIZE);
}

static int ring_start(struct blk_dev *dev, struct blk_ring *r, unsigned index)
{
	struct io_uring_params p;
	int ret;

	memset(&p, 0, sizeof(p));
	r->dev = dev;
	r->index = index;
	pthread_mutex_init(&r->sq_lock, NULL);
	ret = io_uring_queue_init_params(dev->cfg.queue_depth, &r->ring, &p);
	if (ret < 0) {
		iomapfs_err("%s: io_uring setup failed: %s",
			dev->path, strerror(-ret));
		return ret;
	}
	r->inflight_max = p.cq_entries;
	/* A registered fd saves an fget/fput per I/O; without it, plain fd. */
	r->fixed_file = !io_uring_register_files(&r->ring, &dev->fd, 1);
	ret = -pthread_create(&r->reaper, NULL, blk_reaper_fn, r);
	if (ret) {
		io_uring_queue_exit(&r->ring);
		return ret;
	}
	r->reaper_started = true;
	return 0;
}

/* Close: all in-flight I/O has ended; a NOP tells the reaper to leave. */
static void ring_stop(struct blk_ring *r)
{
	if (!r->reaper_started)
		return;
	pthread_mutex_lock(&r->sq_lock);
	{
		struct io_uring_sqe *sqe;

		while (!(sqe = io_uring_get_sqe(&r->ring)))
			io_uring_submit(&r->ring);
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data64(sqe, BLK_RING_STOP_TAG);
		ring_submit_locked(r);
	}
	pthread_mutex_unlock(&r->sq_lock);
	pthread_join(r->reaper, NULL);
	r->reaper_started = false;
	/*
	 * The ring's teardown is asynchronous and would hold the registered
	 * file, and so the flock, a while after close: a mount right after
	 * an unmount would find the device busy.  Unregistering is not.
	 */
	if (r->fixed_file)
		io_uring_unregister_files(&r->ring);
	io_uring_queue_exit(&r->ring);
}

int blk_rings_start(struct blk_dev *dev)
{
	unsigned i;
	int ret;

	dev->rings = kzalloc(dev->nr_rings * sizeof(*dev->rings));
	for (i = 0; i < dev->nr_rings; i++) {
		ret = ring_start(dev, &dev->rings[i], i);
		if (ret) {
			dev->nr_rings = i;	/* stop only what started */
			return ret;
		}
	}
	return 0;
}

void blk_rings_stop(struct blk_dev *dev)
{
	unsigned i;

	for (i = 0; i < dev->nr_rings; i++) {
		ring_stop(&dev->rings[i]);
		pthread_mutex_destroy(&dev->rings[i].sq_lock);
	}
	kfree(dev->rings);
	dev->rings = NULL;
}

bool blk_rings_idle(struct blk_dev *dev)
{
	unsigned i;

	for (i = 0; i < dev->nr_rings; i++)
		if (atomic_load(&dev->rings[i].inflight))
			return false;
	return true;
}

/* Task context: wait until no bio is in flight on any ring. */
void blk_rings_wait_idle(struct blk_dev *dev)
{
	unsigned i;

	for (i = 0; i < dev->nr_rings; i++) {
		struct blk_ring *r = &dev->rings[i];
		unsigned cur;

		atomic_fetch_add(&r->inflight_waiters, 1);
		while ((cur = atomic_load(&r->inflight)))
			futex_wait(&r->inflight, cur, 0);
		atomic_fetch_sub(&r->inflight_waiters, 1);
	}
}

int blk_dev_set_irq_affinity(struct blk_dev *dev, unsigned ring, unsigned cpu)
{
	cpu_set_t set;

	if (ring >= dev->nr_rings || cpu >= CPU_SETSIZE)
		return -EINVAL;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(dev->rings[ring].reaper, sizeof(set), &set);
}
