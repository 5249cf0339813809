// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Direct I/O (fs/iomap/direct-io.c): reads and writes that go between the
 * caller's buffer and the device without passing through folios.
 *
 * One call is one "dio": the range is mapped with ->map_begin, every mapped
 * or unwritten piece becomes bios built on the caller's buffer, holes and
 * unwritten ranges read as zeros without I/O.  Before the I/O the range's
 * dirty folios are written back (and, for a write, its cached folios are
 * invalidated); after a write they are invalidated again, so buffered and
 * direct users of one file stay coherent as in the kernel.
 *
 * Completion, as the IOCB_DIO_DEFER series has it: the work that needs a
 * task (unwritten conversion, the size update, invalidation, errors) runs
 * in the thread that issued the I/O when that thread waits for it (a
 * synchronous caller: every FUSE request thread), so the last bio's end_io
 * in the reaper only wakes the issuer.  Only an asynchronous dio, which
 * nobody waits for, hands that work to a per-CPU task worker through
 * bio_complete_in_task(); one that needs none (a successful read)
 * completes in the reaper.  iomapfs-stat counts where each ran.
 *
 *	issuer:  map, submit bios (ref per bio + 1)   drop its ref
 *	             |                                    |
 *	reaper:  bio end_io: first error wins, ref--      |
 *	             last ref, waiter?  --yes--> wake ----+--> dio_complete() in issuer
 *	                                --no---> needs task? --yes--> worker: dio_complete()
 *	                                                     --no---> reaper: dio_complete()
 */
#include "internal.h"

#include <limits.h>
#include <sched.h>
#include <string.h>

enum {
	DIO_WRITE	= 1u << 0,
	DIO_WAITER	= 1u << 1,	/* a synchronous issuer waits: it completes */
	DIO_UNWRITTEN	= 1u << 2,	/* wrote into unwritten extents: convert */
	DIO_EXTEND	= 1u << 3,	/* a write past EOF: move the size at completion */
};

/* ->done: the issuer's futex word.  The reaper stores DIO_WOKEN only after
 * its wake, so the issuer never frees a dio the reaper still touches. */
enum { DIO_RUNNING, DIO_DONE, DIO_WOKEN };

struct dio {
	struct cache_mapping	*m;
	struct cache_dio_iocb	*iocb;		/* NULL for a synchronous dio */
	uint64_t		pos;
	uint64_t		io_len;		/* bytes of I/O, block-aligned */
	size_t			ret_bytes;	/* bytes to report (clamped to EOF) */
	unsigned		flags;		/* DIO_*; fixed once bios are in flight */
	atomic_int		ref;		/* bios in flight + the issuer's */
	atomic_int		error;		/* first error wins */
	atomic_uint		done;
};

static bool dio_needs_task(const struct dio *dio)
{
	return (dio->flags & DIO_WRITE) || atomic_load(&dio->error);
}

static void dio_set_error(struct dio *dio, int error)
{
	int zero = 0;

	if (error)
		atomic_compare_exchange_strong(&dio->error, &zero, error);
}

/*
 * Task context, or the reaper for a read nobody waits for.  The write side
 * (iomap_dio_complete + the filesystem's ->end_io): move the size, let the
 * filesystem convert and persist, invalidate what a buffered reader may
 * have cached meanwhile.  Frees an asynchronous dio.
 */
static ssize_t dio_complete(struct dio *dio, atomic_ulong *where)
{
	struct cache_mapping *m = dio->m;
	int error = atomic_load(&dio->error);
	ssize_t ret = error ? error : (ssize_t)dio->ret_bytes;

	if (dio->flags & DIO_WRITE) {
		unsigned end_flags = 0;

		if (dio->flags & DIO_UNWRITTEN)
			end_flags |= CACHE_DIO_END_UNWRITTEN;
		if ((dio->flags & DIO_EXTEND) && !error) {
			mapping_update_size(m, dio->pos + dio->io_len);
			end_flags |= CACHE_DIO_END_SIZE;
		}
		if (end_flags && m->ops->dio_end_io) {
			int err = m->ops->dio_end_io(m, dio->pos, dio->io_len,
						     end_flags, error);

			if (err && !error)
				ret = err;
		}
		cache_truncate_range(m, dio->pos, dio->pos + dio->io_len);
	}
	atomic_fetch_add(where, 1);
	if (dio->iocb) {
		struct cache_dio_iocb *iocb = dio->iocb;

		kfree(dio);
		iocb->ki_complete(iocb, ret);
		mapping_io_put(m);
	}
	return ret;
}

/* ->bi_end_io: the reaper, or a worker for a deferred async completion. */
static void dio_bio_end_io(struct bio *bio)
{
	struct dio *dio = bio->bi_private;
	struct cache *cache = dio->m->cache;

	if (atomic_load(&bio->bi_flags) & BIO_COMPLETE_IN_TASK) {
		bio_put(bio);			/* the second call: in the worker */
		dio_complete(dio, &cache->stat.dio_done_worker);
		return;
	}
	dio_set_error(dio, bio->bi_status);
	if (atomic_fetch_sub(&dio->ref, 1) != 1) {
		bio_put(bio);
		return;
	}
	if (dio->flags & DIO_WAITER) {		/* IOCB_DIO_DEFER: hand it back */
		bio_put(bio);
		atomic_store(&dio->done, DIO_DONE);
		futex_wake(&dio->done, INT_MAX);
		atomic_store(&dio->done, DIO_WOKEN);
		return;
	}
	if (dio_needs_task(dio) &&
	    cache_complete_in_task(cache, bio, CACHE_DEFER_DIO))
		return;
	bio_put(bio);
	dio_complete(dio, in_atomic_ctx() ? &cache->stat.dio_done_reaper :
					    &cache->stat.dio_done_issuer);
}

/* Task context: bios for @len bytes of @buf at device byte @addr. */
static void dio_submit(struct dio *dio, uint64_t addr, char *buf, uint64_t len)
{
	struct blk_dev *dev = dio->m->cache->dev;
	enum req_op op = dio->flags & DIO_WRITE ? REQ_OP_WRITE : REQ_OP_READ;

	while (len) {
		uint32_t n = min_t(uint64_t, len, BIO_MAX_SIZE);
		struct bio *bio = bio_alloc(dev, 1, op);

		bio->bi_sector = addr >> SECTOR_SHIFT;
		/* File data like the cache's own I/O: error injection's
		 * data_read and data_write classes count these too. */
		bio->bi_class = BIO_CLASS_DATA;
		bio->bi_end_io = dio_bio_end_io;
		bio->bi_private = dio;
		bio_add_buf(bio, buf, n);
		atomic_fetch_add(&dio->ref, 1);
		submit_bio(bio);
		addr += n;
		buf += n;
		len -= n;
	}
}

/* One mapping: zeros for a read of a hole, bios for blocks. */
static int dio_iter_one(struct dio *dio, const struct iomap *iomap,
			uint64_t pos, char *buf, uint64_t len)
{
	bool write = dio->flags & DIO_WRITE;

	switch (iomap->type) {
	case IOMAP_MAPPED:
		break;
	case IOMAP_UNWRITTEN:
		if (!write) {
			memset(buf, 0, len);
			return 0;
		}
		dio->flags |= DIO_UNWRITTEN;
		break;
	case IOMAP_HOLE:
	case IOMAP_DELALLOC:
		/* A direct write must have been given blocks (CACHE_MAP_DIRECT). */
		if (WARN_ON_ONCE(write))
			return -EIO;
		memset(buf, 0, len);
		return 0;
	default:
		WARN_ON_ONCE(1);
		return -EIO;
	}
	dio_submit(dio, iomap->addr + (pos - iomap->offset), buf, len);
	return 0;
}

/* Map and submit the whole range; an error stops mapping, bios in flight
 * still complete. */
static int dio_iter(struct dio *dio, char *buf)
{
	struct cache_mapping *m = dio->m;
	unsigned flags = CACHE_MAP_DIRECT |
		(dio->flags & DIO_WRITE ? CACHE_MAP_WRITE : CACHE_MAP_READ);
	uint64_t done = 0;
	int err = 0;

	while (done < dio->io_len && !err) {
		uint64_t pos = dio->pos + done, n;
		struct iomap iomap = { 0 };

		err = m->ops->map_begin(m, pos, dio->io_len - done, flags, &iomap);
		if (err)
			break;
		if (WARN_ON_ONCE(!iomap_covers(&iomap, pos)))
			return -EIO;
		n = min_t(uint64_t, iomap.offset + iomap.length - pos,
			  dio->io_len - done);
		err = dio_iter_one(dio, &iomap, pos, buf + done, n);
		done += n;
	}
	return err;
}

/* kiocb_write_and_wait / kiocb_invalidate_pages: before the I/O. */
static int dio_flush_cache(struct dio *dio)
{
	uint64_t end = dio->pos + dio->io_len;
	int err = cache_write_and_wait_range(dio->m, dio->pos, end, true);

	if (!err && (dio->flags & DIO_WRITE))
		cache_truncate_range(dio->m, dio->pos, end);
	return err;
}

static bool dio_aligned(struct cache_mapping *m, uint64_t pos, const void *buf,
			size_t len)
{
	unsigned lbs = blk_dev_logical_block_size(m->cache->dev);

	return !(pos & (PAGE_SIZE - 1)) && !(len & (PAGE_SIZE - 1)) &&
	       !((uintptr_t)buf & (lbs - 1));
}

/* Set up @dio for [pos, pos + len); false: nothing to do (read at EOF). */
static bool dio_init(struct dio *dio, struct cache_mapping *m, uint64_t pos,
		     size_t len, bool write)
{
	uint64_t size = cache_mapping_size(m);

	dio->m = m;
	dio->pos = pos;
	dio->flags = write ? DIO_WRITE : 0;
	atomic_init(&dio->ref, 1);
	if (write) {
		dio->io_len = dio->ret_bytes = len;
		if (pos + len > size)
			dio->flags |= DIO_EXTEND;
		return true;
	}
	if (pos >= size)
		return false;
	/* The block holding EOF is read whole; the caller sees up to EOF. */
	dio->ret_bytes = min_t(uint64_t, len, size - pos);
	dio->io_len = min_t(uint64_t, len,
			    (size - pos + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1));
	return true;
}

/* The synchronous issuer: wait, then complete here (IOCB_DIO_DEFER). */
static ssize_t dio_wait_and_complete(struct dio *dio)
{
	struct cache *cache = dio->m->cache;
	unsigned v;

	if (atomic_fetch_sub(&dio->ref, 1) != 1) {
		while ((v = atomic_load(&dio->done)) != DIO_WOKEN) {
			if (v == DIO_RUNNING)
				futex_wait(&dio->done, DIO_RUNNING, 0);
			else
				sched_yield();	/* the reaper is inside its wake */
		}
	}
	return dio_complete(dio, &cache->stat.dio_done_issuer);
}

ssize_t cache_dio_rw(struct cache_mapping *m, uint64_t pos, void *buf,
		     size_t len, bool write, struct cache_dio_iocb *iocb)
{
	struct dio sync_dio = { 0 }, *dio = iocb ? kzalloc(sizeof(*dio)) : &sync_dio;
	int err;

	might_sleep();
	if (!dio_aligned(m, pos, buf, len)) {
		err = -ENOTBLK;
		goto out_free;
	}
	if (!len || !dio_init(dio, m, pos, len, write)) {
		err = 0;
		goto out_free;
	}
	atomic_fetch_add(write ? &m->cache->stat.dio_writes : &m->cache->stat.dio_reads, 1);
	err = dio_flush_cache(dio);
	if (err)
		goto out_free;
	if (iocb) {
		dio->iocb = iocb;
		mapping_io_get(m);
	} else {
		dio->flags |= DIO_WAITER;
	}
	dio_set_error(dio, dio_iter(dio, buf));
	if (!iocb)
		return dio_wait_and_complete(dio);
	/* Async: the issuer's reference may be the last one. */
	if (atomic_fetch_sub(&dio->ref, 1) == 1)
		dio_complete(dio, &m->cache->stat.dio_done_issuer);
	return -EIOCBQUEUED;

out_free:
	if (iocb)
		kfree(dio);
	return err;
}
