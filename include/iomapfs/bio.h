/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The block layer (iouring/): bios, the device, the CQ reaper and the
 * per-CPU task workers behind bio_complete_in_task().
 *
 * Mirrors block/bio.c and blk-mq.  A bio moves buffers to sectors of one
 * device and calls ->bi_end_io when done; this layer knows nothing of
 * folios, inodes or the on-disk format.
 *
 * Threads:
 *   task      submit_bio(), blk_rw_sync(), blkdev_issue_flush(): any thread
 *             that may sleep (FUSE request threads, the flusher, workers).
 *   reaper    "iomapfs-irq/N", one per ring: reaps CQEs and calls
 *             bio_endio() in atomic context (in_atomic_ctx() is true).
 *   worker    "iomapfs-wq/N", one per CPU: runs ->bi_end_io of bios that
 *             bio_complete_in_task() deferred, in task context.
 */
#ifndef IOMAPFS_BIO_H
#define IOMAPFS_BIO_H

#include <iomapfs/common.h>
#include <sys/uio.h>

#define SECTOR_SHIFT	9
#define SECTOR_SIZE	(1u << SECTOR_SHIFT)

struct blk_dev;
struct bio;

typedef void (*bio_end_io_t)(struct bio *bio);

enum req_op {
	REQ_OP_READ	= 0,
	REQ_OP_WRITE	= 1,
	REQ_OP_FLUSH	= 2,	/* device cache flush: io_uring fsync on the fd */
};

/*
 * bio->bi_flags bits (atomic).  BIO_COMPLETE_IN_TASK is set by
 * bio_complete_in_task() when it defers a bio, and makes the second call
 * (from ->bi_end_io running in the worker) return false: a bio is deferred
 * at most once (the re-offload loop the series' review found).
 */
enum {
	BIO_COMPLETE_IN_TASK	= 1u << 0,
	BIO_QUIET		= 1u << 1,	/* do not log an error */
};

struct bio {
	struct blk_dev		*bi_dev;
	enum req_op		bi_op;
	atomic_uint		bi_flags;
	uint64_t		bi_sector;	/* device offset, 512-byte sectors */
	uint32_t		bi_size;	/* bytes, sum of the vecs */
	int			bi_status;	/* 0 or -errno; first error wins */
	bio_end_io_t		bi_end_io;	/* required: NULL is a bug */
	void			*bi_private;
	struct bio		*bi_next;	/* deferral batch link (owned by iouring/) */
	uint64_t		bi_defer_ns;	/* when it was deferred, for latency stats */
	uint64_t		bi_submit_ns;
	uint16_t		bi_vcnt, bi_max_vecs;
	struct iovec		*bi_io_vec;	/* points at bi_inline_vecs or a bigger array */
	/*
	 * Fault injection (tests): a wrapping backend sets this to -errno
	 * before calling blk_dev_default_submit(); the bio then does not
	 * reach the device (a NOP is queued instead) and the reaper completes
	 * it with this status, exactly like a device error.  0 otherwise.
	 */
	int			bi_inject_status;
	/* Private to iouring/: */
	uint32_t		bi_done;	/* bytes transferred so far (short I/O) */
	struct iovec		*bi_remain_vec;	/* remainder of a short I/O, or NULL */
	uint32_t		bi_front_pad;	/* bio_alloc_bioset() front_pad */
	struct iovec		bi_inline_vecs[];
};

/*
 * Allocate a bio for @nr_vecs buffers.  Never fails (aborts on OOM).
 * @front_pad bytes before the bio belong to the caller (an ioend embeds its
 * bio at the end, like iomap_ioend): bio_alloc_bioset returns the bio, the
 * caller finds its container with container_of().
 */
struct bio *bio_alloc(struct blk_dev *dev, unsigned nr_vecs, enum req_op op);
struct bio *bio_alloc_bioset(struct blk_dev *dev, unsigned nr_vecs,
			     enum req_op op, size_t front_pad);
void bio_put(struct bio *bio);

/*
 * Append a buffer.  @buf and @len must be aligned to the device's logical
 * block size (O_DIRECT).  Returns false when the bio is full (no vec left,
 * or it would exceed the device's max I/O size); the caller submits and
 * starts a new bio.
 */
#define BIO_MAX_VECS	1024u		/* IOV_MAX: readv/writev limit */
#define BIO_MAX_SIZE	(8u << 20)	/* bytes per bio */
bool bio_add_buf(struct bio *bio, void *buf, uint32_t len);
static inline uint64_t bio_end_sector(const struct bio *bio)
{
	return bio->bi_sector + (bio->bi_size >> SECTOR_SHIFT);
}

/*
 * Queue @bio to the device.  Task context.  The bio always completes through
 * bio_endio(), also when submission fails (then in the submitting thread,
 * with bi_status set): there is no second cancel path.  Failed here: -EIO
 * after blk_dev_shutdown(), for an empty read/write or one past the end of
 * the device (bio_check_eod), -EROFS for a write to a read-only device.
 */
void submit_bio(struct bio *bio);

/*
 * Complete @bio: normally called by the reaper; may be called by a
 * submitter with bi_status set to fail a bio it could not submit.  Calls
 * ->bi_end_io in the calling context.
 */
void bio_endio(struct bio *bio);

/*
 * Called by a ->bi_end_io that must not run in atomic context (drop-behind
 * invalidation, error reporting, unwritten conversion):
 *
 *	static void foo_end_io(struct bio *bio)
 *	{
 *		if (needs_task(bio) && bio_complete_in_task(bio))
 *			return;		// will be called again in a worker
 *		... task-context work ...
 *	}
 *
 * Returns true if the bio was queued on the current CPU's batch; its
 * ->bi_end_io will run again, once, in that CPU's worker.  Returns false if
 * the caller is already in task context or the bio was deferred before.
 * @reason is a BIO_DEFER_* counter index for iomapfs-stat.
 */
enum bio_defer_reason {
	BIO_DEFER_DROPBEHIND,
	BIO_DEFER_ERROR,	/* write error */
	BIO_DEFER_UNWRITTEN,
	BIO_DEFER_READ_ERROR,
	BIO_DEFER_NR
};
/*
 * "The current CPU" is sched_getcpu() % blk_nr_workers(): the batch of the
 * worker for the CPU the reaper runs on (see blk_dev_set_irq_affinity()).
 * The caller must not touch @bio after a true return: the worker may
 * already be running ->bi_end_io.
 */
bool bio_complete_in_task(struct bio *bio, enum bio_defer_reason reason);

/*
 * Batch callbacks, the analogue of blk_plug callbacks: a ->bi_end_io running
 * in a worker may register @cb once; the worker calls cb->fn after the whole
 * current batch has completed (so a filesystem can merge the ioends of one
 * batch before converting extents).  Worker context only; registering a cb
 * that is already pending is a no-op.
 */
struct task_batch_cb {
	void (*fn)(struct task_batch_cb *cb);
	struct task_batch_cb *next;
	bool pending;
};
void bio_task_batch_add_cb(struct task_batch_cb *cb);

/* ---- the device ---- */

enum blk_offload_mode {
	BLK_OFFLOAD_DELAYED,	/* delayed work: worker runs one "jiffy" after the first bio */
	BLK_OFFLOAD_THREAD,	/* kthread variant: dedicated thread per CPU, woken at once */
};

/*
 * The device backend: how a bio reaches the medium.  The default backend
 * queues it to io_uring on the O_DIRECT fd.  Tests wrap it to inject faults
 * (fail the Nth write or flush) without touching the data path; a failed
 * bio still completes in the reaper with bi_status set, as a device error
 * would.
 */
struct blk_dev_ops {
	/*
	 * Required.  Task context, called with the ring's submission lock not
	 * held.  Must eventually complete the bio through bio_endio() exactly
	 * once, from the reaper (or from the caller on a submission failure).
	 */
	void (*submit)(struct blk_dev *dev, struct bio *bio);
	/* Optional private state for a wrapping backend. */
};

struct blk_dev_config {
	enum blk_offload_mode	offload;
	/* A zero field takes its default from <iomapfs/defaults.h>. */
	unsigned		delay_us;	/* BLK_OFFLOAD_DELAYED: the "jiffy" */
	unsigned		nr_rings;	/* one reaper each */
	unsigned		queue_depth;	/* SQ entries per ring */
	unsigned		nr_workers;	/* default: number of online CPUs */
	bool			readonly;
	bool			no_excl_lock;	/* mkfs -f on a mounted image: never set by the daemon */
};

/*
 * Open @path (block device or regular file) O_DIRECT, take an exclusive
 * flock (a second open of a device in use fails with -EBUSY), start the
 * rings, reapers and workers.  Returns 0 or -errno with a message on stderr.
 * A NULL @cfg means the defaults.  An image on a filesystem without
 * O_DIRECT is opened buffered, with one warning.  The size is fixed at
 * open (st_size or BLKGETSIZE64).
 */
int blk_dev_open(const char *path, const struct blk_dev_config *cfg,
		 struct blk_dev **out);
/*
 * Task context, not from a worker.  Wait until every bio submitted so far
 * has ended (its bio_endio() in the reaper has returned) and every deferred
 * bio has run its ->bi_end_io in a worker, including bios that those
 * completions submitted.  Counters are exact afterwards.
 */
void blk_dev_wait_idle(struct blk_dev *dev);
/* Drain every ring and every worker batch, stop the threads, close. */
void blk_dev_close(struct blk_dev *dev);

uint64_t blk_dev_size(const struct blk_dev *dev);		/* bytes */
unsigned blk_dev_logical_block_size(const struct blk_dev *dev);
int blk_dev_fd(const struct blk_dev *dev);

/*
 * Replace the backend ops (tests), before any I/O.  @priv is returned by
 * blk_dev_ops_private().  blk_dev_default_submit is the io_uring backend, for
 * wrappers to call.
 */
void blk_dev_set_ops(struct blk_dev *dev, const struct blk_dev_ops *ops, void *priv);
void *blk_dev_ops_private(struct blk_dev *dev);
void blk_dev_default_submit(struct blk_dev *dev, struct bio *bio);

/*
 * Shutdown switch (FS_IOC_SHUTDOWN): from now on every submitted bio fails
 * with -EIO without reaching the device.  Bios already in flight complete
 * normally.
 */
void blk_dev_shutdown(struct blk_dev *dev);
bool blk_dev_is_shutdown(const struct blk_dev *dev);

/* Synchronous helpers for metadata, mkfs and fsck.  Task context. */
int blk_rw_sync(struct blk_dev *dev, enum req_op op, void *buf, size_t len,
		uint64_t byte_off);
int blkdev_issue_flush(struct blk_dev *dev);

/*
 * Worker hotplug, the CPU-hotplug analogue (tests and unmount).  Taking a
 * worker offline drains its batch first; bios deferred on that CPU while it
 * is offline wait on its batch; bringing it online with a non-empty batch
 * schedules it (the stranded-bios bug the series' review found).
 */
/* Task context, not from a worker of @dev (it would wait for itself). */
void blk_worker_offline(struct blk_dev *dev, unsigned cpu);
void blk_worker_online(struct blk_dev *dev, unsigned cpu);
unsigned blk_nr_workers(const struct blk_dev *dev);
/*
 * Pin ring @ring's reaper to @cpu (the IRQ-affinity analogue).  The reaper's
 * deferrals then land on worker (@cpu % blk_nr_workers()), which is how
 * tests choose the batch a bio goes to.  Returns 0 or -errno.
 */
int blk_dev_set_irq_affinity(struct blk_dev *dev, unsigned ring, unsigned cpu);
/*
 * Wait until every deferred bio queued so far has completed: a DELAYED
 * worker runs its batch at once (flush_delayed_work), an offline worker's
 * batch is run by the caller.  Task context, not from a worker of @dev.
 */
void blk_drain_deferred(struct blk_dev *dev);

/* ---- counters for iomapfs-stat ---- */
#define BLK_LAT_LOG2_BUCKETS	24	/* the last starts at 2^23 us, ~8.4 s */
struct blk_stats {
	uint64_t bios_submitted, bios_completed;
	uint64_t bytes_read, bytes_written, flushes;
	uint64_t io_errors;
	uint64_t completed_in_reaper;	/* ->bi_end_io finished without deferral */
	uint64_t deferred[BIO_DEFER_NR];
	uint64_t completed_in_worker;	/* deferred ->bi_end_io calls (worker or draining caller) */
	uint64_t worker_batches, worker_batch_bios;	/* mean batch = bios / batches */
	uint64_t defer_lat_p50_us, defer_lat_p99_us;	/* deferral -> ->bi_end_io in worker */
	uint64_t defer_lat_max_us;
	/*
	 * Deferral latency histogram, log2 buckets: [0] counts latencies below
	 * 2 us, [k] those in [2^k, 2^(k+1)) us, the last also everything
	 * slower.  Exported as defer_hist_<lower bound>us.
	 */
	uint64_t defer_lat_log2[BLK_LAT_LOG2_BUCKETS];
	uint64_t io_resubmits;		/* short reads/writes resubmitted for the rest */
};
void blk_dev_get_stats(struct blk_dev *dev, struct blk_stats *st);
/* Name/value pairs for the stats table, in a stable order. */
void blk_stats_for_each(const struct blk_stats *st,
			void (*fn)(void *ctx, const char *name, uint64_t val), void *ctx);

#endif /* IOMAPFS_BIO_H */
