// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: buffered reads and writes through the cache against a fake
 * filesystem: the bytes a user reads, which blocks cause device reads
 * (read-modify-write only for mapped blocks below EOF, none for holes),
 * readahead, reclaim and dirty throttling in a cache smaller than the
 * file, drop-behind, truncation and zeroing.
 */
#include "cache_test.h"

#include <string.h>
#include <time.h>

#define MiB	(1ull << 20)
#define KiB	(1ull << 10)

static struct cache_config small_cfg(uint64_t size)
{
	struct cache_config cfg = { .size_bytes = size };

	return cfg;
}

START_TEST(read_returns_image_bytes)
{
	struct cache_config cfg = small_cfg(8 * MiB);
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);
	size_t len = 2 * MiB;
	char *want = kmalloc(len), *got = kmalloc(len);
	struct cache_stats st;

	fake_file_on_disk(fs, want, len, 4 * MiB, 1, len - 1000);	/* EOF mid-block */

	ck_assert_int_eq(read_through_cache(fs->m, got, 0, len, 64 * KiB),
			 (ssize_t)(len - 1000));
	ck_assert_mem_eq(got, want, len - 1000);
	st = cache_stats_now(fs);
	ck_assert_uint_gt(st.readahead_pages, 0);
	ck_assert_uint_gt(st.hits, 0);	/* readahead made later reads hits */
	ck_assert_uint_gt(st.misses, 0);
	ck_assert_uint_eq(st.hits + st.misses, DIV_ROUND_UP(len - 1000, PAGE_SIZE));
	/* Unaligned read inside the cached range, served without I/O. */
	{
		uint64_t before = dev_bytes_read(fs);

		ck_assert_int_eq(read_through_cache(fs->m, got, 12345, 70000, 70000), 70000);
		ck_assert_mem_eq(got, want + 12345, 70000);
		ck_assert_uint_eq(dev_bytes_read(fs), before);
	}
	/* Reads at and past EOF return nothing. */
	ck_assert_int_eq(read_through_cache(fs->m, got, len - 1000, 10, 10), 0);
	kfree(want);
	kfree(got);
	fake_fs_destroy(fs);
}
END_TEST

START_TEST(holes_read_as_zeros_without_io)
{
	struct cache_config cfg = small_cfg(8 * MiB);
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);
	size_t len = 512 * KiB;
	char *got = kmalloc(len), *zero = kzalloc(len), *junk = kmalloc(256 * KiB);

	/* Stale bytes on disk under the unwritten extent must not show. */
	memset(junk, 0xa5, 256 * KiB);
	image_pwrite(fs, junk, 256 * KiB, 2 * MiB);
	fake_map(fs, 128 * KiB, 256 * KiB, 2 * MiB, IOMAP_UNWRITTEN, 0);
	cache_mapping_set_size(fs->m, len);
	memset(got, 0x5a, len);
	ck_assert_int_eq(read_through_cache(fs->m, got, 0, len, 128 * KiB), (ssize_t)len);
	ck_assert_mem_eq(got, zero, len);
	ck_assert_uint_eq(dev_bytes_read(fs), 0);
	ck_assert_uint_gt(cache_stats_now(fs).misses, 0);
	kfree(got);
	kfree(zero);
	kfree(junk);
	fake_fs_destroy(fs);
}
END_TEST

START_TEST(write_then_read_back)
{
	struct cache_config cfg = small_cfg(8 * MiB);
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);
	size_t len = 300 * KiB + 123;
	uint64_t pos = 5000;
	char *want = kmalloc(len), *got = kmalloc(len + pos), *zero = kzalloc(pos);

	fill_pattern(want, len, 2);
	ck_assert_int_eq(cache_write(fs->m, pos, want, len), (ssize_t)len);
	ck_assert_uint_eq(cache_mapping_size(fs->m), pos + len);
	ck_assert(cache_mapping_has_dirty(fs->m));
	/* From the cache, before writeback; the hole before @pos is zeros. */
	ck_assert_int_eq(read_through_cache(fs->m, got, 0, pos + len, 64 * KiB),
			 (ssize_t)(pos + len));
	ck_assert_mem_eq(got, zero, pos);
	ck_assert_mem_eq(got + pos, want, len);

	ck_assert_int_eq(cache_write_and_wait_range(fs->m, 0, UINT64_MAX, true), 0);
	ck_assert(!cache_mapping_has_dirty(fs->m));
	ck_assert(fake_range_is_written(fs, ALIGN_DOWN(pos, PAGE_SIZE), pos + len - ALIGN_DOWN(pos, PAGE_SIZE)));
	/* Drop the cache: the bytes now come from the device. */
	cache_truncate_range(fs->m, 0, UINT64_MAX);
	{
		struct cache_mapping_stat ms;

		cache_mapping_get_stat(fs->m, &ms);
		ck_assert_uint_eq(ms.cached, 0);
	}
	memset(got, 0, pos + len);
	ck_assert_int_eq(read_through_cache(fs->m, got, 0, pos + len, 100 * KiB),
			 (ssize_t)(pos + len));
	ck_assert_uint_gt(dev_bytes_read(fs), 0);
	ck_assert_mem_eq(got, zero, pos);
	ck_assert_mem_eq(got + pos, want, len);
	kfree(want);
	kfree(got);
	kfree(zero);
	fake_fs_destroy(fs);
}
END_TEST

START_TEST(warm_sequential_read_goes_out_in_few_segments)
{
	/*
	 * A file written sequentially into a fresh cache sits in folios that
	 * follow each other in the arena: a 1 MiB read of it is one reply of
	 * a few iovecs, not one per folio (256 segments made large warm reads
	 * 0.7x the FUSE floor).
	 */
	struct cache_config cfg = small_cfg(8 * MiB);
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);
	struct cache_read_result *res = kmalloc(sizeof(*res));
	char *want = kmalloc(MiB);
	size_t done = 0;

	fill_pattern(want, MiB, 5);
	ck_assert_int_eq(cache_write(fs->m, 0, want, MiB), (ssize_t)MiB);
	ck_assert_int_eq(cache_read(fs->m, 0, MiB, res), (ssize_t)MiB);
	ck_assert_uint_eq(res->nr, MiB / PAGE_SIZE);
	ck_assert_uint_lt(res->nr_iov, res->nr / 4);
	for (unsigned i = 0; i < res->nr_iov; i++) {
		ck_assert_mem_eq(res->iov[i].iov_base, want + done, res->iov[i].iov_len);
		done += res->iov[i].iov_len;
	}
	ck_assert_uint_eq(done, MiB);
	cache_read_done(res);
	kfree(res);
	kfree(want);
	fake_fs_destroy(fs);
}
END_TEST

START_TEST(rmw_reads_block_only_when_mapped_below_eof)
{
	struct cache_config cfg = small_cfg(8 * MiB);
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);
	char *disk = kmalloc(256 * KiB), *got = kmalloc(PAGE_SIZE), *want = kmalloc(PAGE_SIZE);
	uint64_t before;

	fill_pattern(disk, 256 * KiB, 3);
	image_pwrite(fs, disk, 256 * KiB, 1 * MiB);
	fake_map(fs, 0, 128 * KiB, 1 * MiB, IOMAP_MAPPED, 0);		/* below EOF */
	fake_map(fs, 128 * KiB, 64 * KiB, 1 * MiB + 128 * KiB, IOMAP_UNWRITTEN, 0);
	fake_map(fs, 192 * KiB, 64 * KiB, 1 * MiB + 192 * KiB, IOMAP_MAPPED, 0);	/* past EOF */
	cache_mapping_set_size(fs->m, 192 * KiB);

	/* Mapped below EOF: exactly one block is read. */
	before = dev_bytes_read(fs);
	ck_assert_int_eq(cache_write(fs->m, 4096 + 10, "hello", 5), 5);
	ck_assert_uint_eq(dev_bytes_read(fs) - before, PAGE_SIZE);
	memcpy(want, disk + 4096, PAGE_SIZE);
	memcpy(want + 10, "hello", 5);
	ck_assert_int_eq(read_through_cache(fs->m, got, 4096, PAGE_SIZE, PAGE_SIZE), PAGE_SIZE);
	ck_assert_mem_eq(got, want, PAGE_SIZE);

	/* A full-block overwrite reads nothing. */
	before = dev_bytes_read(fs);
	ck_assert_int_eq(cache_write(fs->m, 8 * PAGE_SIZE, disk, PAGE_SIZE), PAGE_SIZE);
	ck_assert_uint_eq(dev_bytes_read(fs), before);

	/* Unwritten, past-EOF mapped and hole blocks: zero-filled, no I/O. */
	before = dev_bytes_read(fs);
	ck_assert_int_eq(cache_write(fs->m, 128 * KiB + 100, "u", 1), 1);
	ck_assert_int_eq(cache_write(fs->m, 200 * KiB + 100, "p", 1), 1);
	ck_assert_int_eq(cache_write(fs->m, 1 * MiB + 100, "h", 1), 1);
	ck_assert_uint_eq(dev_bytes_read(fs), before);
	memset(want, 0, PAGE_SIZE);
	want[100] = 'p';
	ck_assert_int_eq(read_through_cache(fs->m, got, 200 * KiB, PAGE_SIZE, PAGE_SIZE), PAGE_SIZE);
	ck_assert_mem_eq(got, want, PAGE_SIZE);
	want[100] = 'u';
	ck_assert_int_eq(read_through_cache(fs->m, got, 128 * KiB, PAGE_SIZE, PAGE_SIZE), PAGE_SIZE);
	ck_assert_mem_eq(got, want, PAGE_SIZE);
	ck_assert_uint_eq(cache_mapping_size(fs->m), 1 * MiB + 101);
	ck_assert_int_eq(cache_write_and_wait_range(fs->m, 0, UINT64_MAX, true), 0);
	kfree(disk);
	kfree(got);
	kfree(want);
	fake_fs_destroy(fs);
}
END_TEST

START_TEST(reclaim_in_tiny_cache_reads_back_8x_file)
{
	struct cache_config cfg = small_cfg(64 * PAGE_SIZE);
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);
	size_t len = 8 * 64 * PAGE_SIZE;
	char *want = kmalloc(len), *got = kmalloc(len);
	size_t off;

	fill_pattern(want, len, 4);
	for (off = 0; off < len; off += 48 * KiB)
		ck_assert_int_eq(cache_write(fs->m, off, want + off,
					     min_t(size_t, 48 * KiB, len - off)),
				 (ssize_t)min_t(size_t, 48 * KiB, len - off));
	ck_assert_int_eq(cache_write_and_wait_range(fs->m, 0, UINT64_MAX, true), 0);
	ck_assert_int_eq(read_through_cache(fs->m, got, 0, len, 32 * KiB), (ssize_t)len);
	ck_assert_mem_eq(got, want, len);
	/* And backwards, so nothing comes from readahead. */
	for (off = len; off; off -= 32 * KiB)
		ck_assert_int_eq(read_through_cache(fs->m, got + off - 32 * KiB,
						    off - 32 * KiB, 32 * KiB, 32 * KiB),
				 32 * KiB);
	ck_assert_mem_eq(got, want, len);
	ck_assert_uint_gt(cache_stats_now(fs).evicted, 0);
	ck_assert_uint_le(cache_stats_now(fs).pages_resident, 64);
	{
		struct cache_mapping_stat ms;

		cache_mapping_get_stat(fs->m, &ms);
		ck_assert_uint_eq(ms.evicted, cache_stats_now(fs).evicted);
		ck_assert_uint_le(ms.cached, 64);
	}
	kfree(want);
	kfree(got);
	fake_fs_destroy(fs);
}
END_TEST

START_TEST(throttled_writer_larger_than_cache_completes)
{
	struct cache_config cfg = small_cfg(64 * PAGE_SIZE);
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);
	size_t len = 8 * 64 * PAGE_SIZE;
	char *want = kmalloc(len), *got = kmalloc(len);

	fill_pattern(want, len, 5);
	/* One call, eight times the cache: must throttle, not deadlock. */
	ck_assert_int_eq(cache_write(fs->m, 0, want, len), (ssize_t)len);
	ck_assert_uint_gt(cache_stats_now(fs).throttled, 0);
	ck_assert_int_eq(cache_sync_all(fs->cache), 0);
	ck_assert(fake_range_is_written(fs, 0, len));
	ck_assert_int_eq(read_through_cache(fs->m, got, 0, len, 16 * KiB), (ssize_t)len);
	ck_assert_mem_eq(got, want, len);
	kfree(want);
	kfree(got);
	fake_fs_destroy(fs);
}
END_TEST

START_TEST(dropbehind_stream_keeps_few_folios)
{
	struct cache_config cfg = small_cfg(1 * MiB);
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);
	size_t len = 4 * MiB, off;
	char *want = kmalloc(len), *got = kmalloc(len);
	struct cache_mapping_stat ms;
	struct cache_stats st;
	uint64_t total;

	cache_mapping_set_dontcache(fs->m, true);
	ck_assert(cache_mapping_dontcache(fs->m));
	fill_pattern(want, len, 6);
	for (off = 0; off < len; off += 64 * KiB)
		ck_assert_int_eq(cache_write(fs->m, off, want + off, 64 * KiB), 64 * KiB);
	ck_assert_int_eq(cache_write_and_wait_range(fs->m, 0, UINT64_MAX, true), 0);
	blk_drain_deferred(fs->dev);
	st = cache_stats_now(fs);
	total = st.pages_total;
	cache_mapping_get_stat(fs->m, &ms);
	ck_assert_uint_le(ms.cached, total / 8);
	ck_assert_uint_gt(cache_deferred(fs, CACHE_DEFER_DROPBEHIND), 0);
	ck_assert_uint_gt(st.dropbehind_freed, 0);

	ck_assert_int_eq(read_through_cache(fs->m, got, 0, len, 128 * KiB), (ssize_t)len);
	ck_assert_mem_eq(got, want, len);
	cache_mapping_get_stat(fs->m, &ms);
	ck_assert_uint_le(ms.cached, total / 8);
	ck_assert_uint_gt(cache_stats_now(fs).dropbehind_freed, st.dropbehind_freed);
	kfree(want);
	kfree(got);
	fake_fs_destroy(fs);
}
END_TEST

START_TEST(truncate_and_zero_range_change_what_reads_see)
{
	struct cache_config cfg = small_cfg(8 * MiB);
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);
	size_t len = 64 * KiB;
	char *want = kmalloc(len), *got = kmalloc(len);
	struct cache_mapping_stat ms;

	fill_pattern(want, len, 7);
	ck_assert_int_eq(cache_write(fs->m, 0, want, len), (ssize_t)len);
	ck_assert_int_eq(cache_write_and_wait_range(fs->m, 0, UINT64_MAX, true), 0);
	/* Zero a range crossing blocks, through the cache. */
	ck_assert_int_eq(cache_zero_range(fs->m, 5000, 10000), 0);
	memset(want + 5000, 0, 10000);
	ck_assert(cache_mapping_has_dirty(fs->m));
	ck_assert_int_eq(cache_write_and_wait_range(fs->m, 0, UINT64_MAX, true), 0);
	cache_truncate_range(fs->m, 0, UINT64_MAX);
	ck_assert_int_eq(read_through_cache(fs->m, got, 0, len, len), (ssize_t)len);
	ck_assert_mem_eq(got, want, len);
	/* Truncating part of the range drops only whole folios inside it. */
	cache_mapping_get_stat(fs->m, &ms);
	ck_assert_uint_eq(ms.cached, len / PAGE_SIZE);
	cache_truncate_range(fs->m, 100, 32 * KiB + 100);
	cache_mapping_get_stat(fs->m, &ms);
	ck_assert_uint_eq(ms.cached, len / PAGE_SIZE - 7);
	kfree(want);
	kfree(got);
	fake_fs_destroy(fs);
}
END_TEST

START_TEST(read_error_returns_eio_after_deferral)
{
	struct cache_config cfg = small_cfg(8 * MiB);
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);
	char *buf = kmalloc(64 * KiB);

	fake_map(fs, 0, 64 * KiB, 1 * MiB, IOMAP_MAPPED, 0);
	cache_mapping_set_size(fs->m, 64 * KiB);
	atomic_store(&fs->fail_reads, 1);
	ck_assert_int_eq(read_through_cache(fs->m, buf, 0, 64 * KiB, 64 * KiB), -EIO);
	ck_assert_uint_gt(cache_stats_now(fs).read_errors, 0);
	ck_assert_uint_gt(cache_deferred(fs, CACHE_DEFER_READ_ERROR), 0);
	/* The failure is not cached: once the device works, the read does. */
	atomic_store(&fs->fail_reads, 0);
	ck_assert_int_eq(read_through_cache(fs->m, buf, 0, 64 * KiB, 64 * KiB), 64 * KiB);
	kfree(buf);
	fake_fs_destroy(fs);
}
END_TEST

/* Poll (bounded) until every arena page is back on the free list. */
static uint64_t wait_pages_resident_zero(struct fake_fs *fs)
{
	struct timespec ts = { 0, 1000 * 1000 };
	int i;

	for (i = 0; i < 10000 && cache_stats_now(fs).pages_resident; i++)
		nanosleep(&ts, NULL);
	return cache_stats_now(fs).pages_resident;
}

/*
 * Regression: the worker that completes a failed read unlocked each folio
 * and then took it out of the index, dropping the index's reference
 * without freeing the folio, on the assumption that a reader still held
 * one.  Readahead folios have no reader (readahead drops its references
 * at submission), and a reader that failed on its first folio drops the
 * rest before the worker reaches them: each such folio left the index
 * with no reference and never returned to the arena (pages_resident
 * stayed up; read_error_returns_eio_after_deferral failed 1 run in 5).
 * A failed first read with readahead behind it makes every readahead
 * folio take that path.
 */
START_TEST(failed_readahead_returns_every_folio_to_arena)
{
	struct cache_config cfg = small_cfg(8 * MiB);
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);
	size_t len = 1 * MiB;
	char *want = kmalloc(len), *got = kmalloc(len);
	struct cache_mapping_stat ms;

	fake_file_on_disk(fs, want, len, 1 * MiB, 5, len);
	atomic_store(&fs->fail_reads, 1);
	ck_assert_int_eq(read_through_cache(fs->m, got, 0, 4 * KiB, 4 * KiB), -EIO);
	ck_assert_uint_gt(cache_stats_now(fs).readahead_pages, 0);
	/* Every folio of the failed reads leaves the index and the arena. */
	ck_assert_uint_eq(wait_pages_resident_zero(fs), 0);
	cache_mapping_get_stat(fs->m, &ms);
	ck_assert_uint_eq(ms.cached, 0);
	/* Nothing of the failure was cached: the device's bytes read back. */
	atomic_store(&fs->fail_reads, 0);
	ck_assert_int_eq(read_through_cache(fs->m, got, 0, len, 64 * KiB), (ssize_t)len);
	ck_assert_mem_eq(got, want, len);
	kfree(want);
	kfree(got);
	fake_fs_destroy(fs);
}
END_TEST

/*
 * The filesystem serialises reads against writes with the inode's rw lock
 * (docs/design.md), so byte-level races between a copy-in and a copy-out never
 * reach the cache; the stress test does the same.
 */
struct reader_arg {
	struct cache_mapping	*m;
	uint64_t		pos;
	size_t			len;
	struct cache_read_result *res;
	ssize_t			ret;
};

static void *reader_thread(void *p)
{
	struct reader_arg *a = p;

	a->ret = cache_read(a->m, a->pos, a->len, a->res);
	return NULL;
}

static void wait_misses(struct fake_fs *fs, uint64_t n)
{
	struct timespec ts = { 0, 1000 * 1000 };
	int i;

	for (i = 0; i < 20000 && cache_stats_now(fs).misses < n; i++)
		nanosleep(&ts, NULL);
	ck_assert_uint_ge(cache_stats_now(fs).misses, n);
}

/*
 * Regression: a read that found the cache full of referenced folios used
 * to return short (FUSE passes a short read to the application, fsx-lite
 * caught it).  It must wait for memory and return everything.
 */
START_TEST(read_waits_for_memory_instead_of_returning_short)
{
	struct cache_config cfg = small_cfg(64 * PAGE_SIZE);
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);
	struct cache_read_result *a = kmalloc(sizeof(*a)), *c = kmalloc(sizeof(*c));
	struct cache_read_result *b = kmalloc(sizeof(*b));
	size_t len = 512 * KiB;
	char *want = kmalloc(len);
	struct reader_arg ra;
	pthread_t th;
	size_t done = 0;
	unsigned i;

	fake_file_on_disk(fs, want, len, 1 * MiB, 11, len);
	/* Pin 48 of the 64 folios, as FUSE replies in flight would. */
	ck_assert_int_eq(cache_read(fs->m, 0, 128 * KiB, a), 128 * KiB);
	ck_assert_int_eq(cache_read(fs->m, 384 * KiB, 64 * KiB, c), 64 * KiB);
	ra = (struct reader_arg){ .m = fs->m, .pos = 256 * KiB, .len = 128 * KiB, .res = b };
	ck_assert_int_eq(pthread_create(&th, NULL, reader_thread, &ra), 0);
	wait_misses(fs, 48 + 16);	/* it got the 16 free folios, then waits */
	cache_read_done(a);
	cache_read_done(c);
	pthread_join(th, NULL);
	ck_assert_int_eq(ra.ret, 128 * KiB);
	for (i = 0; i < b->nr_iov; i++) {
		ck_assert_mem_eq(b->iov[i].iov_base, want + 256 * KiB + done, b->iov[i].iov_len);
		done += b->iov[i].iov_len;
	}
	ck_assert_uint_eq(done, 128 * KiB);
	cache_read_done(b);
	kfree(a);
	kfree(b);
	kfree(c);
	kfree(want);
	fake_fs_destroy(fs);
}
END_TEST

struct stress_arg {
	struct fake_fs	*fs;
	pthread_rwlock_t *ilock;
	uint64_t	base;
	size_t		len;
	unsigned	seed;
	bool		reader;
	ssize_t		result;
};

static void *stress_thread(void *p)
{
	struct stress_arg *a = p;
	char *buf = kmalloc(a->len);
	unsigned round;
	size_t off;

	a->result = 0;
	for (round = 0; round < 3; round++) {
		if (a->reader) {
			/* Whatever the writers left, a read must not fail or hang. */
			ssize_t n;

			pthread_rwlock_rdlock(a->ilock);
			n = read_through_cache(a->fs->m, buf, a->base, a->len, 24 * KiB);
			pthread_rwlock_unlock(a->ilock);

			if (n < 0)
				a->result = n;
			continue;
		}
		fill_pattern(buf, a->len, a->seed + round);
		for (off = 0; off < a->len; off += 20 * KiB) {
			size_t n = min_t(size_t, 20 * KiB, a->len - off);

			pthread_rwlock_wrlock(a->ilock);
			if (cache_write(a->fs->m, a->base + off, buf + off, n) != (ssize_t)n)
				a->result = -EIO;
			pthread_rwlock_unlock(a->ilock);
		}
		if (round == 1 &&
		    cache_write_and_wait_range(a->fs->m, a->base, a->base + a->len, true))
			a->result = -EIO;
	}
	kfree(buf);
	return NULL;
}

START_TEST(concurrent_writers_and_readers_in_tiny_cache)
{
	struct cache_config cfg = small_cfg(64 * PAGE_SIZE);
	struct fake_fs *fs = fake_fs_create(&cfg, NULL);
	size_t region = 512 * KiB;
	struct stress_arg args[4];
	pthread_rwlock_t ilock = PTHREAD_RWLOCK_INITIALIZER;
	pthread_t th[4];
	char *want = kmalloc(region), *got = kmalloc(region);
	int i;

	cache_mapping_set_size(fs->m, 2 * region);
	for (i = 0; i < 4; i++) {
		args[i] = (struct stress_arg){ .fs = fs, .ilock = &ilock, .base = (uint64_t)(i & 1) * region,
					       .len = region, .seed = 20 + (unsigned)i * 10,
					       .reader = i >= 2 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, stress_thread, &args[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(args[i].result, 0);
	}
	ck_assert_int_eq(cache_sync_all(fs->cache), 0);
	cache_truncate_range(fs->m, 0, UINT64_MAX);
	for (i = 0; i < 2; i++) {
		fill_pattern(want, region, args[i].seed + 2);
		ck_assert_int_eq(read_through_cache(fs->m, got, args[i].base, region, 32 * KiB),
				 (ssize_t)region);
		ck_assert_mem_eq(got, want, region);
	}
	kfree(want);
	kfree(got);
	fake_fs_destroy(fs);
}
END_TEST

static Suite *cache_io_suite(void)
{
	Suite *s = suite_create("cache_io");
	TCase *tc = tcase_create("io");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, read_returns_image_bytes);
	tcase_add_test(tc, holes_read_as_zeros_without_io);
	tcase_add_test(tc, write_then_read_back);
	tcase_add_test(tc, warm_sequential_read_goes_out_in_few_segments);
	tcase_add_test(tc, rmw_reads_block_only_when_mapped_below_eof);
	tcase_add_test(tc, reclaim_in_tiny_cache_reads_back_8x_file);
	tcase_add_test(tc, throttled_writer_larger_than_cache_completes);
	tcase_add_test(tc, dropbehind_stream_keeps_few_folios);
	tcase_add_test(tc, truncate_and_zero_range_change_what_reads_see);
	tcase_add_test(tc, read_error_returns_eio_after_deferral);
	tcase_add_test(tc, failed_readahead_returns_every_folio_to_arena);
	tcase_add_test(tc, concurrent_writers_and_readers_in_tiny_cache);
	tcase_add_test(tc, read_waits_for_memory_instead_of_returning_short);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return cache_test_run(cache_io_suite());
}
