// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The bio itself (block/bio.c): allocation from a dedicated jemalloc arena,
 * adding buffers, and bio_endio(), the one place every completion goes
 * through.  The memory of a bio is allocated by task threads and freed by
 * the reaper or a worker, hence its own arena (docs: a jemalloc arena per hot type).
 */
#include "blk.h"

#include <string.h>

_Thread_local struct bio *blk_tls_endio_bio;

static pthread_once_t bio_arena_once = PTHREAD_ONCE_INIT;
static unsigned bio_arena;

static void bio_arena_init(void)
{
	bio_arena = mem_arena_create();
}

struct bio *bio_alloc_bioset(struct blk_dev *dev, unsigned nr_vecs,
			     enum req_op op, size_t front_pad)
{
	struct bio *bio;
	char *mem;

	if (WARN_ON_ONCE(nr_vecs > BIO_MAX_VECS))
		nr_vecs = BIO_MAX_VECS;
	pthread_once(&bio_arena_once, bio_arena_init);
	mem = kzalloc_arena(front_pad + sizeof(*bio) + nr_vecs * sizeof(struct iovec),
			    bio_arena);
	bio = (struct bio *)(mem + front_pad);
	bio->bi_dev = dev;
	bio->bi_op = op;
	bio->bi_max_vecs = nr_vecs;
	bio->bi_io_vec = bio->bi_inline_vecs;
	bio->bi_front_pad = front_pad;
	return bio;
}

struct bio *bio_alloc(struct blk_dev *dev, unsigned nr_vecs, enum req_op op)
{
	return bio_alloc_bioset(dev, nr_vecs, op, 0);
}

/* Any thread: usually ->bi_end_io, in the reaper or a worker. */
void bio_put(struct bio *bio)
{
	if (!bio)
		return;
	kfree(bio->bi_remain_vec);
	kfree_arena((char *)bio - bio->bi_front_pad, bio_arena);
}

static bool bio_buf_aligned(const struct bio *bio, const void *buf, uint32_t len)
{
	unsigned lbs = bio->bi_dev ? blk_dev_logical_block_size(bio->bi_dev) : SECTOR_SIZE;

	return !((uintptr_t)buf % lbs) && !(len % lbs);
}

bool bio_add_buf(struct bio *bio, void *buf, uint32_t len)
{
	struct iovec *last = bio->bi_vcnt ? &bio->bi_io_vec[bio->bi_vcnt - 1] : NULL;

	if ((uint64_t)bio->bi_size + len > BIO_MAX_SIZE)
		return false;
	/* Misaligned buffers fail at the device with -EINVAL; say why once. */
	WARN_ON_ONCE(!bio_buf_aligned(bio, buf, len));
	if (last && (char *)last->iov_base + last->iov_len == (char *)buf) {
		last->iov_len += len;	/* physically contiguous: merge, as the kernel does */
	} else {
		if (bio->bi_vcnt >= bio->bi_max_vecs)
			return false;
		bio->bi_io_vec[bio->bi_vcnt].iov_base = buf;
		bio->bi_io_vec[bio->bi_vcnt].iov_len = len;
		bio->bi_vcnt++;
	}
	bio->bi_size += len;
	return true;
}

static void bio_account_completion(struct blk_dev *dev, const struct bio *bio)
{
	blk_count(&dev->stats.bios_completed, 1);
	if (bio->bi_status) {
		blk_count(&dev->stats.io_errors, 1);
		return;
	}
	if (bio->bi_op == REQ_OP_READ)
		blk_count(&dev->stats.bytes_read, bio->bi_size);
	else if (bio->bi_op == REQ_OP_WRITE)
		blk_count(&dev->stats.bytes_written, bio->bi_size);
}

/*
 * Called by bio_complete_in_task() before it queues @bio: if @bio is the one
 * this reaper is ending, it did not complete in the reaper after all.
 */
void bio_uncount_reaper_completion(struct bio *bio)
{
	if (blk_tls_endio_bio != bio)
		return;
	atomic_fetch_sub_explicit(&bio->bi_dev->stats.completed_in_reaper, 1,
				  memory_order_relaxed);
	blk_tls_endio_bio = NULL;
}

/*
 * Reaper (atomic context), or a submitter failing a bio it could not queue.
 * Every counter is updated before ->bi_end_io runs, so whoever sees the
 * completion's effects (a woken waiter) also sees it counted.  The bio may
 * be freed by ->bi_end_io: nothing touches it afterwards.
 */
void bio_endio(struct bio *bio)
{
	struct blk_dev *dev = bio->bi_dev;
	struct bio *outer = blk_tls_endio_bio;

	/*
	 * A bio without ->bi_end_io is a bug: its submitter can never learn
	 * that it ended, so a waiter would hang.  Debug builds abort here;
	 * release builds log an ERROR (which fails the test that hit it) and
	 * skip the call.  submit_bio() refuses such a bio before it is queued.
	 */
	if (BUG_ON_RECOVER(!bio->bi_end_io))
		return;
	if (!dev) {
		bio->bi_end_io(bio);
		return;
	}
	bio_account_completion(dev, bio);
	if (!in_atomic_ctx()) {
		bio->bi_end_io(bio);
		return;
	}
	blk_count(&dev->stats.completed_in_reaper, 1);
	blk_tls_endio_bio = bio;
	bio->bi_end_io(bio);
	blk_tls_endio_bio = outer;
}
