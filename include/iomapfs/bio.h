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

/*
 * What a bio carries, set by its submitter (the cache's read and writeback
 * say DATA, the metadata buffer layer META, the journal JOURNAL), so that
 * error injection (blk_inject_*) can fail one class of I/O.  The block
 * layer does not otherwise look at it.
 */
enum bio_class {
	BIO_CLASS_NONE		= 0,	/* mkfs, fsck, tests */
	BIO_CLASS_DATA,
	BIO_CLASS_META,
	BIO_CLASS_JOURNAL,
};

struct bio {
	struct blk_dev		*bi_dev;
	enum req_op		bi_op;
	enum bio_class		bi_class;
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
 * A bio without ->bi_end_io is a bug (BUG_ON_RECOVER): debug builds abort,
 * release builds log an ERROR and do not queue it.
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
 * Like the kernel's, it takes no reason: why a completion needs a task is
 * the caller's business (the cache counts its own reasons).
 *
 * "The current CPU" is sched_getcpu() % blk_nr_workers(): the batch of the
 * worker for the CPU the reaper runs on (see blk_dev_set_irq_affinity()).
 * The caller must not touch @bio after a true return: the worker may
 * already be running ->bi_end_io.
 */
bool bio_complete_in_task(struct bio *bio);

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
	/*
	 * THREAD, but woken once per reaper pass (bios that completed
	 * together run as one batch); while deferrals arrive within two
	 * "jiffies" of each other on one worker and no task waits
	 * (blk_deferred_wait_begin()), a batch is held a jiffy, as DELAYED.
	 */
	BLK_OFFLOAD_ADAPTIVE,
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
	unsigned		delay_us;	/* DELAYED, ADAPTIVE: the "jiffy" */
	unsigned		nr_rings;	/* one reaper each */
	unsigned		queue_depth;	/* SQ entries per ring */
	unsigned		nr_workers;	/* default: number of online CPUs */
	bool			readonly;
	bool			no_excl_lock;	/* mkfs -f on a mounted image: never set by the daemon */
	const char		*log_writes;	/* write log file (log-writes.c), or NULL */
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
 * Replace the whole backend stack (tests), before any I/O.  @priv is
 * returned by blk_dev_ops_private().  blk_dev_default_submit is the
 * io_uring backend, for wrappers to call.  NULL @ops: the default backend.
 */
void blk_dev_set_ops(struct blk_dev *dev, const struct blk_dev_ops *ops, void *priv);
/*
 * The private pointer of the backend layer whose ->submit is running in
 * this thread (see blk_dev_push_ops()), else that of the top layer.
 */
void *blk_dev_ops_private(struct blk_dev *dev);
void blk_dev_default_submit(struct blk_dev *dev, struct bio *bio);

/*
 * Stacking backends, as device-mapper targets stack: a wrapper (the write
 * log, fault injection) goes on top of whatever backend is there, so two
 * wrappers compose.  blk_dev_push_ops() saves the current top in @lower
 * (owned by the wrapper, typically inside its private struct) and makes
 * @ops/@priv the top; the wrapper's ->submit passes a bio on with
 * blk_dev_submit_lower(), which calls the saved layer with its own private
 * pointer visible through blk_dev_ops_private().  blk_dev_pop_ops() puts
 * @lower back on top; layers must be popped in reverse order of pushing.
 * Push and pop before or after I/O, not during it (no locking).
 */
struct blk_dev_layer {
	const struct blk_dev_ops *ops;
	void			*priv;
};
void blk_dev_push_ops(struct blk_dev *dev, const struct blk_dev_ops *ops, void *priv,
		      struct blk_dev_layer *lower);
void blk_dev_pop_ops(struct blk_dev *dev, const struct blk_dev_layer *lower);
/* Task context: hand @bio to the layer below (its ->submit). */
void blk_dev_submit_lower(struct blk_dev *dev, const struct blk_dev_layer *lower,
			  struct bio *bio);

/*
 * The write log (log-writes.c), modelled on dm-log-writes: with
 * blk_dev_config.log_writes set, blk_dev_open() stacks a backend that
 * records into that file every completed write (sector, length, data) in
 * completion order, every completed flush as a barrier placed where it was
 * submitted (it covers exactly the writes completed before it), and named
 * marks.  The file has dm-log-writes' layout (tools/iomapfs-replay reads
 * it): a super sector, then per entry one sector holding
 * struct blk_log_entry (and a mark's name) followed by the data sectors.
 * It does not contain the device's initial contents: replay onto a copy of
 * the image as it was when the device was opened.
 */
#define BLK_LOG_MAGIC		0x6a736677736872ull
#define BLK_LOG_VERSION		1
#define BLK_LOG_FLUSH		(1u << 0)
#define BLK_LOG_FUA		(1u << 1)
#define BLK_LOG_DISCARD		(1u << 2)
#define BLK_LOG_MARK		(1u << 3)
#define BLK_LOG_SECTOR		512u
#define BLK_LOG_MARK_MAX	(BLK_LOG_SECTOR - 32 - 1)	/* bytes of a mark name */

struct blk_log_super {		/* sector 0, little endian */
	uint64_t	magic;
	uint64_t	version;
	uint64_t	nr_entries;
	uint32_t	sectorsize;
} __attribute__((packed));

struct blk_log_entry {		/* first bytes of an entry's sector */
	uint64_t	sector;		/* device sector of a write (512 bytes) */
	uint64_t	nr_sectors;	/* data sectors that follow */
	uint64_t	flags;		/* BLK_LOG_* */
	uint64_t	data_len;	/* a mark: length of its name, after the entry */
} __attribute__((packed));

/*
 * Append the mark @name (at most BLK_LOG_MARK_MAX bytes, no NUL) after
 * every write and flush completed so far.  Task context.  0, -ENODEV when
 * the device has no write log, -EINVAL for a bad name.
 */
int blk_dev_log_mark(struct blk_dev *dev, const char *name);
bool blk_dev_has_log(const struct blk_dev *dev);

/*
 * Error injection on a live device, in the spirit of XFS's errortag knobs
 * and the kernel's fail_make_request: a backend pushed over the device at
 * open (blk_inject_attach) that fails chosen bios with -EIO as a device
 * error would (through the reaper).  Rules are set at run time, one per
 * class, with a spec string of space- or comma-separated words:
 *
 *	class=C nth=N		fail the Nth matching bio from now, once
 *	class=C every		fail every matching bio
 *	class=C prob=P [seed=S]	fail each with probability P (0..1),
 *				from a reproducible sequence seeded by S
 *	class=C sector=A-B	only bios overlapping sectors A..B (512 B)
 *				count (with nth/prob/every; alone: every)
 *	class=C off		clear C's rule;  off	clear every rule
 *
 * Classes: data_read, data_write, meta_read, meta_write, journal_write
 * (by bio_class and op) and flush (REQ_OP_FLUSH of any class).
 * Any thread; blk_inject_set() returns 0 or -EINVAL for a bad spec, which
 * changes nothing.  blk_inject_show() prints each rule that is set as
 * "class=C <mode> seen=N hits=N", one per line, and returns the length
 * (as snprintf).
 */
struct blk_inject;
struct blk_inject *blk_inject_attach(struct blk_dev *dev);
int blk_inject_set(struct blk_inject *inj, const char *spec);
int blk_inject_show(struct blk_inject *inj, char *buf, size_t len);
/* After blk_dev_close(): no bio can reach it any more. */
void blk_inject_free(struct blk_inject *inj);

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
/* The same for I/O of one bio_class (error injection tells them apart). */
int blk_rw_sync_class(struct blk_dev *dev, enum req_op op, enum bio_class cls,
		      void *buf, size_t len, uint64_t byte_off);
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
/*
 * A task waits for something a deferred completion may do (fsync or
 * reclaim waiting for a folio's writeback to end): between begin and end,
 * BLK_OFFLOAD_ADAPTIVE workers do not hold batches back, and one already
 * holding its batch runs it now, as flush_delayed_work() would; the task
 * does not wait for the workers themselves.  Cheap; a no-op in the other
 * modes (DELAYED is the v6 design, measured as it is).  Task context.
 */
void blk_deferred_wait_begin(struct blk_dev *dev);
void blk_deferred_wait_end(struct blk_dev *dev);
/* futex_wait(@word, @val, @timeout_ns) between the two above: how a task
 * sleeps on a word that a deferred completion may change. */
void blk_deferred_futex_wait(struct blk_dev *dev, atomic_uint *word, unsigned val,
			     uint64_t timeout_ns);

/* ---- counters for iomapfs-stat ---- */
#define BLK_LAT_LOG2_BUCKETS	24	/* the last starts at 2^23 us, ~8.4 s */
struct blk_stats {
	uint64_t bios_submitted, bios_completed;
	uint64_t bytes_read, bytes_written, flushes;
	uint64_t io_errors;
	uint64_t completed_in_reaper;	/* ->bi_end_io finished without deferral */
	uint64_t deferred;		/* bios queued by bio_complete_in_task() */
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
	uint64_t worker_delays;		/* batches held back one "jiffy" (DELAYED, ADAPTIVE) */
	uint64_t worker_kicks;		/* batches run at once for a waiter (ADAPTIVE) */
	uint64_t io_resubmits;		/* short reads/writes resubmitted for the rest */
};
void blk_dev_get_stats(struct blk_dev *dev, struct blk_stats *st);
/* Name/value pairs for the stats table, in a stable order. */
void blk_stats_for_each(const struct blk_stats *st,
			void (*fn)(void *ctx, const char *name, uint64_t val), void *ctx);

#endif /* IOMAPFS_BIO_H */
