// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Synchronous I/O for metadata, mkfs and fsck (submit_bio_wait() and
 * blkdev_issue_flush()): build bios, submit them, and sleep on a
 * completion that the reaper signals with a futex wake, no lock taken.
 * Buffers that are not aligned for O_DIRECT go through an aligned bounce
 * buffer, so callers need not care.
 */
#include "blk.h"

#include <string.h>

#define BLK_ALIGN	4096u

void blk_complete(struct blk_completion *c)
{
	atomic_store(&c->done, 1);
	futex_wake(&c->done, FUTEX_WAKE_ALL);
}

void blk_wait_for_completion(struct blk_completion *c)
{
	while (!atomic_load(&c->done))
		futex_wait(&c->done, 0, 0);
}

/*
 * Several bios share one waiter: the last to end signals it.  The status
 * of the first failing bio wins.
 */
struct blk_sync_wait {
	struct blk_completion	done;
	atomic_int		remaining;
	atomic_int		status;
};

static void blk_sync_put(struct blk_sync_wait *w)
{
	if (atomic_fetch_sub(&w->remaining, 1) == 1)
		blk_complete(&w->done);
}

/* Reaper, or the submitter on a submission failure. */
static void blk_sync_end_io(struct bio *bio)
{
	struct blk_sync_wait *w = bio->bi_private;
	int zero = 0;

	if (bio->bi_status)
		atomic_compare_exchange_strong(&w->status, &zero, bio->bi_status);
	bio_put(bio);
	blk_sync_put(w);
}

static struct bio *blk_sync_bio(struct blk_dev *dev, enum req_op op,
				struct blk_sync_wait *w)
{
	struct bio *bio = bio_alloc(dev, op == REQ_OP_FLUSH ? 0 : 1, op);

	bio->bi_end_io = blk_sync_end_io;
	bio->bi_private = w;
	atomic_fetch_add(&w->remaining, 1);
	return bio;
}

/* Submit @len bytes at @buf in bios of at most BIO_MAX_SIZE, then wait. */
static int blk_rw_sync_aligned(struct blk_dev *dev, enum req_op op, enum bio_class cls,
			       char *buf, size_t len, uint64_t byte_off)
{
	struct blk_sync_wait w = { .remaining = 1 };

	while (len) {
		uint32_t chunk = min_t(size_t, len, BIO_MAX_SIZE);
		struct bio *bio = blk_sync_bio(dev, op, &w);

		bio->bi_class = cls;
		bio->bi_sector = byte_off >> SECTOR_SHIFT;
		bio_add_buf(bio, buf, chunk);
		submit_bio(bio);
		buf += chunk;
		byte_off += chunk;
		len -= chunk;
	}
	blk_sync_put(&w);	/* the submitter's own reference */
	blk_wait_for_completion(&w.done);
	return atomic_load(&w.status);
}

/*
 * Task context.  Read or write @len bytes at @byte_off; both must be
 * multiples of the logical block size.  Returns 0 or -errno.
 */
int blk_rw_sync(struct blk_dev *dev, enum req_op op, void *buf, size_t len,
		uint64_t byte_off)
{
	return blk_rw_sync_class(dev, op, BIO_CLASS_NONE, buf, len, byte_off);
}

int blk_rw_sync_class(struct blk_dev *dev, enum req_op op, enum bio_class cls,
		      void *buf, size_t len, uint64_t byte_off)
{
	unsigned lbs = blk_dev_logical_block_size(dev);
	void *bounce;
	int ret;

	might_sleep();
	if (op == REQ_OP_FLUSH)
		return blkdev_issue_flush(dev);
	if ((len % lbs) || (byte_off % lbs))
		return -EINVAL;
	if (!len)
		return 0;
	if (!((uintptr_t)buf % BLK_ALIGN))
		return blk_rw_sync_aligned(dev, op, cls, buf, len, byte_off);
	if (posix_memalign(&bounce, BLK_ALIGN, len))
		return -ENOMEM;
	if (op == REQ_OP_WRITE)
		memcpy(bounce, buf, len);
	ret = blk_rw_sync_aligned(dev, op, cls, bounce, len, byte_off);
	if (op == REQ_OP_READ && !ret)
		memcpy(buf, bounce, len);
	free(bounce);
	return ret;
}

/* Task context: a device cache flush (an io_uring fsync).  0 or -errno. */
int blkdev_issue_flush(struct blk_dev *dev)
{
	struct blk_sync_wait w = { .remaining = 1 };

	might_sleep();
	submit_bio(blk_sync_bio(dev, REQ_OP_FLUSH, &w));
	blk_sync_put(&w);
	blk_wait_for_completion(&w.done);
	return atomic_load(&w.status);
}
