// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The CQ reaper, one thread per ring ("iomapfs-irq/N"): the analogue of the
 * hardware interrupt.  It is in atomic context for its whole life
 * (atomic_ctx_enter()), so any ->bi_end_io work that may sleep must go
 * through bio_complete_in_task(); might_sleep() catches the rest in debug
 * builds.
 *
 * For each CQE it turns the result into bi_status, resubmits the rest of a
 * short read or write, and calls bio_endio().  It stops on the NOP that
 * blk_dev_close() queues once nothing is in flight.
 */
#include "blk.h"

#include <string.h>

/*
 * Build the iovec array for the part of @bio after its first bi_done bytes,
 * terminated by a zero-length entry.  Reaper; small allocation, no lock.
 */
static void bio_build_remainder(struct bio *bio)
{
	uint32_t skip = bio->bi_done;
	unsigned i, n = 0;
	struct iovec *rem;

	rem = kzalloc((bio->bi_vcnt + 1) * sizeof(*rem));
	for (i = 0; i < bio->bi_vcnt; i++) {
		const struct iovec *v = &bio->bi_io_vec[i];

		if (skip >= v->iov_len) {
			skip -= v->iov_len;
			continue;
		}
		rem[n].iov_base = (char *)v->iov_base + skip;
		rem[n].iov_len = v->iov_len - skip;
		skip = 0;
		n++;
	}
	kfree(bio->bi_remain_vec);
	bio->bi_remain_vec = rem;
}

/* Returns true if the bio was resubmitted and has not ended yet. */
static bool reaper_handle_rw(struct blk_ring *r, struct bio *bio, int res)
{
	if (res < 0) {
		bio->bi_status = res;
		return false;
	}
	if (res == 0 && bio->bi_size > bio->bi_done) {
		bio->bi_status = -EIO;	/* nothing more to read/write: past the end */
		return false;
	}
	bio->bi_done += res;
	if (bio->bi_done >= bio->bi_size)
		return false;
	/* Short read or write: queue the remainder, keep the in-flight slot. */
	blk_count(&r->dev->stats.io_resubmits, 1);
	bio_build_remainder(bio);
	ring_requeue(r, bio);
	return true;
}

static void reaper_log_error(struct blk_ring *r, const struct bio *bio)
{
	if (atomic_load(&bio->bi_flags) & BIO_QUIET)
		return;
	iomapfs_err("%s: I/O error %s, op %d, sector %llu, %u bytes",
		r->dev->path, strerror(-bio->bi_status), bio->bi_op,
		(unsigned long long)bio->bi_sector, bio->bi_size);
}

static void reaper_handle_cqe(struct blk_ring *r, struct bio *bio, int res)
{
	if (bio->bi_inject_status) {
		bio->bi_status = bio->bi_inject_status;	/* the fault a backend injected */
	} else if (bio->bi_op == REQ_OP_FLUSH) {
		if (res < 0)
			bio->bi_status = res;
	} else if (reaper_handle_rw(r, bio, res)) {
		return;
	}
	if (bio->bi_status)
		reaper_log_error(r, bio);
	bio_endio(bio);
	ring_put_inflight(r);
}

/* Completions reaped before the plug is released even if more are ready. */
#define REAPER_PASS_MAX	16

/* The reaper thread.  Returns when it reaps the stop NOP. */
void *blk_reaper_fn(void *arg)
{
	struct blk_ring *r = arg;
	unsigned pass = 0;
	bool stop = false;

	thread_set_name("iomapfs-irq/%u", r->index);
	atomic_ctx_enter();
	blk_reaper_plug(r->dev);
	while (!stop) {
		struct io_uring_cqe *cqe;
		int ret = io_uring_peek_cqe(&r->ring, &cqe);

		if (ret == -EAGAIN || ++pass == REAPER_PASS_MAX) {
			/* The pass is over (or long enough that a steady
			 * stream of completions must not starve the workers):
			 * wake whom it queued work for. */
			blk_reaper_unplug(r->dev);
			pass = 0;
			if (ret == -EAGAIN)
				ret = io_uring_wait_cqe(&r->ring, &cqe);
			blk_reaper_plug(r->dev);
		}

		if (ret < 0) {
			if (ret != -EINTR && ret != -EAGAIN)
				WARN_ON_ONCE(ret);
			continue;
		}
		/* Pairs with the release in ring_prep_locked(). */
		atomic_load_explicit(&r->sq_seq, memory_order_acquire);
		if (io_uring_cqe_get_data64(cqe) == BLK_RING_STOP_TAG) {
			stop = true;
		} else {
			struct bio *bio = io_uring_cqe_get_data(cqe);
			int res = cqe->res;

			io_uring_cqe_seen(&r->ring, cqe);
			reaper_handle_cqe(r, bio, res);
			continue;
		}
		io_uring_cqe_seen(&r->ring, cqe);
	}
	blk_reaper_unplug(r->dev);
	atomic_ctx_exit();
	return NULL;
}
