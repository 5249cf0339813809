// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: direct I/O with the real stack (cache_dio_rw under the
 * filesystem's map and completion ops): a synchronous direct write into a
 * hole allocates unwritten blocks and converts them in the issuing thread
 * (IOCB_DIO_DEFER), never in a worker; an asynchronous direct write that
 * nobody waits for completes in a task worker, an asynchronous read in the
 * reaper; a direct read sees buffered data not yet written back, and a
 * direct write replaces what the cache held; a range that is not
 * block-aligned is refused (-ENOTBLK) for reads and done buffered for
 * writes; everything survives a remount with fsck clean.
 */
#include <sys/prctl.h>
#include "test_fs_dir_util.h"

#define ROOT	IOMAPFS_ROOT_INO
#define K	4096u

static struct fs_inode *ip;

static void setup(void)
{
	tfs_setup();
	tfs_create(t.fs, ROOT, "f", S_IFREG | 0644, NULL);
	ck_assert_int_eq(fs_lookup(t.fs, ROOT, "f", &ip), 0);
}

static void teardown(void)
{
	if (ip)
		fs_iput(ip);
	ip = NULL;
	tfs_teardown();
}

static void *abuf_pattern(size_t len, unsigned seed)
{
	uint8_t *buf;

	ck_assert_int_eq(posix_memalign((void **)&buf, K, len), 0);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + seed + (i >> 12));
	return buf;
}

static struct cache_stats cstats(void)
{
	struct cache_stats st;

	cache_get_stats(fs_cache(t.fs), &st);
	return st;
}

struct counter {
	const char	*name;
	uint64_t	val;
};

static void counter_fn(void *ctx, const char *name, uint64_t val)
{
	struct counter *c = ctx;

	if (!strcmp(name, c->name))
		c->val = val;
}

static uint64_t fs_counter(const char *name)
{
	struct counter c = { name, UINT64_MAX };

	fs_stats_for_each(t.fs, counter_fn, &c);
	ck_assert_uint_ne(c.val, UINT64_MAX);
	return c.val;
}

static void expect_direct(uint64_t pos, const void *want, size_t len)
{
	void *got = abuf_pattern(len, 0);

	ck_assert_int_eq(fs_dio_read(ip, pos, got, len), (ssize_t)len);
	ck_assert_mem_eq(got, want, len);
	free(got);
}

START_TEST(sync_direct_write_into_hole_converts_in_the_issuer)
{
	void *buf = abuf_pattern(64 * K, 1);
	struct cache_stats st;
	uint64_t ino = ip->ino;

	ck_assert_int_eq(fs_dio_write(ip, 256 * K, buf, 64 * K, false), 64 * K);
	st = cstats();
	ck_assert_uint_eq(st.dio_writes, 1);
	ck_assert_uint_eq(st.dio_done_issuer, 1);
	ck_assert_uint_eq(st.dio_done_worker, 0);
	ck_assert_uint_eq(st.dio_done_reaper, 0);
	ck_assert_uint_eq(st.deferred[CACHE_DEFER_DIO], 0);
	ck_assert_uint_gt(fs_counter("unwritten_converted"), 0);
	ck_assert_uint_eq(cache_mapping_size(ip->mapping), 320 * K);
	ck_assert_uint_eq(st.pages_resident, 0);	/* nothing went through folios */
	expect_direct(256 * K, buf, 64 * K);
	fs_iput(ip);
	ip = NULL;
	tfs_remount(&t);
	ck_assert_int_eq(fs_iget(t.fs, ino, &ip), 0);
	ck_assert_uint_eq(cache_mapping_size(ip->mapping), 320 * K);
	expect_direct(256 * K, buf, 64 * K);
	free(buf);
}
END_TEST

struct async_done {
	struct cache_dio_iocb	iocb;
	atomic_int		called;
	ssize_t			ret;
	char			comm[16];
};

static void async_complete(struct cache_dio_iocb *iocb, ssize_t ret)
{
	struct async_done *d = container_of(iocb, struct async_done, iocb);

	prctl(PR_GET_NAME, d->comm);
	d->ret = ret;
	atomic_store(&d->called, 1);
}

/* Start an asynchronous cache_dio_rw() under the rwsem its caller must
 * hold. */
static void async_dio_start(struct async_done *d, uint64_t pos, void *buf,
			    size_t len, bool write)
{
	ssize_t n;

	d->iocb.ki_complete = async_complete;
	if (write)
		down_write(&ip->rwsem);
	else
		down_read(&ip->rwsem);
	n = cache_dio_rw(ip->mapping, pos, buf, len, write, &d->iocb);
	if (write)
		up_write(&ip->rwsem);
	else
		up_read(&ip->rwsem);
	ck_assert_int_eq(n, -EIOCBQUEUED);
}

/* Wait (bounded) for its completion, then check its result. */
static void async_dio_wait(struct async_done *d, size_t len)
{
	struct timespec ts = { 0, 1000 * 1000 };

	for (int i = 0; i < 20000 && !atomic_load(&d->called); i++)
		nanosleep(&ts, NULL);
	ck_assert_int_eq(atomic_load(&d->called), 1);
	ck_assert_int_eq(d->ret, (ssize_t)len);
}

/*
 * A backend layer that keeps data bios back until the test releases them,
 * so that no bio of a dio can end before its issuer has let go of it.
 */
struct hold_layer {
	struct blk_dev_layer	lower;
	struct bio		*held[16];
	unsigned		nr;
};

static void hold_submit(struct blk_dev *dev, struct bio *bio)
{
	struct hold_layer *h = blk_dev_ops_private(dev);

	if (bio->bi_class != BIO_CLASS_DATA || h->nr == ARRAY_SIZE(h->held)) {
		blk_dev_submit_lower(dev, &h->lower, bio);
		return;
	}
	h->held[h->nr++] = bio;
}

static const struct blk_dev_ops hold_ops = { .submit = hold_submit };

/* Take the layer off (nothing submits through it after that), then pass
 * the held bios down. */
static void hold_release(struct hold_layer *h)
{
	blk_dev_pop_ops(fs_dev(t.fs), &h->lower);
	for (unsigned i = 0; i < h->nr; i++)
		blk_dev_submit_lower(fs_dev(t.fs), &h->lower, h->held[i]);
}

/*
 * The write's bios are held until cache_dio_rw() has returned: otherwise
 * the reaper could end them all before the issuer drops its own
 * reference, and the issuer then completes the dio itself, as it may
 * (this test failed about 1 run in 5 under load that way).
 */
START_TEST(async_direct_write_nobody_waits_for_completes_in_worker)
{
	struct async_done d = { 0 };
	void *buf = abuf_pattern(32 * K, 2);
	struct hold_layer hold = { 0 };
	struct cache_stats st;

	blk_dev_push_ops(fs_dev(t.fs), &hold_ops, &hold, &hold.lower);
	async_dio_start(&d, 0, buf, 32 * K, true);
	ck_assert_uint_gt(hold.nr, 0);
	ck_assert_int_eq(atomic_load(&d.called), 0);
	hold_release(&hold);
	async_dio_wait(&d, 32 * K);
	ck_assert_msg(!strncmp(d.comm, "iomapfs-wq/", 11), "completed in %s", d.comm);
	st = cstats();
	ck_assert_uint_eq(st.dio_done_worker, 1);
	ck_assert_uint_eq(st.deferred[CACHE_DEFER_DIO], 1);
	ck_assert_uint_eq(cache_mapping_size(ip->mapping), 32 * K);
	ck_assert_uint_gt(fs_counter("unwritten_converted"), 0);
	expect_direct(0, buf, 32 * K);
	free(buf);
}
END_TEST

START_TEST(async_direct_read_never_completes_in_a_worker)
{
	struct async_done d = { 0 };
	void *buf = abuf_pattern(16 * K, 3), *got = abuf_pattern(16 * K, 0);
	struct cache_stats before, after;

	ck_assert_int_eq(fs_dio_write(ip, 0, buf, 16 * K, false), 16 * K);
	before = cstats();
	async_dio_start(&d, 0, got, 16 * K, false);
	async_dio_wait(&d, 16 * K);
	after = cstats();
	/*
	 * A read needs no task work, so it completes where its last
	 * reference drops: in the reaper, or in the issuer when the bio
	 * ended before the issuer let go of its own (as iomap_dio_rw), but
	 * never in a worker.
	 */
	ck_assert_msg(!strncmp(d.comm, "iomapfs-irq/", 12) ||
		      !strncmp(d.comm, "test_fs_dio", 11), "completed in %s", d.comm);
	ck_assert_uint_eq(after.dio_done_reaper - before.dio_done_reaper +
			  after.dio_done_issuer - before.dio_done_issuer, 1);
	ck_assert_uint_eq(after.dio_done_worker, before.dio_done_worker);
	ck_assert_mem_eq(got, buf, 16 * K);
	free(buf);
	free(got);
}
END_TEST

START_TEST(direct_and_buffered_users_of_one_file_stay_coherent)
{
	void *a = abuf_pattern(64 * K, 4), *b = abuf_pattern(16 * K, 5);
	struct cache_read_result *res = malloc(sizeof(*res));
	ssize_t n;

	ck_assert_int_eq(fs_write(ip, 0, a, 64 * K, false), 64 * K);	/* dirty, cached */
	expect_direct(0, a, 64 * K);			/* written back first */
	ck_assert_int_eq(fs_dio_write(ip, 8 * K, b, 16 * K, false), 16 * K);
	n = fs_read(ip, 8 * K, 16 * K, res);		/* the stale folios are gone */
	ck_assert_int_eq(n, 16 * K);
	for (unsigned i = 0, off = 0; i < res->nr_iov; off += res->iov[i].iov_len, i++)
		ck_assert_mem_eq(res->iov[i].iov_base, (char *)b + off, res->iov[i].iov_len);
	cache_read_done(res);
	free(res);
	free(a);
	free(b);
}
END_TEST

START_TEST(unaligned_direct_io_reads_refused_writes_buffered)
{
	char *buf = abuf_pattern(8 * K, 6), *got = abuf_pattern(8 * K, 0);

	ck_assert_int_eq(fs_dio_write(ip, 100, buf, 5000, false), 5000);
	ck_assert_uint_eq(fs_counter("dio_fallbacks"), 1);
	ck_assert_uint_eq(cache_mapping_size(ip->mapping), 5100);
	ck_assert(!cache_mapping_has_dirty(ip->mapping));	/* written back */
	ck_assert_int_eq(fs_dio_read(ip, 100, got, 5000), -ENOTBLK);
	ck_assert_int_eq(fs_dio_read(ip, 0, got, 8 * K), 5100);	/* stops at EOF */
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(got[i], 0);
	ck_assert_mem_eq(got + 100, buf, 5000);
	free(buf);
	free(got);
}
END_TEST

START_TEST(fsck_is_clean_after_direct_writes)
{
	void *buf = abuf_pattern(128 * K, 7);

	ck_assert_int_eq(fs_fallocate(ip, 0, 0, 256 * K), 0);
	ck_assert_int_eq(fs_dio_write(ip, 64 * K, buf, 128 * K, false), 128 * K);
	ck_assert_int_eq(fs_dio_write(ip, 1024 * K, buf, 128 * K, false), 128 * K);
	ck_assert_int_eq(fs_fsync(ip, false, NULL), 0);
	fs_iput(ip);
	ip = NULL;
	tfs_unmount(&t);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_OK);
	tfs_mount(&t);
	ck_assert_int_eq(fs_lookup(t.fs, ROOT, "f", &ip), 0);
	ck_assert_uint_eq(cache_mapping_size(ip->mapping), 1152 * K);
	expect_direct(64 * K, buf, 128 * K);
	expect_direct(1024 * K, buf, 128 * K);
	free(buf);
}
END_TEST

static Suite *dio_suite(void)
{
	Suite *s = suite_create("fs_dio");
	TCase *tc = tcase_create("dio");

	tcase_add_unchecked_fixture(tc, tfs_dir_create, tfs_dir_remove);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, sync_direct_write_into_hole_converts_in_the_issuer);
	tcase_add_test(tc, async_direct_write_nobody_waits_for_completes_in_worker);
	tcase_add_test(tc, async_direct_read_never_completes_in_a_worker);
	tcase_add_test(tc, direct_and_buffered_users_of_one_file_stay_coherent);
	tcase_add_test(tc, unaligned_direct_io_reads_refused_writes_buffered);
	tcase_add_test(tc, fsck_is_clean_after_direct_writes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tfs_run(dio_suite());
}
