// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: bio_complete_in_task() and its per-CPU workers: a
 * deferred read or write runs in an "iomapfs-wq/N" thread out of atomic context,
 * both offload modes, the re-offload guard (review of the series: infinite loop), the
 * hotplug analogue (review of the series: stranded bios on re-online), draining at
 * close and on demand, batch callbacks, the latency statistics, and the
 * adaptive mode's natural batching (one wakeup per reaper pass).
 */
#include "blk_test.h"
#include "blk.h"		/* blk_reaper_plug/unplug */

#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MiB		(1024 * 1024)
#define ONE_HOUR_US	3600000000u

/* The highest CPU this process may run on: where tests pin the reaper. */
static unsigned pick_cpu(void)
{
	cpu_set_t set;
	int cpu;

	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	for (cpu = CPU_SETSIZE - 1; cpu >= 0; cpu--)
		if (CPU_ISSET(cpu, &set))
			return cpu;
	ck_abort_msg("no CPU in the affinity mask");
	return 0;
}

/* Submit @nr 4 KiB writes, each tracked by t[i] that defers. */
static void submit_deferring_writes(struct blk_dev *dev, char *buf, struct tio *t,
				    int nr)
{
	int i;

	for (i = 0; i < nr; i++) {
		tio_init(&t[i], true);
		submit_bio(tio_bio(dev, REQ_OP_WRITE, buf + i * 4096, 4096, i * 4096, &t[i]));
	}
}

static void get_stats(struct blk_dev *dev, struct blk_stats *st)
{
	blk_dev_wait_idle(dev);
	blk_dev_get_stats(dev, st);
}

START_TEST(deferred_reads_and_writes_run_in_worker_out_of_atomic_context)
{
	enum { NR = 4 };
	char path[256], *buf = abuf(NR * 4096);
	struct tio t[NR];
	struct blk_stats st;
	struct blk_dev *dev;
	int r;

	blk_test_image(path, sizeof(path), "reasons", MiB);
	dev = open_dev(path, NULL);
	for (r = 0; r < NR; r++) {
		enum req_op op = r == NR - 1 ? REQ_OP_READ : REQ_OP_WRITE;

		tio_init(&t[r], true);
		submit_bio(tio_bio(dev, op, buf + r * 4096, 4096, r * 4096, &t[r]));
	}
	for (r = 0; r < NR; r++) {
		ck_assert(wait_atomic_ge(&t[r].ended, 1));
		ck_assert_int_eq(atomic_load(&t[r].calls), 2);
		ck_assert_str_eq(t[r].comm[0], "iomapfs-irq/0");
		ck_assert(t[r].atomic_ctx[0]);
		ck_assert(t[r].deferred[0]);
		ck_assert_msg(starts_with(t[r].comm[1], "iomapfs-wq/"), "ran in %s", t[r].comm[1]);
		ck_assert(!t[r].atomic_ctx[1]);
		ck_assert_int_eq(t[r].status, 0);
	}
	get_stats(dev, &st);
	ck_assert_uint_eq(st.deferred, NR);
	ck_assert_uint_eq(st.completed_in_worker, NR);
	ck_assert_uint_eq(st.completed_in_reaper, 0);
	ck_assert_uint_eq(st.worker_batch_bios, NR);
	blk_dev_close(dev);
	free(buf);
}
END_TEST

START_TEST(delayed_mode_batches_completions_that_end_together)
{
	struct blk_dev_config cfg = {
		.offload = BLK_OFFLOAD_DELAYED, .delay_us = 200000, .nr_workers = 1,
	};
	enum { NR = 32 };
	char path[256], *buf = abuf(NR * 4096);
	struct tio t[NR];
	struct blk_stats st;
	struct blk_dev *dev;

	blk_test_image(path, sizeof(path), "delayed", MiB);
	dev = open_dev(path, &cfg);
	submit_deferring_writes(dev, buf, t, NR);
	ck_assert(wait_atomic_ge(&tio_final_calls, NR));
	get_stats(dev, &st);
	ck_assert_uint_eq(st.worker_batch_bios, NR);
	/* The "jiffy" let completions pile up: fewer batches than bios. */
	ck_assert_uint_lt(st.worker_batches, NR);
	ck_assert_uint_ge(st.worker_batches, 1);
	blk_dev_close(dev);
	free(buf);
}
END_TEST

START_TEST(adaptive_mode_runs_a_lone_deferral_at_once)
{
	/* The first deferral follows no other: no stream, no delay.  With a
	 * one-hour delay the test would time out if it waited for it. */
	struct blk_dev_config cfg = {
		.offload = BLK_OFFLOAD_ADAPTIVE, .delay_us = ONE_HOUR_US, .nr_workers = 1,
	};
	char path[256], *buf = abuf(4096);
	struct blk_stats st;
	struct blk_dev *dev;
	struct tio t;

	blk_test_image(path, sizeof(path), "adaptive1", MiB);
	dev = open_dev(path, &cfg);
	submit_deferring_writes(dev, buf, &t, 1);
	ck_assert(wait_atomic_ge(&t.ended, 1));
	ck_assert_msg(starts_with(t.comm[1], "iomapfs-wq/"), "ran in %s", t.comm[1]);
	get_stats(dev, &st);
	ck_assert_uint_eq(st.worker_delays, 0);
	blk_dev_close(dev);
	free(buf);
}
END_TEST

START_TEST(adaptive_mode_batches_a_stream_and_a_waiter_cuts_the_delay)
{
	/*
	 * Deferrals back to back are a stream: the worker holds its batch
	 * back (here for an hour, longer than the test's 30 s bound), until a
	 * task that waits for it kicks it, as flush_delayed_work() would.
	 */
	struct blk_dev_config cfg = {
		.offload = BLK_OFFLOAD_ADAPTIVE, .delay_us = ONE_HOUR_US, .nr_workers = 1,
	};
	enum { NR = 32 };
	char path[256], *buf = abuf((NR + 1) * 4096);
	struct tio first, t[NR];
	struct blk_stats st;
	struct blk_dev *dev;

	blk_test_image(path, sizeof(path), "adaptive2", MiB);
	dev = open_dev(path, &cfg);
	/* The first runs at once; every later one follows it within the
	 * "jiffy", so the worker is streaming before they arrive. */
	submit_deferring_writes(dev, buf + NR * 4096, &first, 1);
	ck_assert(wait_atomic_ge(&first.ended, 1));
	submit_deferring_writes(dev, buf, t, NR);
	ck_assert(wait_deferred(dev, NR + 1));
	blk_dev_get_stats(dev, &st);
	ck_assert_uint_ge(st.worker_delays, 1);		/* the stream is held back */
	ck_assert_uint_eq(st.completed_in_worker, 1);
	blk_deferred_wait_begin(dev);
	ck_assert(wait_atomic_ge(&tio_final_calls, NR + 1));
	blk_deferred_wait_end(dev);
	get_stats(dev, &st);
	ck_assert_uint_eq(st.worker_batch_bios, NR + 1);
	ck_assert_uint_lt(st.worker_batches, NR);	/* batched, not one by one */
	blk_dev_close(dev);
	free(buf);
}
END_TEST

START_TEST(adaptive_mode_holds_a_stream_of_one_bio_per_jiffy)
{
	/*
	 * Regression: a drop-behind stream of 1 MiB writes completes one bio
	 * about a millisecond (a "jiffy") after the previous one.  adaptive
	 * used to count only gaps under a quarter jiffy as a stream, and
	 * then held for that quarter, so such a stream never batched (1.16
	 * bios a batch against delayed's 2.26 in tools/bench-offload.sh).
	 * Now a gap under two jiffies is a stream, held a jiffy as delayed
	 * does.  Here the jiffy is a second and the gap 0.6 s: more than the
	 * old quarter (0.25 s), less than the new two (2 s); the second bio
	 * comes alone, so only the gap can make it a stream.
	 */
	struct blk_dev_config cfg = {
		.offload = BLK_OFFLOAD_ADAPTIVE, .delay_us = 1000000, .nr_workers = 1,
	};
	struct timespec gap = { 0, 600 * 1000 * 1000 };
	char path[256], *buf = abuf(2 * 4096);
	struct tio t[2];
	struct blk_stats st;
	struct blk_dev *dev;

	blk_test_image(path, sizeof(path), "adaptive-jiffy", MiB);
	dev = open_dev(path, &cfg);
	submit_deferring_writes(dev, buf, &t[0], 1);
	ck_assert(wait_atomic_ge(&t[0].ended, 1));
	nanosleep(&gap, NULL);
	submit_deferring_writes(dev, buf + 4096, &t[1], 1);
	ck_assert(wait_atomic_ge(&tio_final_calls, 2));
	get_stats(dev, &st);
	ck_assert_uint_eq(st.worker_delays, 1);	/* the second was held */
	ck_assert_uint_eq(st.worker_batch_bios, 2);
	blk_dev_close(dev);
	free(buf);
}
END_TEST

/* Read /proc/self/task/@tid/@file into @buf, without its newline. */
static bool read_task_file(const char *tid, const char *file, char *buf, size_t len)
{
	char path[300];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "/proc/self/task/%s/%s", tid, file);
	f = fopen(path, "r");
	if (!f)
		return false;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = 0;
	return ok;
}

/* True if a thread called @name sleeps in a futex wait right now. */
static bool thread_parked_on_futex(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	char comm[64], wchan[128];
	bool parked = false;

	ck_assert_ptr_nonnull(d);
	while (!parked && (e = readdir(d))) {
		if (e->d_name[0] == '.' || !read_task_file(e->d_name, "comm", comm, sizeof(comm)) ||
		    strcmp(comm, name))
			continue;
		parked = read_task_file(e->d_name, "wchan", wchan, sizeof(wchan)) &&
			 !strncmp(wchan, "futex", 5);
	}
	closedir(d);
	return parked;
}

/*
 * Wait (bounded) until the worker @name is parked in its idle futex wait,
 * where only a wakeup ends its sleep.  A worker that has not reached it
 * yet (its thread is still starting, slow under ASan on a loaded machine)
 * finds a non-empty batch on its first look and runs it unwoken, which is
 * right, but not what a test of who wakes it can observe.
 */
static void wait_worker_parked(const char *name)
{
	struct timespec ts = { 0, 1000 * 1000 };
	int i;

	for (i = 0; i < 10000 && !thread_parked_on_futex(name); i++)
		nanosleep(&ts, NULL);
	ck_assert_msg(thread_parked_on_futex(name), "%s never parked", name);
}

START_TEST(adaptive_mode_wakes_worker_once_per_reaper_pass)
{
	/*
	 * Natural batching: deferrals queued during one reaper pass (here the
	 * test plays the reaper) do not wake the worker one by one; the
	 * unplug at the end of the pass wakes it once, and it runs them all
	 * as one batch.  A short jiffy (offload_delay_us) keeps the
	 * stream's hold brief.
	 */
	struct blk_dev_config cfg = {
		.offload = BLK_OFFLOAD_ADAPTIVE, .delay_us = 400, .nr_workers = 1,
	};
	enum { NR = 16 };
	struct tio t[NR];
	struct blk_stats st;
	struct blk_dev *dev;
	unsigned wakes;
	char path[256];
	int i;

	blk_test_image(path, sizeof(path), "plug", MiB);
	dev = open_dev(path, &cfg);
	wait_worker_parked("iomapfs-wq/0");
	wakes = atomic_load(&dev->workers[0].wake_seq);
	blk_reaper_plug(dev);
	atomic_ctx_enter();
	for (i = 0; i < NR; i++) {
		tio_init(&t[i], false);
		ck_assert(bio_complete_in_task(tio_bio(dev, REQ_OP_WRITE, NULL, 0, 0, &t[i])));
	}
	atomic_ctx_exit();
	blk_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.deferred, NR);
	/* Nobody woke the worker yet: its futex word never moved. */
	ck_assert_uint_eq(atomic_load(&dev->workers[0].wake_seq), wakes);
	ck_assert_uint_eq(st.worker_batches, 0);
	blk_reaper_unplug(dev);
	ck_assert_uint_eq(atomic_load(&dev->workers[0].wake_seq), wakes + 1);
	ck_assert(wait_atomic_ge(&tio_final_calls, NR));
	for (i = 0; i < NR; i++)
		ck_assert_str_eq(t[i].comm[0], "iomapfs-wq/0");
	blk_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.worker_batches, 1);
	ck_assert_uint_eq(st.worker_batch_bios, NR);
	blk_dev_close(dev);
}
END_TEST

START_TEST(thread_mode_wakes_worker_at_once)
{
	/* A delay that thread mode must ignore: the test would time out. */
	struct blk_dev_config cfg = {
		.offload = BLK_OFFLOAD_THREAD, .delay_us = ONE_HOUR_US, .nr_workers = 1,
	};
	char path[256], *buf = abuf(4096);
	struct blk_dev *dev;
	struct tio t;

	blk_test_image(path, sizeof(path), "thread", MiB);
	dev = open_dev(path, &cfg);
	submit_deferring_writes(dev, buf, &t, 1);
	ck_assert(wait_atomic_ge(&t.ended, 1));
	ck_assert_msg(atomic_load(&t.calls) == 2, "calls %d comm0 %s def0 %d", atomic_load(&t.calls), t.comm[0], t.deferred[0]);
	ck_assert_str_eq(t.comm[1], "iomapfs-wq/0");
	ck_assert(!t.atomic_ctx[1]);
	blk_dev_close(dev);
	free(buf);
}
END_TEST

START_TEST(reoffload_guard_runs_end_io_exactly_twice)
{
	char path[256], *buf = abuf(4096);
	struct blk_stats st;
	struct blk_dev *dev;
	struct tio t;

	blk_test_image(path, sizeof(path), "reoffload", MiB);
	dev = open_dev(path, NULL);
	tio_init(&t, false);
	t.always_defer = true;	/* defers on every call, even in the worker */
	submit_bio(tio_bio(dev, REQ_OP_WRITE, buf, 4096, 0, &t));
	ck_assert(wait_atomic_ge(&t.ended, 1));
	get_stats(dev, &st);
	ck_assert_int_eq(atomic_load(&t.calls), 2);
	ck_assert(t.deferred[0]);
	ck_assert(!t.deferred[1]);	/* the flag stopped the second offload */
	ck_assert(starts_with(t.comm[1], "iomapfs-wq/"));
	ck_assert_uint_eq(st.deferred, 1);
	ck_assert_uint_eq(st.completed_in_worker, 1);
	blk_dev_close(dev);
	free(buf);
}
END_TEST

START_TEST(complete_in_task_defers_only_from_atomic_context)
{
	char path[256];
	struct blk_dev *dev;
	struct bio *bio;
	struct tio t;

	blk_test_image(path, sizeof(path), "ctx", MiB);
	dev = open_dev(path, NULL);
	tio_init(&t, false);
	bio = tio_bio(dev, REQ_OP_WRITE, NULL, 0, 0, &t);
	/* Task context: nothing to do, and the bio is not marked. */
	ck_assert(!bio_complete_in_task(bio));
	ck_assert_uint_eq(atomic_load(&bio->bi_flags) & BIO_COMPLETE_IN_TASK, 0);
	/* Atomic context: queued, and ->bi_end_io runs in a worker. */
	atomic_ctx_enter();
	ck_assert(bio_complete_in_task(bio));
	atomic_ctx_exit();
	ck_assert(wait_atomic_ge(&t.ended, 1));
	ck_assert(starts_with(t.comm[0], "iomapfs-wq/"));
	blk_dev_close(dev);
}
END_TEST

/*
 * Regression test for the stranded-bios bug the series' review found: a worker
 * re-enabled with a non-empty batch must run it without any new deferral.
 */
START_TEST(offline_worker_keeps_bios_until_online_then_runs_them)
{
	struct blk_dev_config cfg = { .offload = BLK_OFFLOAD_THREAD, .nr_workers = 2 };
	enum { NR = 8 };
	char path[256], *buf = abuf(NR * 4096), want[32];
	unsigned cpu = pick_cpu(), w;
	struct blk_dev *dev;
	struct tio t[NR];
	int i;

	blk_test_image(path, sizeof(path), "online", MiB);
	dev = open_dev(path, &cfg);
	ck_assert_int_eq(blk_dev_set_irq_affinity(dev, 0, cpu), 0);
	w = cpu % blk_nr_workers(dev);
	blk_worker_offline(dev, w);
	submit_deferring_writes(dev, buf, t, NR);
	ck_assert(wait_deferred(dev, NR));
	ck_assert_int_eq(atomic_load(&tio_final_calls), 0);
	blk_worker_online(dev, w);
	/* No drain call: coming online alone must run the batch. */
	ck_assert(wait_atomic_ge(&tio_final_calls, NR));
	snprintf(want, sizeof(want), "iomapfs-wq/%u", w);
	for (i = 0; i < NR; i++)
		ck_assert_str_eq(t[i].comm[1], want);
	blk_dev_close(dev);
	free(buf);
}
END_TEST

START_TEST(offline_drains_pending_batch_in_caller)
{
	/* The worker sits in an hour-long "jiffy": only the caller can run them. */
	struct blk_dev_config cfg = {
		.offload = BLK_OFFLOAD_DELAYED, .delay_us = ONE_HOUR_US, .nr_workers = 1,
	};
	enum { NR = 4 };
	char path[256], *buf = abuf(NR * 4096), comm[16];
	struct blk_dev *dev;
	struct tio t[NR];
	int i;

	blk_test_image(path, sizeof(path), "offline", MiB);
	dev = open_dev(path, &cfg);
	submit_deferring_writes(dev, buf, t, NR);
	ck_assert(wait_deferred(dev, NR));
	blk_worker_offline(dev, 0);
	ck_assert_int_eq(atomic_load(&tio_final_calls), NR);
	current_comm(comm);
	for (i = 0; i < NR; i++) {
		ck_assert_str_eq(t[i].comm[1], comm);
		ck_assert(!t[i].atomic_ctx[1]);
	}
	blk_dev_close(dev);
	free(buf);
}
END_TEST

START_TEST(close_completes_bios_deferred_to_offline_worker)
{
	struct blk_dev_config cfg = { .offload = BLK_OFFLOAD_THREAD, .nr_workers = 1 };
	enum { NR = 6 };
	char path[256], *buf = abuf(NR * 4096);
	struct blk_dev *dev;
	struct tio t[NR];

	blk_test_image(path, sizeof(path), "close", MiB);
	dev = open_dev(path, &cfg);
	blk_worker_offline(dev, 0);
	submit_deferring_writes(dev, buf, t, NR);
	ck_assert(wait_deferred(dev, NR));
	ck_assert_int_eq(atomic_load(&tio_final_calls), 0);
	blk_dev_close(dev);
	ck_assert_int_eq(atomic_load(&tio_final_calls), NR);
	free(buf);
}
END_TEST

START_TEST(drain_deferred_runs_offline_workers_bios_in_caller)
{
	struct blk_dev_config cfg = { .offload = BLK_OFFLOAD_THREAD, .nr_workers = 1 };
	enum { NR = 5 };
	char path[256], *buf = abuf(NR * 4096), comm[16];
	struct blk_dev *dev;
	struct tio t[NR];
	int i;

	blk_test_image(path, sizeof(path), "drain", MiB);
	dev = open_dev(path, &cfg);
	blk_worker_offline(dev, 0);
	submit_deferring_writes(dev, buf, t, NR);
	ck_assert(wait_deferred(dev, NR));
	blk_dev_wait_idle(dev);
	ck_assert_int_eq(atomic_load(&tio_final_calls), NR);
	current_comm(comm);
	for (i = 0; i < NR; i++)
		ck_assert_str_eq(t[i].comm[1], comm);
	blk_worker_online(dev, 0);
	blk_dev_close(dev);
	free(buf);
}
END_TEST

START_TEST(drain_runs_delayed_batch_without_waiting_for_the_jiffy)
{
	/* Without the flush_delayed_work() kick this would wait an hour. */
	struct blk_dev_config cfg = {
		.offload = BLK_OFFLOAD_DELAYED, .delay_us = ONE_HOUR_US, .nr_workers = 1,
	};
	enum { NR = 3 };
	char path[256], *buf = abuf(NR * 4096);
	struct blk_dev *dev;
	struct tio t[NR];
	int i;

	blk_test_image(path, sizeof(path), "kick", MiB);
	dev = open_dev(path, &cfg);
	submit_deferring_writes(dev, buf, t, NR);
	ck_assert(wait_deferred(dev, NR));
	blk_drain_deferred(dev);
	ck_assert_int_eq(atomic_load(&tio_final_calls), NR);
	for (i = 0; i < NR; i++)
		ck_assert_str_eq(t[i].comm[1], "iomapfs-wq/0");
	blk_dev_close(dev);
	free(buf);
}
END_TEST

/* What the counters said while ->bi_end_io ran, call by call. */
static struct blk_stats seen_stats[3];
static atomic_int seen_calls;

static bool bio_private_defers(const struct bio *bio)
{
	return bio->bi_private != NULL;
}

static void stats_peeking_end_io(struct bio *bio)
{
	int n = atomic_load(&seen_calls);

	blk_dev_get_stats(bio->bi_dev, &seen_stats[n]);
	if (bio_private_defers(bio) && bio_complete_in_task(bio)) {
		atomic_store(&seen_calls, n + 1);
		return;
	}
	bio_put(bio);
	atomic_store(&seen_calls, n + 1);
	atomic_fetch_add(&tio_final_calls, 1);
}

/*
 * Whoever sees a completion's effects must see it counted: the cache's
 * tests read the counters right after a waiter wakes.
 */
START_TEST(counters_are_visible_before_end_io_runs)
{
	char path[256], *buf = abuf(2 * 4096);
	struct blk_dev *dev;
	struct bio *bio;
	int defer;

	blk_test_image(path, sizeof(path), "visible", MiB);
	dev = open_dev(path, NULL);
	for (defer = 0; defer < 2; defer++) {
		atomic_store(&tio_final_calls, 0);
		bio = bio_alloc(dev, 1, REQ_OP_WRITE);
		bio_add_buf(bio, buf + defer * 4096, 4096);
		bio->bi_end_io = stats_peeking_end_io;
		bio->bi_private = defer ? (void *)1 : NULL;
		submit_bio(bio);
		ck_assert(wait_atomic_ge(&tio_final_calls, 1));
		blk_dev_wait_idle(dev);
	}
	/* The plain bio, in the reaper: its completion is already counted. */
	ck_assert_uint_eq(seen_stats[0].bios_completed, 1);
	ck_assert_uint_eq(seen_stats[0].completed_in_reaper, 1);
	/* The deferred one, in the worker: deferral and batch counted, and
	 * its reaper pass was taken back. */
	ck_assert_int_eq(atomic_load(&seen_calls), 3);
	ck_assert_uint_eq(seen_stats[2].bios_completed, 2);
	ck_assert_uint_eq(seen_stats[2].deferred, 1);
	ck_assert_uint_eq(seen_stats[2].completed_in_reaper, 1);
	ck_assert_uint_eq(seen_stats[2].completed_in_worker, 1);
	ck_assert_uint_eq(seen_stats[2].worker_batches, 1);
	blk_dev_close(dev);
	free(buf);
}
END_TEST

/* Batch callback state: what the callback saw each time it ran. */
static atomic_int cb_calls;
static int cb_seen_final[64];
static char cb_comm[16];

static void batch_cb_fn(struct task_batch_cb *cb)
{
	int n = atomic_load(&cb_calls);

	if (n < 64)
		cb_seen_final[n] = atomic_load(&tio_final_calls);
	current_comm(cb_comm);
	atomic_store(&cb_calls, n + 1);
}

START_TEST(batch_callback_runs_once_after_its_batch)
{
	struct blk_dev_config cfg = {
		.offload = BLK_OFFLOAD_DELAYED, .delay_us = 100000, .nr_workers = 1,
	};
	struct task_batch_cb cb = { .fn = batch_cb_fn };
	enum { NR = 16 };
	char path[256], *buf = abuf(NR * 4096);
	struct blk_stats st;
	struct blk_dev *dev;
	struct tio t[NR];
	int i;

	blk_test_image(path, sizeof(path), "batchcb", MiB);
	dev = open_dev(path, &cfg);
	for (i = 0; i < NR; i++) {
		tio_init(&t[i], true);
		t[i].batch_cb = &cb;
		submit_bio(tio_bio(dev, REQ_OP_WRITE, buf + i * 4096, 4096, i * 4096, &t[i]));
	}
	ck_assert(wait_atomic_ge(&tio_final_calls, NR));
	get_stats(dev, &st);
	/* Registered by every bio, run once per batch, after the batch. */
	ck_assert_int_eq(atomic_load(&cb_calls), st.worker_batches);
	ck_assert_uint_lt(st.worker_batches, NR);
	for (i = 1; i < atomic_load(&cb_calls) && i < 64; i++)
		ck_assert_int_gt(cb_seen_final[i], cb_seen_final[i - 1]);
	ck_assert_int_eq(cb_seen_final[atomic_load(&cb_calls) - 1], NR);
	ck_assert_str_eq(cb_comm, "iomapfs-wq/0");
	ck_assert(!cb.pending);
	blk_dev_close(dev);
	free(buf);
}
END_TEST

/* A 20 ms "jiffy": long enough that the batch's first bio is measurably slow. */
#define LAT_DELAY_US	20000
enum { LAT_NR = 4 };

/* Defer LAT_NR drop-behind writes to one DELAYED worker; their stats. */
static void deferred_batch_stats(const char *name, struct blk_stats *st)
{
	struct blk_dev_config cfg = {
		.offload = BLK_OFFLOAD_DELAYED, .delay_us = LAT_DELAY_US, .nr_workers = 1,
	};
	char path[256], *buf = abuf(LAT_NR * 4096);
	struct blk_dev *dev;
	struct tio t[LAT_NR];

	blk_test_image(path, sizeof(path), name, MiB);
	dev = open_dev(path, &cfg);
	submit_deferring_writes(dev, buf, t, LAT_NR);
	ck_assert(wait_atomic_ge(&tio_final_calls, LAT_NR));
	get_stats(dev, st);
	blk_dev_close(dev);
	free(buf);
}

START_TEST(defer_latency_percentiles_cover_the_delay)
{
	struct blk_stats st;

	deferred_batch_stats("latency", &st);
	/* The first bio of a batch waits at least the whole "jiffy". */
	ck_assert_uint_ge(st.defer_lat_max_us, LAT_DELAY_US);
	ck_assert_uint_gt(st.defer_lat_p50_us, 0);
	ck_assert_uint_le(st.defer_lat_p50_us, st.defer_lat_p99_us);
	ck_assert_uint_le(st.defer_lat_p99_us, st.defer_lat_max_us);
}
END_TEST

/*
 * The log2 histogram behind iomapfs-stat --hist counts every deferral once,
 * and the first bio of the batch, which waited the whole 20 ms "jiffy",
 * lands in a bucket at or above 2^14 us (16384 us <= 20 ms < 32768 us).
 */
START_TEST(defer_latency_histogram_counts_each_deferral)
{
	uint64_t total = 0, slow = 0;
	struct blk_stats st;

	deferred_batch_stats("histogram", &st);
	for (unsigned k = 0; k < BLK_LAT_LOG2_BUCKETS; k++) {
		total += st.defer_lat_log2[k];
		if (k >= 14)
			slow += st.defer_lat_log2[k];
	}
	ck_assert_uint_eq(total, LAT_NR);
	ck_assert_uint_ge(slow, 1);
}
END_TEST

static Suite *blk_defer_suite(void)
{
	Suite *s = suite_create("blk_defer");
	TCase *tc = tcase_create("defer");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, deferred_reads_and_writes_run_in_worker_out_of_atomic_context);
	tcase_add_test(tc, delayed_mode_batches_completions_that_end_together);
	tcase_add_test(tc, thread_mode_wakes_worker_at_once);
	tcase_add_test(tc, adaptive_mode_runs_a_lone_deferral_at_once);
	tcase_add_test(tc, adaptive_mode_batches_a_stream_and_a_waiter_cuts_the_delay);
	tcase_add_test(tc, adaptive_mode_holds_a_stream_of_one_bio_per_jiffy);
	tcase_add_test(tc, adaptive_mode_wakes_worker_once_per_reaper_pass);
	tcase_add_test(tc, reoffload_guard_runs_end_io_exactly_twice);
	tcase_add_test(tc, complete_in_task_defers_only_from_atomic_context);
	tcase_add_test(tc, offline_worker_keeps_bios_until_online_then_runs_them);
	tcase_add_test(tc, offline_drains_pending_batch_in_caller);
	tcase_add_test(tc, close_completes_bios_deferred_to_offline_worker);
	tcase_add_test(tc, drain_deferred_runs_offline_workers_bios_in_caller);
	tcase_add_test(tc, drain_runs_delayed_batch_without_waiting_for_the_jiffy);
	tcase_add_test(tc, batch_callback_runs_once_after_its_batch);
	tcase_add_test(tc, counters_are_visible_before_end_io_runs);
	tcase_add_test(tc, defer_latency_percentiles_cover_the_delay);
	tcase_add_test(tc, defer_latency_histogram_counts_each_deferral);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return blk_test_run(blk_defer_suite());
}
