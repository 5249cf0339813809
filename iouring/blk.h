/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to iouring/ (the analogue of block/blk.h): struct blk_dev and its
 * rings and workers, shared by ring.c, reaper.c, complete-in-task.c and
 * stats.c.  Nothing outside iouring/ includes this.
 *
 * Lock order (outermost first):
 *   blk_worker.batch_lock (task context only: the worker or a draining
 *   caller; held while running a batch, so ->bi_end_io may submit I/O)
 *     -> blk_ring.sq_lock (short: SQ access and io_uring_submit only)
 * The reaper takes neither: it uses atomics and futex wakeups, and a
 * trylock on sq_lock that never waits (see ring_requeue()).
 */
#ifndef IOMAPFS_IOURING_BLK_H
#define IOMAPFS_IOURING_BLK_H

#include <iomapfs/bio.h>
#include <iomapfs/futex.h>

#include <liburing.h>
#include <pthread.h>

/* ---- futex helpers (futex.c-free: tiny wrappers in ring.c) ---- */

/*
 * A one-shot completion that the reaper may signal without a lock (the
 * kernel's struct completion, for blk_rw_sync and blkdev_issue_flush).
 */
struct blk_completion {
	atomic_uint done;
};
void blk_complete(struct blk_completion *c);
void blk_wait_for_completion(struct blk_completion *c);

struct blk_ring {
	struct blk_dev		*dev;
	unsigned		index;
	struct io_uring		ring;
	pthread_mutex_t		sq_lock;	/* SQ access; never waited on by the reaper */
	atomic_uint		inflight;	/* bios queued to this ring, not yet ended */
	atomic_uint		inflight_waiters;
	unsigned		inflight_max;	/* the CQ size: CQEs never overflow */
	bool			fixed_file;	/* the device fd is registered as file 0 */
	_Atomic(struct bio *)	requeue;	/* short I/Os the reaper could not resubmit */
	/*
	 * Bumped (release) for every SQE, read (acquire) for every CQE: the
	 * bio's hand-off through the kernel made visible to the C memory
	 * model, and so to ThreadSanitizer.
	 */
	atomic_ulong		sq_seq;
	pthread_t		reaper;
	bool			reaper_started;
};

struct blk_worker {
	struct blk_dev		*dev;
	unsigned		cpu;
	_Atomic(struct bio *)	head;		/* lock-free LIFO, like llist */
	atomic_bool		online;
	atomic_bool		stop;
	atomic_bool		kick;		/* a drain waits: skip the DELAYED "jiffy" */
	_Atomic uint64_t	last_push_ns;	/* ADAPTIVE: when the last bio was queued */
	atomic_bool		streaming;	/* ADAPTIVE: the last two came within the window */
	atomic_bool		wake_owed;	/* ADAPTIVE: the reaper wakes it at unplug */
	atomic_uint		wake_seq;	/* futex word: bumped by every wakeup */
	atomic_uint		queued;		/* bios pushed (drain bookkeeping) */
	atomic_uint		done;		/* bios whose ->bi_end_io ran; futex word */
	atomic_uint		done_waiters;
	pthread_mutex_t		batch_lock;	/* held while a batch runs */
	pthread_t		thread;
	bool			started;
};

/* Latency histogram: log-linear buckets in microseconds, 8 per octave. */
#define BLK_LAT_BUCKETS	(16 + 48 * 8)

struct blk_dev_counters {
	atomic_uint_fast64_t bios_submitted, bios_completed;
	atomic_uint_fast64_t bytes_read, bytes_written, flushes;
	atomic_uint_fast64_t io_errors, io_resubmits;
	atomic_uint_fast64_t completed_in_reaper, completed_in_worker;
	atomic_uint_fast64_t deferred;
	atomic_uint_fast64_t worker_batches, worker_batch_bios;
	atomic_uint_fast64_t worker_delays, worker_kicks;
	atomic_uint_fast64_t lat[BLK_LAT_BUCKETS];
	atomic_uint_fast64_t lat_max_us;
};

struct blk_dev {
	char			*path;
	int			fd;
	bool			direct;		/* opened O_DIRECT */
	bool			is_bdev;
	uint64_t		size;
	unsigned		lbs;
	struct blk_dev_config	cfg;		/* with defaults filled in */
	const struct blk_dev_ops *ops;
	void			*ops_priv;
	atomic_bool		shutdown;
	unsigned		nr_rings;
	struct blk_ring		*rings;
	unsigned		nr_workers;
	struct blk_worker	*workers;
	atomic_uint		deferred_waiters;	/* ADAPTIVE: tasks in a wait */
	struct blk_dev_counters	stats;
	struct blk_log		*log;		/* the write log, or NULL */
};

/* ring.c */
int blk_rings_start(struct blk_dev *dev);
void blk_rings_stop(struct blk_dev *dev);
void blk_rings_wait_idle(struct blk_dev *dev);
bool blk_rings_idle(struct blk_dev *dev);
void ring_queue_bio(struct blk_ring *r, struct bio *bio, const struct iovec *vec,
		    unsigned nr_vecs, uint64_t off);
void ring_requeue(struct blk_ring *r, struct bio *bio);
void ring_put_inflight(struct blk_ring *r);

/* reaper.c: the thread body; reaps until the stop NOP. */
#define BLK_RING_STOP_TAG	((uint64_t)1)	/* user_data of the stop NOP */
void *blk_reaper_fn(void *arg);
/* Reaper, around a pass over its ready completions (ADAPTIVE): queueing
 * defers the worker's wakeup to the unplug. */
void blk_reaper_plug(struct blk_dev *dev);
void blk_reaper_unplug(struct blk_dev *dev);

/* complete-in-task.c */
int blk_workers_start(struct blk_dev *dev);
void blk_workers_stop(struct blk_dev *dev);
bool blk_workers_idle(struct blk_dev *dev);

/*
 * bio.c: the bio whose ->bi_end_io bio_endio() is running in this reaper.
 * bio_endio() counts it completed_in_reaper before the call, so the counter
 * is visible before the completion's effects; bio_complete_in_task() takes
 * that back before queueing the bio (see bio_uncount_reaper_completion()).
 */
extern _Thread_local struct bio *blk_tls_endio_bio;
void bio_uncount_reaper_completion(struct bio *bio);

/* log-writes.c: start the write log on an open device / drain and stop it
 * (after the last I/O, before the rings stop). */
struct blk_log;
int blk_log_start(struct blk_dev *dev, const char *path);
void blk_log_stop(struct blk_dev *dev);

/* stats.c */
void blk_stats_record_defer_latency(struct blk_dev *dev, uint64_t ns);
static inline void blk_count(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

#endif /* IOMAPFS_IOURING_BLK_H */
