// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bio_complete_in_task(): per-CPU batches of bios whose ->bi_end_io must run
 * in task context, and the per-CPU workers ("iomapfs-wq/N") that run them.
 * Mirrors the bio_complete_in_task() series (linux-block, 2026) with
 * the fixes its reviewers asked for:
 *
 *  - the batch is a lock-free list (llist): the reaper pushes with a
 *    compare-exchange and never takes a lock (the review's IRQ-context
 *    locking bug);
 *  - a bio is deferred at most once (BIO_COMPLETE_IN_TASK), so an
 *    ->bi_end_io running in the worker cannot re-offload forever;
 *  - the first bio on an empty batch wakes the worker: at once
 *    (BLK_OFFLOAD_THREAD, the series' kthread variant, SCHED_FIFO where permitted) or after one
 *    "jiffy" so completions pile up (BLK_OFFLOAD_DELAYED, the delayed-workqueue design);
 *    BLK_OFFLOAD_ADAPTIVE is THREAD while a task waits or deferrals are
 *    rare, and DELAYED under a stream nobody waits for: the reaper wakes
 *    the worker once per pass over its completion queue, not per bio, so
 *    what completed together runs together; while deferrals come in
 *    closer together than two "jiffies" (a stream) the worker holds its
 *    batch back one jiffy, as DELAYED does, but never while a task waits
 *    for one (blk_deferred_wait_begin(): a waiter cuts the hold short,
 *    flush_delayed_work()'s idea), so a waiter never pays the delay;
 *  - hotplug: an offline worker's batch is drained by the caller, bios
 *    queued while offline wait, and bringing it online with a non-empty
 *    batch wakes it (the stranded-bios bug).
 *
 * A batch is run with the worker's batch_lock held (task context only): by
 * the worker, or by a caller draining an offline worker.
 */
#include "blk.h"

#include <sched.h>

/* Batch callbacks registered while the current thread runs a batch. */
struct task_batch {
	struct task_batch_cb *head, **tail;
};
static _Thread_local struct task_batch *current_batch;
/* Set by a reaper between blk_reaper_plug() and blk_reaper_unplug();
 * reaper_owes: a wakeup was held back in this pass. */
static _Thread_local struct blk_dev *reaper_plug;
static _Thread_local bool reaper_owes;

static void blk_worker_wake(struct blk_worker *w)
{
	atomic_fetch_add(&w->wake_seq, 1);
	futex_wake(&w->wake_seq, 1);
}

static struct blk_worker *blk_current_worker(struct blk_dev *dev)
{
	int cpu = sched_getcpu();

	return &dev->workers[(cpu < 0 ? 0 : cpu) % dev->nr_workers];
}

/* The "jiffy": DELAYED's hold, and ADAPTIVE's in a stream. */
static uint64_t blk_jiffy_ns(const struct blk_dev *dev)
{
	return dev->cfg.delay_us * 1000ull;
}

/*
 * ADAPTIVE: deferrals that follow each other within this gap are a stream.
 * Twice the hold: a stream of one bio per jiffy (a writeback stream of
 * 1 MiB bios at about 1 GiB/s) still batches, which a gap below the hold
 * would never see.
 */
static uint64_t blk_adaptive_stream_gap_ns(const struct blk_dev *dev)
{
	return 2 * blk_jiffy_ns(dev);
}

/*
 * ADAPTIVE: a deferral that follows the previous one on this worker within
 * the stream gap is part of a stream, worth a hold; one that comes later
 * is not, and runs at once.  Only the reapers write these.
 */
static void blk_worker_note_arrival(struct blk_worker *w, uint64_t now)
{
	uint64_t last = atomic_exchange(&w->last_push_ns, now);

	atomic_store(&w->streaming,
		     last && now - last < blk_adaptive_stream_gap_ns(w->dev));
}

/*
 * The reaper's plug: in ADAPTIVE mode a bio queued on an empty batch
 * during a pass owes its worker a wakeup, paid once the pass has reaped
 * every completion that was ready (blk_plug/blk_finish_plug, turned
 * round).  Completions that arrive together so make one batch without
 * any timer, and the wakeup costs microseconds, not a window.
 */
void blk_reaper_plug(struct blk_dev *dev)
{
	if (dev->cfg.offload == BLK_OFFLOAD_ADAPTIVE)
		reaper_plug = dev;
}

void blk_reaper_unplug(struct blk_dev *dev)
{
	if (reaper_plug != dev)
		return;
	reaper_plug = NULL;
	/* Nothing owed: the workers may not even exist yet (the rings start
	 * first) or any more (close stops them before the rings). */
	if (!reaper_owes)
		return;
	reaper_owes = false;
	for (unsigned i = 0; i < dev->nr_workers; i++) {
		struct blk_worker *w = &dev->workers[i];

		if (atomic_load(&w->wake_owed) && atomic_exchange(&w->wake_owed, false))
			blk_worker_wake(w);
	}
}

/*
 * Reaper (atomic context): push on this CPU's batch; no lock, no sleep.
 * The counters move first: whoever sees the deferred completion's effects,
 * or the deferral counted, finds the bio covered by blk_drain_deferred().
 */
static void __bio_complete_in_task(struct blk_dev *dev, struct bio *bio)
{
	struct blk_worker *w = blk_current_worker(dev);
	struct bio *old = atomic_load(&w->head);
	uint64_t now = ktime_get_ns();

	bio->bi_defer_ns = now;
	blk_worker_note_arrival(w, now);
	atomic_fetch_add(&w->queued, 1);
	bio_uncount_reaper_completion(bio);
	blk_count(&dev->stats.deferred, 1);
	do {
		bio->bi_next = old;
	} while (!atomic_compare_exchange_weak(&w->head, &old, bio));
	if (!old && atomic_load(&w->online)) {
		if (reaper_plug == dev) {
			atomic_store(&w->wake_owed, true);
			reaper_owes = true;
		} else
			blk_worker_wake(w);
	}
}

bool bio_complete_in_task(struct bio *bio)
{
	struct blk_dev *dev = bio->bi_dev;

	if (atomic_load(&bio->bi_flags) & BIO_COMPLETE_IN_TASK)
		return false;	/* deferred once already: never re-offload */
	if (!in_atomic_ctx())
		return false;
	if (WARN_ON_ONCE(!dev || !dev->workers))
		return false;
	atomic_fetch_or(&bio->bi_flags, BIO_COMPLETE_IN_TASK);
	__bio_complete_in_task(dev, bio);
	return true;
}

void bio_task_batch_add_cb(struct task_batch_cb *cb)
{
	struct task_batch *b = current_batch;

	if (WARN_ON_ONCE(!b)) {
		cb->fn(cb);	/* not in a batch: nothing to wait for */
		return;
	}
	if (cb->pending)
		return;
	cb->pending = true;
	cb->next = NULL;
	*b->tail = cb;
	b->tail = &cb->next;
}

static void task_batch_run_cbs(struct task_batch *b)
{
	struct task_batch_cb *cb;

	while ((cb = b->head)) {
		b->head = cb->next;
		if (!b->head)
			b->tail = &b->head;
		cb->pending = false;
		cb->fn(cb);
	}
}

/* llist_reverse_order(): the list was pushed LIFO; run it FIFO. */
static struct bio *bio_list_reverse(struct bio *bio, unsigned *nr)
{
	struct bio *prev = NULL;

	for (*nr = 0; bio; (*nr)++) {
		struct bio *next = bio->bi_next;

		bio->bi_next = prev;
		prev = bio;
		bio = next;
	}
	return prev;
}

static void blk_run_deferred_bio(struct blk_dev *dev, struct bio *bio)
{
	bio->bi_next = NULL;
	blk_stats_record_defer_latency(dev, ktime_get_ns() - bio->bi_defer_ns);
	blk_count(&dev->stats.completed_in_worker, 1);
	if (WARN_ON_ONCE(!bio->bi_end_io))
		return;
	bio->bi_end_io(bio);
}

/*
 * Task context, batch_lock held: take the whole batch, run it in FIFO
 * order, then the batch callbacks it registered.  Returns the bio count.
 */
static unsigned blk_worker_run_one_batch(struct blk_worker *w)
{
	struct task_batch batch = { .head = NULL, .tail = &batch.head };
	struct task_batch *outer = current_batch;
	struct bio *bio = atomic_exchange(&w->head, NULL);
	unsigned n;

	if (!bio)
		return 0;
	bio = bio_list_reverse(bio, &n);
	/* Counted before the batch's effects can be seen. */
	blk_count(&w->dev->stats.worker_batches, 1);
	blk_count(&w->dev->stats.worker_batch_bios, n);
	current_batch = &batch;
	while (bio) {
		struct bio *next = bio->bi_next;

		blk_run_deferred_bio(w->dev, bio);
		bio = next;
	}
	task_batch_run_cbs(&batch);
	current_batch = outer;
	atomic_fetch_add(&w->done, n);
	if (atomic_load(&w->done_waiters))
		futex_wake(&w->done, FUTEX_WAKE_ALL);
	return n;
}

/* Task context: run batches until the list stays empty. */
static void blk_worker_drain(struct blk_worker *w, bool only_if_online)
{
	pthread_mutex_lock(&w->batch_lock);
	/* Recheck under the lock: an offline worker leaves its batch alone. */
	if (!only_if_online || atomic_load(&w->online))
		while (blk_worker_run_one_batch(w))
			;
	pthread_mutex_unlock(&w->batch_lock);
}

/* Hold the batch back @ns so that completions pile up into it. */
static void blk_worker_delay(struct blk_worker *w, uint64_t ns)
{
	uint64_t end = ktime_get_ns() + ns;
	uint64_t now;

	blk_count(&w->dev->stats.worker_delays, 1);
	while (!atomic_load(&w->stop) && !atomic_load(&w->kick) &&
	       (now = ktime_get_ns()) < end) {
		unsigned seq = atomic_load(&w->wake_seq);

		/* A kick between the test above and reading seq: seen here. */
		if (atomic_load(&w->kick))
			break;
		futex_wait(&w->wake_seq, seq, end - now);
	}
	atomic_store(&w->kick, false);
}

static void blk_worker_set_fifo(void)
{
	struct sched_param sp = { .sched_priority = 1 };

	/* sched_set_fifo_low(); without CAP_SYS_NICE stay SCHED_OTHER. */
	pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
}

/* How long to hold the batch back: DELAYED a "jiffy"; ADAPTIVE the same
 * jiffy, but only in a stream nobody waits for; otherwise 0. */
static uint64_t blk_worker_delay_ns(struct blk_worker *w)
{
	switch (w->dev->cfg.offload) {
	case BLK_OFFLOAD_DELAYED:
		return blk_jiffy_ns(w->dev);
	case BLK_OFFLOAD_ADAPTIVE:
		if (!atomic_load(&w->streaming))
			return 0;
		if (atomic_load(&w->dev->deferred_waiters)) {
			blk_count(&w->dev->stats.worker_kicks, 1);
			return 0;	/* someone waits: never make it pay the delay */
		}
		return blk_jiffy_ns(w->dev);
	default:
		return 0;
	}
}

static void *blk_worker_fn(void *arg)
{
	struct blk_worker *w = arg;

	thread_set_name("iomapfs-wq/%u", w->cpu);
	if (w->dev->cfg.offload != BLK_OFFLOAD_DELAYED)
		blk_worker_set_fifo();
	for (;;) {
		unsigned seq = atomic_load(&w->wake_seq);
		bool stop = atomic_load(&w->stop);

		if (atomic_load(&w->online) && atomic_load(&w->head)) {
			uint64_t delay = stop ? 0 : blk_worker_delay_ns(w);

			if (delay)
				blk_worker_delay(w, delay);
			blk_worker_drain(w, true);
			continue;
		}
		if (stop)
			break;
		futex_wait(&w->wake_seq, seq, 0);
	}
	return NULL;
}

int blk_workers_start(struct blk_dev *dev)
{
	unsigned i;
	int ret;

	dev->workers = kzalloc(dev->nr_workers * sizeof(*dev->workers));
	for (i = 0; i < dev->nr_workers; i++) {
		struct blk_worker *w = &dev->workers[i];

		w->dev = dev;
		w->cpu = i;
		atomic_store(&w->online, true);
		pthread_mutex_init(&w->batch_lock, NULL);
		ret = -pthread_create(&w->thread, NULL, blk_worker_fn, w);
		if (ret)
			return ret;
		w->started = true;
	}
	return 0;
}

/* Close, after blk_drain_deferred(): stop and join every worker. */
void blk_workers_stop(struct blk_dev *dev)
{
	unsigned i;

	if (!dev->workers)
		return;
	for (i = 0; i < dev->nr_workers; i++) {
		struct blk_worker *w = &dev->workers[i];

		if (!w->started)
			continue;
		atomic_store(&w->stop, true);
		blk_worker_wake(w);
		pthread_join(w->thread, NULL);
		blk_worker_drain(w, false);	/* an offline worker's leftovers */
		pthread_mutex_destroy(&w->batch_lock);
	}
	kfree(dev->workers);
	dev->workers = NULL;
}

bool blk_workers_idle(struct blk_dev *dev)
{
	unsigned i;

	for (i = 0; i < dev->nr_workers; i++)
		if (atomic_load(&dev->workers[i].head))
			return false;
	return true;
}

/* Task context (not a worker of @dev): the cpu-down + cpu-dead analogue. */
void blk_worker_offline(struct blk_dev *dev, unsigned cpu)
{
	struct blk_worker *w;

	if (WARN_ON_ONCE(cpu >= dev->nr_workers))
		return;
	w = &dev->workers[cpu];
	atomic_store(&w->online, false);
	blk_worker_drain(w, false);
}

/* Task context: the cpu-online analogue; requeue a non-empty batch. */
void blk_worker_online(struct blk_dev *dev, unsigned cpu)
{
	struct blk_worker *w;

	if (WARN_ON_ONCE(cpu >= dev->nr_workers))
		return;
	w = &dev->workers[cpu];
	atomic_store(&w->online, true);
	if (atomic_load(&w->head))
		blk_worker_wake(w);
}

static bool blk_worker_reached(struct blk_worker *w, unsigned target)
{
	return (int)(atomic_load(&w->done) - target) >= 0;
}

/* Wait until @w has run @target bios; drain it here if it is offline. */
static void blk_worker_wait_done(struct blk_worker *w, unsigned target)
{
	while (!blk_worker_reached(w, target)) {
		unsigned done;

		if (!atomic_load(&w->online)) {
			blk_worker_drain(w, false);
			continue;
		}
		/* flush_delayed_work(): run a delayed batch now, not in a jiffy. */
		atomic_store(&w->kick, true);
		blk_worker_wake(w);
		atomic_fetch_add(&w->done_waiters, 1);
		done = atomic_load(&w->done);
		if ((int)(done - target) < 0)	/* timeout: it may go offline meanwhile */
			futex_wait(&w->done, done, 10 * 1000 * 1000);
		atomic_fetch_sub(&w->done_waiters, 1);
	}
}

void blk_deferred_wait_begin(struct blk_dev *dev)
{
	if (dev->cfg.offload != BLK_OFFLOAD_ADAPTIVE)
		return;
	atomic_fetch_add(&dev->deferred_waiters, 1);
	for (unsigned i = 0; i < dev->nr_workers; i++) {
		struct blk_worker *w = &dev->workers[i];

		/* A worker inside its delay: cut it short. */
		if (atomic_load(&w->head) && !atomic_load(&w->kick)) {
			atomic_store(&w->kick, true);
			blk_worker_wake(w);
		}
	}
}

void blk_deferred_wait_end(struct blk_dev *dev)
{
	if (dev->cfg.offload == BLK_OFFLOAD_ADAPTIVE)
		atomic_fetch_sub(&dev->deferred_waiters, 1);
}

void blk_deferred_futex_wait(struct blk_dev *dev, atomic_uint *word, unsigned val,
			     uint64_t timeout_ns)
{
	blk_deferred_wait_begin(dev);
	futex_wait(word, val, timeout_ns);
	blk_deferred_wait_end(dev);
}

/* Task context, not from a worker of @dev. */
void blk_drain_deferred(struct blk_dev *dev)
{
	unsigned i, n = dev->nr_workers;
	unsigned *target;

	might_sleep();
	/* From a batch it would wait for itself. */
	if (WARN_ON_ONCE(current_batch))
		return;
	target = kmalloc(n * sizeof(*target));
	for (i = 0; i < n; i++)
		target[i] = atomic_load(&dev->workers[i].queued);
	for (i = 0; i < n; i++)
		blk_worker_wait_done(&dev->workers[i], target[i]);
	kfree(target);
}
