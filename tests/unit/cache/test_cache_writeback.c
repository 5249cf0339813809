// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: writeback through the cache against a fake filesystem:
 * where ioends split (disk discontiguity, IOMAP_F_BOUNDARY, the size cap),
 * that adjacent unwritten ioends are merged before conversion and that the
 * conversion runs in a task worker, never the reaper; write errors reach
 * the mapping's errseq once per sampler; failed writeback never strands a
 * folio under writeback; the flusher writes back expired data by itself.
 */
#include "cache_test.h"

#include <string.h>
#include <time.h>

#define MiB	(1ull << 20)
#define KiB	(1ull << 10)

static void write_pattern(struct fake_fs *fs, uint64_t pos, size_t len, unsigned seed)
{
	char *buf = kmalloc(len);

	fill_pattern(buf, len, seed);
	ck_assert_int_eq(cache_write(fs->m, pos, buf, len), (ssize_t)len);
	kfree(buf);
}

/* The device bytes at @addr equal the pattern written at file offset 0. */
static void assert_disk_pattern(struct fake_fs *fs, uint64_t addr, size_t off,
				size_t len, unsigned seed)
{
	char *want = kmalloc(off + len), *got = kmalloc(len);

	fill_pattern(want, off + len, seed);
	image_pread(fs, got, len, addr);
	ck_assert_mem_eq(got, want + off, len);
	kfree(want);
	kfree(got);
}

static uint64_t submitted(struct fake_fs *fs)
{
	return cache_stats_now(fs).ioends_submitted;
}

START_TEST(disk_discontiguity_splits_ioends)
{
	struct cache_config cfg = { .size_bytes = 8 * MiB };
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);
	uint64_t before;

	fake_map(fs, 0, 64 * KiB, 1 * MiB, IOMAP_MAPPED, 0);
	fake_map(fs, 64 * KiB, 64 * KiB, 4 * MiB, IOMAP_MAPPED, 0);
	fake_map(fs, 256 * KiB, 128 * KiB, 8 * MiB, IOMAP_MAPPED, 0);
	write_pattern(fs, 0, 128 * KiB, 1);
	before = submitted(fs);
	ck_assert_int_eq(cache_write_and_wait_range(fs->m, 0, 128 * KiB, true), 0);
	ck_assert_uint_eq(submitted(fs) - before, 2);
	assert_disk_pattern(fs, 1 * MiB, 0, 64 * KiB, 1);
	assert_disk_pattern(fs, 4 * MiB, 64 * KiB, 64 * KiB, 1);

	/* Contiguous on disk: one ioend. */
	write_pattern(fs, 256 * KiB, 128 * KiB, 2);
	before = submitted(fs);
	ck_assert_int_eq(cache_write_and_wait_range(fs->m, 0, UINT64_MAX, true), 0);
	ck_assert_uint_eq(submitted(fs) - before, 1);
	assert_disk_pattern(fs, 8 * MiB, 0, 128 * KiB, 2);
	ck_assert_uint_eq(cache_stats_now(fs).ioends_built, 3);
	fake_fs_destroy(fs);
}
END_TEST

START_TEST(boundary_flag_splits_ioend)
{
	struct cache_config cfg = { .size_bytes = 8 * MiB };
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);

	fake_map(fs, 0, 64 * KiB, 1 * MiB, IOMAP_MAPPED, 0);
	fake_map(fs, 64 * KiB, 64 * KiB, 1 * MiB + 64 * KiB, IOMAP_MAPPED, IOMAP_F_BOUNDARY);
	write_pattern(fs, 0, 128 * KiB, 3);
	ck_assert_int_eq(cache_write_and_wait_range(fs->m, 0, UINT64_MAX, true), 0);
	ck_assert_uint_eq(submitted(fs), 2);
	assert_disk_pattern(fs, 1 * MiB, 0, 128 * KiB, 3);
	fake_fs_destroy(fs);
}
END_TEST

START_TEST(size_cap_splits_ioend)
{
	struct cache_config cfg = { .size_bytes = 8 * MiB, .max_ioend_bytes = 64 * KiB };
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);

	fake_map(fs, 0, 256 * KiB, 1 * MiB, IOMAP_MAPPED, 0);
	write_pattern(fs, 0, 256 * KiB, 4);
	ck_assert_int_eq(cache_write_and_wait_range(fs->m, 0, UINT64_MAX, true), 0);
	ck_assert_uint_eq(submitted(fs), 4);
	assert_disk_pattern(fs, 1 * MiB, 0, 256 * KiB, 4);
	fake_fs_destroy(fs);
}
END_TEST

/* Delayed offload with the reaper pinned to CPU 0: one worker, big batches. */
static struct fake_fs *merge_fixture(enum blk_offload_mode mode)
{
	struct cache_config cfg = { .size_bytes = 16 * MiB, .max_ioend_bytes = 64 * KiB };
	struct blk_dev_config bcfg = { .offload = mode, .delay_us = 20000 };
	struct fake_fs *fs = fake_fs_create(&cfg, &bcfg);

	ck_assert_int_eq(blk_dev_set_irq_affinity(fs->dev, 0, 0), 0);
	return fs;
}

/* Poll (bounded) until the block layer has deferred @n bios. */
static void wait_deferred_total(struct fake_fs *fs, uint64_t n)
{
	struct timespec ts = { 0, 1000 * 1000 };
	int i;

	for (i = 0; i < 20000; i++) {
		if (dev_stats(fs).deferred >= n)
			return;
		nanosleep(&ts, NULL);
	}
	ck_abort_msg("fewer than %llu bios deferred", (unsigned long long)n);
}

START_TEST(unwritten_ioends_merge_before_conversion)
{
	struct fake_fs *fs = merge_fixture(BLK_OFFLOAD_THREAD);
	size_t len = 1 * MiB;
	uint64_t nr = len / (64 * KiB);
	struct cache_stats st;
	char *got = kmalloc(len), *want = kmalloc(len);

	/*
	 * The reaper runs on CPU 0, so every deferral joins worker 0's batch.
	 * With that worker offline they pile up; online again, it completes
	 * them as one batch, whose callback merges them.
	 */
	blk_worker_offline(fs->dev, 0);
	write_pattern(fs, 0, len, 5);	/* delalloc: allocated as unwritten */
	ck_assert_int_eq(cache_write_and_wait_range(fs->m, 0, UINT64_MAX, false), 0);
	wait_deferred_total(fs, nr);
	ck_assert_int_eq(atomic_load(&fs->complete_calls), 0);
	blk_worker_online(fs->dev, 0);
	ck_assert_int_eq(cache_write_and_wait_range(fs->m, 0, UINT64_MAX, true), 0);
	st = cache_stats_now(fs);
	ck_assert_uint_eq(st.ioends_submitted, nr);
	ck_assert_uint_eq(st.ioends_merged, nr - 1);
	ck_assert_int_eq(atomic_load(&fs->complete_calls), 1);
	ck_assert_int_eq(atomic_load(&fs->complete_in_worker), 1);
	/* Every byte converted, and on disk. */
	ck_assert(fake_range_is_written(fs, 0, len));
	assert_disk_pattern(fs, FAKE_ALLOC_BASE, 0, len, 5);
	cache_truncate_range(fs->m, 0, UINT64_MAX);
	fill_pattern(want, len, 5);
	ck_assert_int_eq(read_through_cache(fs->m, got, 0, len, 256 * KiB), (ssize_t)len);
	ck_assert_mem_eq(got, want, len);
	kfree(got);
	kfree(want);
	fake_fs_destroy(fs);
}
END_TEST

START_TEST(boundary_keeps_unwritten_ioends_apart_at_completion)
{
	struct fake_fs *fs = merge_fixture(BLK_OFFLOAD_DELAYED);

	/* Contiguous on disk, both unwritten, the second starts a boundary. */
	fake_map(fs, 0, 64 * KiB, 1 * MiB, IOMAP_UNWRITTEN, 0);
	fake_map(fs, 64 * KiB, 64 * KiB, 1 * MiB + 64 * KiB, IOMAP_UNWRITTEN,
		 IOMAP_F_BOUNDARY);
	write_pattern(fs, 0, 128 * KiB, 12);
	ck_assert_int_eq(cache_write_and_wait_range(fs->m, 0, UINT64_MAX, true), 0);
	ck_assert_uint_eq(submitted(fs), 2);
	ck_assert_uint_eq(cache_stats_now(fs).ioends_merged, 0);
	ck_assert_int_eq(atomic_load(&fs->complete_calls), 2);
	ck_assert(fake_range_is_written(fs, 0, 128 * KiB));
	assert_disk_pattern(fs, 1 * MiB, 0, 128 * KiB, 12);
	fake_fs_destroy(fs);
}
END_TEST

static void check_conversion_in_worker(enum blk_offload_mode mode)
{
	struct fake_fs *fs = merge_fixture(mode);

	write_pattern(fs, 0, 512 * KiB, 6);
	ck_assert_int_eq(cache_write_and_wait_range(fs->m, 0, UINT64_MAX, true), 0);
	blk_drain_deferred(fs->dev);
	ck_assert_int_gt(atomic_load(&fs->complete_calls), 0);
	ck_assert_int_eq(atomic_load(&fs->complete_in_worker),
			 atomic_load(&fs->complete_calls));
	ck_assert_int_eq(atomic_load(&fs->complete_elsewhere), 0);
	ck_assert_uint_gt(cache_deferred(fs, CACHE_DEFER_UNWRITTEN), 0);
	ck_assert_uint_eq(atomic_load(&might_sleep_violations), 0);
	fake_fs_destroy(fs);
}

START_TEST(unwritten_completion_runs_in_worker_delayed)
{
	check_conversion_in_worker(BLK_OFFLOAD_DELAYED);
}
END_TEST

START_TEST(unwritten_completion_runs_in_worker_thread)
{
	check_conversion_in_worker(BLK_OFFLOAD_THREAD);
}
END_TEST

START_TEST(plain_writeback_completes_in_reaper)
{
	struct cache_config cfg = { .size_bytes = 8 * MiB };
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);
	struct blk_stats st;

	fake_map(fs, 0, 256 * KiB, 1 * MiB, IOMAP_MAPPED, 0);
	write_pattern(fs, 0, 256 * KiB, 7);
	ck_assert_int_eq(cache_write_and_wait_range(fs->m, 0, UINT64_MAX, true), 0);
	st = dev_stats(fs);
	ck_assert_uint_gt(st.completed_in_reaper, 0);
	ck_assert_uint_eq(st.completed_in_worker, 0);
	ck_assert_int_eq(atomic_load(&fs->complete_calls), 0);
	fake_fs_destroy(fs);
}
END_TEST

START_TEST(write_error_reported_once_per_sampler)
{
	struct cache_config cfg = { .size_bytes = 8 * MiB };
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);
	errseq_t a = cache_errseq_sample(fs->m), b = cache_errseq_sample(fs->m), c;
	struct cache_stats st;

	write_pattern(fs, 0, 64 * KiB, 8);
	atomic_store(&fs->fail_writes, 1);
	ck_assert_int_eq(cache_write_and_wait_range(fs->m, 0, UINT64_MAX, true), -EIO);
	atomic_store(&fs->fail_writes, 0);
	st = cache_stats_now(fs);
	ck_assert_uint_gt(st.write_errors, 0);
	ck_assert_uint_eq(st.pages_writeback, 0);
	ck_assert_uint_gt(cache_deferred(fs, CACHE_DEFER_ERROR), 0);
	/* The failed range stays unwritten: no stale blocks exposed. */
	ck_assert(!fake_range_is_written(fs, 0, 64 * KiB));
	ck_assert_int_gt(atomic_load(&fs->complete_errors), 0);

	ck_assert_int_eq(cache_errseq_check_and_advance(fs->m, &a), -EIO);
	ck_assert_int_eq(cache_errseq_check_and_advance(fs->m, &a), 0);
	ck_assert_int_eq(cache_errseq_check_and_advance(fs->m, &b), -EIO);
	ck_assert_int_eq(cache_errseq_check_and_advance(fs->m, &b), 0);
	c = cache_errseq_sample(fs->m);
	ck_assert_int_eq(cache_errseq_check_and_advance(fs->m, &c), 0);

	/* A later error is new to everyone. */
	cache_mapping_set_error(fs->m, -ENOSPC);
	ck_assert_int_eq(cache_errseq_check_and_advance(fs->m, &a), -ENOSPC);
	ck_assert_int_eq(cache_errseq_check_and_advance(fs->m, &c), -ENOSPC);
	ck_assert_int_eq(cache_errseq_check_and_advance(fs->m, &c), 0);
	fake_fs_destroy(fs);
}
END_TEST

START_TEST(writeback_range_error_fails_ioend_without_stranding)
{
	struct cache_config cfg = { .size_bytes = 8 * MiB };
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);
	errseq_t since = cache_errseq_sample(fs->m);
	struct cache_mapping_stat ms;

	write_pattern(fs, 0, 128 * KiB, 9);
	atomic_store(&fs->fail_wb_at, 64 * KiB);
	ck_assert_int_eq(cache_write_and_wait_range(fs->m, 0, UINT64_MAX, true), -ENOSPC);
	/* The ioend built before the failure was failed, not leaked. */
	cache_mapping_get_stat(fs->m, &ms);
	ck_assert_uint_eq(ms.writeback, 0);
	ck_assert_uint_eq(cache_stats_now(fs).pages_writeback, 0);
	ck_assert_int_eq(cache_errseq_check_and_advance(fs->m, &since), -ENOSPC);
	ck_assert_uint_gt(cache_stats_now(fs).write_errors, 0);
	/* What was after the failure is still dirty and writes back later. */
	ck_assert(cache_mapping_has_dirty(fs->m));
	atomic_store(&fs->fail_wb_at, UINT64_MAX);
	ck_assert_int_eq(cache_write_and_wait_range(fs->m, 0, UINT64_MAX, true), 0);
	ck_assert(!cache_mapping_has_dirty(fs->m));
	fake_fs_destroy(fs);
}
END_TEST

START_TEST(flusher_writes_back_expired_data)
{
	struct cache_config cfg = { .size_bytes = 8 * MiB, .dirty_expire_ms = 20,
				    .flush_interval_ms = 10 };
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	struct cache_mapping_stat ms;
	int i;

	write_pattern(fs, 0, 256 * KiB, 10);
	/* Nobody calls writeback here: the flusher must. */
	for (i = 0; i < 6000 && (cache_mapping_has_dirty(fs->m) ||
				 !fake_range_is_written(fs, 0, 256 * KiB)); i++)
		nanosleep(&ts, NULL);
	ck_assert(!cache_mapping_has_dirty(fs->m));
	ck_assert(fake_range_is_written(fs, 0, 256 * KiB));
	assert_disk_pattern(fs, FAKE_ALLOC_BASE, 0, 256 * KiB, 10);
	/* Written back, still cached (clean) for readers. */
	cache_mapping_get_stat(fs->m, &ms);
	ck_assert_uint_eq(ms.cached, 64);
	ck_assert_uint_eq(ms.dirty, 0);
	fake_fs_destroy(fs);
}
END_TEST

START_TEST(mapping_destroy_races_with_flusher_safely)
{
	struct cache_config cfg = { .size_bytes = 8 * MiB, .dirty_expire_ms = 1,
				    .flush_interval_ms = 1 };
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);
	struct timespec ts = { 0, 200 * 1000 };
	int i;

	for (i = 0; i < 60; i++) {
		struct cache_mapping *m = fake_mapping_create(fs);
		char buf[8192];

		fill_pattern(buf, sizeof(buf), (unsigned)i);
		ck_assert_int_eq(cache_write(m, (uint64_t)i * 8192, buf, sizeof(buf)),
				 (ssize_t)sizeof(buf));
		if (i & 1)
			nanosleep(&ts, NULL);	/* let the flusher pick it up */
		cache_mapping_destroy(m);
	}
	ck_assert_uint_eq(cache_stats_now(fs).pages_dirty, 0);
	ck_assert_uint_eq(cache_stats_now(fs).pages_writeback, 0);
	fake_fs_destroy(fs);
}
END_TEST

struct stat_seen {
	unsigned n;
	uint64_t merged;
	bool snake;
};

static void collect(void *ctx, const char *name, uint64_t val)
{
	struct stat_seen *s = ctx;
	const char *p;

	s->n++;
	for (p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
			s->snake = false;
	if (!strcmp(name, "ioends_merged"))
		s->merged = val;
}

START_TEST(stats_table_lists_every_counter)
{
	struct cache_stats st = { .ioends_merged = 42 };
	struct stat_seen seen = { .snake = true };

	cache_stats_for_each(&st, collect, &seen);
	ck_assert_uint_eq(seen.n, sizeof(st) / sizeof(uint64_t));
	ck_assert(seen.snake);
	ck_assert_uint_eq(seen.merged, 42);
}
END_TEST

static Suite *cache_writeback_suite(void)
{
	Suite *s = suite_create("cache_writeback");
	TCase *tc = tcase_create("writeback");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, disk_discontiguity_splits_ioends);
	tcase_add_test(tc, boundary_flag_splits_ioend);
	tcase_add_test(tc, size_cap_splits_ioend);
	tcase_add_test(tc, unwritten_ioends_merge_before_conversion);
	tcase_add_test(tc, boundary_keeps_unwritten_ioends_apart_at_completion);
	tcase_add_test(tc, unwritten_completion_runs_in_worker_delayed);
	tcase_add_test(tc, unwritten_completion_runs_in_worker_thread);
	tcase_add_test(tc, plain_writeback_completes_in_reaper);
	tcase_add_test(tc, write_error_reported_once_per_sampler);
	tcase_add_test(tc, writeback_range_error_fails_ioend_without_stranding);
	tcase_add_test(tc, flusher_writes_back_expired_data);
	tcase_add_test(tc, mapping_destroy_races_with_flusher_safely);
	tcase_add_test(tc, stats_table_lists_every_counter);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return cache_test_run(cache_writeback_suite());
}
