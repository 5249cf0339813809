// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: the metadata journal.  A committed transaction survives a
 * crash before its checkpoint (replayed at the next mount); a transaction
 * whose commit block never reached the device is not replayed; the journal
 * wraps around over many commits and replay still works across the wrap;
 * shutdown drops the running transaction; a write error during a commit
 * shuts the filesystem down and marks the superblock ERROR (fault injected
 * through the device ops table); the log thread commits on its own; and a
 * large transaction commits at meta_end.  A commit costs one device flush:
 * home writes are not flushed on their own and the journal tail lags, so
 * a crash that loses unflushed writes (a volatile write cache simulated
 * through the device ops table) must still replay to the last commit, lap
 * after lap; unmount leaves a clean tail; fsck -y salvages a corrupt
 * journal superblock and the mount tells it so (meta_journal_was_salvaged;
 * fsck's exit code for it is in test_fs_fsck.c).
 */
#include "test_meta_fixture.c"

#include <dirent.h>
#include <iomapfs/rwsem.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

static void put_u64(struct meta *m, uint64_t obj, uint64_t off, uint64_t v)
{
	struct iomapfs_key k = meta_key(obj, IOMAPFS_ITEM_EXTENT, off);

	ck_assert_int_eq(btree_insert(m, &k, &v, sizeof(v)), 0);
}

/* The value at (obj, off), or ~0 when missing. */
static uint64_t get_u64(struct meta *m, uint64_t obj, uint64_t off)
{
	struct iomapfs_key k = meta_key(obj, IOMAPFS_ITEM_EXTENT, off);
	uint64_t v;
	uint32_t len = sizeof(v);
	int err;

	meta_begin(m);
	err = btree_lookup(m, &k, &v, &len);
	meta_end(m);
	ck_assert(err == 0 || err == -ENOENT);
	return err ? ~0ull : v;
}

static void put_range(struct meta *m, uint64_t obj, uint64_t n, uint64_t gen)
{
	meta_begin(m);
	for (uint64_t i = 0; i < n; i++)
		put_u64(m, obj, i, obj * 1000000 + i * 10 + gen);
	meta_end(m);
}

static bool range_is(struct meta *m, uint64_t obj, uint64_t n, uint64_t gen)
{
	for (uint64_t i = 0; i < n; i++)
		if (get_u64(m, obj, i) != obj * 1000000 + i * 10 + gen)
			return false;
	return true;
}

/* Crash: what the journal holds is all that survives; mount again. */
static void crash_and_remount(struct fx *f, bool torn, struct meta_stats *st)
{
	ck_assert_int_eq(meta_commit_no_checkpoint(f->m, torn), 0);
	ck_assert(meta_is_shutdown(f->m));
	ck_assert_int_eq(meta_unmount(f->m), -EIO);
	f->m = NULL;
	fx_close(f);
	fx_open(f);
	fx_mount(f);
	meta_get_stats(f->m, st);
}

START_TEST(committed_txn_is_replayed_after_crash)
{
	struct fx f = { 0 };
	struct meta_stats st;
	uint64_t s, l, ext[1][2];

	fx_setup(&f, "replay.img", 64 * MiB, 0);
	put_range(f.m, 50, 300, 1);
	meta_begin(f.m);
	ck_assert_int_eq(alloc_extent(f.m, 0, 20, 20, false, &s, &l), 0);
	meta_alloc_ino(f.m);
	meta_end(f.m);
	crash_and_remount(&f, false, &st);
	/* The lazy tail may replay the mount's own commit too: harmless. */
	ck_assert_uint_ge(st.replayed_txns, 1);
	ck_assert(range_is(f.m, 50, 300, 1));
	ck_assert_uint_eq(meta_super(f.m)->next_ino, IOMAPFS_FIRST_INO + 1);
	ext[0][0] = s;
	ext[0][1] = l;
	ck_assert_int_eq(fx_check_all(f.m, ext, 1), 0);
	/* Replay is complete: a clean remount replays nothing. */
	fx_remount(&f);
	meta_get_stats(f.m, &st);
	ck_assert_uint_eq(st.replayed_txns, 0);
	ck_assert(range_is(f.m, 50, 300, 1));
	fx_teardown(&f);
}
END_TEST

START_TEST(torn_txn_without_commit_block_is_not_replayed)
{
	struct fx f = { 0 };
	struct meta_stats st;
	uint64_t s, l, good;

	fx_setup(&f, "torn.img", 64 * MiB, 0);
	put_range(f.m, 60, 200, 1);
	ck_assert_int_eq(meta_commit(f.m), 0);
	good = meta_durable_seq(f.m);
	put_range(f.m, 60, 200, 2);		/* overwrite... */
	put_range(f.m, 61, 200, 2);		/* ...and add */
	meta_begin(f.m);
	ck_assert_int_eq(alloc_extent(f.m, 0, 20, 20, false, &s, &l), 0);
	meta_end(f.m);
	crash_and_remount(&f, true, &st);
	/* Replay ended before the torn transaction: the mount's commit reused
	 * its sequence number. */
	ck_assert_uint_eq(meta_durable_seq(f.m), good + 1);
	ck_assert(range_is(f.m, 60, 200, 1));
	ck_assert_uint_eq(get_u64(f.m, 61, 0), ~0ull);
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);	/* the extent never happened */
	fx_teardown(&f);
}
END_TEST

/* The journal superblock as it is in the image file. */
static struct iomapfs_jsb jsb_read(struct fx *f)
{
	struct iomapfs_jsb jsb;
	int fd = open(f->path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &jsb, sizeof(jsb), 2 * BLK), (ssize_t)sizeof(jsb));
	close(fd);
	ck_assert_uint_eq(jsb.hdr.magic, IOMAPFS_JSB_MAGIC);
	return jsb;
}

/* The jsb tail, relative to the journal start (it lags the head). */
static uint64_t jsb_tail(struct fx *f)
{
	return jsb_read(f).tail_block;
}

/*
 * Where the next transaction goes, relative to the journal start: after
 * the commit block with the highest sequence number in the image file (a
 * clean, never-used journal: 1).
 */
static uint64_t journal_head(struct fx *f)
{
	struct iomapfs_super sb;
	uint64_t best_seq = 0, head = 1;
	uint8_t *area;

	fx_pio(f, false, &sb, sizeof(sb), 0);
	area = malloc(sb.journal_blocks * BLK);
	fx_pio(f, false, area, sb.journal_blocks * BLK, sb.journal_start * BLK);
	for (uint64_t pos = 1; pos < sb.journal_blocks; pos++) {
		struct iomapfs_blkhdr *h = (void *)(area + pos * BLK);

		if (h->magic == IOMAPFS_JCOMMIT_MAGIC && h->seq >= best_seq) {
			best_seq = h->seq;
			head = pos + 1 == sb.journal_blocks ? 1 : pos + 1;
		}
	}
	free(area);
	return head;
}

START_TEST(journal_wraps_around_and_replays_across_the_wrap)
{
	struct fx f = { 0 };
	struct meta_stats st;
	uint64_t gen = 1, before;

	/* A 64-block journal: 63 usable positions, 1..63. */
	fx_setup(&f, "wrap.img", 32 * MiB, 64);
	for (int round = 0; round < 4; round++) {
		/* Small commits move the head until the next transaction must
		 * wrap past the end of the journal area... */
		for (int c = 0; c < 200 && journal_head(&f) < 60; c++, gen++) {
			put_range(f.m, 70, 3, gen % 10);
			ck_assert_int_eq(meta_commit(f.m), 0);
		}
		before = journal_head(&f);
		ck_assert_uint_ge(before, 60);
		/* ...then a transaction of several blocks that straddles the wrap
		 * is lost in a crash after its journal write. */
		put_range(f.m, 80, 300, round);
		ck_assert_int_eq(meta_commit_no_checkpoint(f.m, false), 0);
		ck_assert_int_eq(meta_unmount(f.m), -EIO);
		f.m = NULL;
		fx_close(&f);
		ck_assert_uint_lt(journal_head(&f), before);	/* the log wrapped */
		ck_assert_uint_le(jsb_tail(&f), before);	/* the tail did not */
		fx_open(&f);
		fx_mount(&f);
		meta_get_stats(f.m, &st);
		ck_assert_uint_ge(st.replayed_txns, 1);
		ck_assert(range_is(f.m, 80, 300, round));
		ck_assert(range_is(f.m, 70, 3, (gen - 1) % 10));
		ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	}
	fx_teardown(&f);
}
END_TEST

/* Crash with one committed, unreplayed transaction; leaves f unmounted. */
static void crash_with_dirty_journal(struct fx *f, uint64_t obj, uint64_t gen)
{
	put_range(f->m, obj, 300, gen);
	ck_assert_int_eq(meta_commit_no_checkpoint(f->m, false), 0);
	ck_assert_int_eq(meta_unmount(f->m), -EIO);
	f->m = NULL;
}

START_TEST(read_only_mount_sees_a_dirty_journal_without_writing)
{
	struct fx f = { 0 };
	struct meta_mount_opts ro = { .readonly = true };
	struct meta_mount_opts noreplay = { .no_replay = true };
	struct meta_stats st;
	uint64_t tail;
	const char *msg;

	fx_setup(&f, "ro.img", 64 * MiB, 0);
	put_range(f.m, 150, 300, 1);
	ck_assert_int_eq(meta_commit(f.m), 0);
	crash_with_dirty_journal(&f, 150, 2);
	tail = jsb_tail(&f);

	/* fsck -n: the committed state is visible, nothing is written. */
	capture_begin();
	ck_assert_int_eq(fx_mount_opts(&f, &ro), 0);
	msg = capture_end();
	ck_assert_ptr_nonnull(strstr(msg, "in memory only"));
	ck_assert(range_is(f.m, 150, 300, 2));
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	meta_get_stats(f.m, &st);
	ck_assert_uint_eq(st.replayed_txns, 0);
	fx_unmount(&f);
	ck_assert_uint_eq(jsb_tail(&f), tail);

	/* A read-write mount without replay still never loses the log. */
	ck_assert_int_eq(fx_mount_opts(&f, &noreplay), 0);
	ck_assert(range_is(f.m, 150, 300, 2));
	fx_remount(&f);
	meta_get_stats(f.m, &st);
	ck_assert_uint_eq(st.replayed_txns, 0);
	ck_assert(range_is(f.m, 150, 300, 2));
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	fx_teardown(&f);
}
END_TEST

/* Every @step-th item of the range gets generation @gen (one section). */
static void update_every(struct meta *m, uint64_t obj, uint64_t n, uint64_t step, uint64_t gen)
{
	meta_begin(m);
	for (uint64_t i = 0; i < n; i += step)
		put_u64(m, obj, i, obj * 1000000 + i * 10 + gen);
	meta_end(m);
}

START_TEST(replay_of_a_transaction_with_several_descriptors)
{
	struct fx f = { 0 };
	struct meta_stats st0, st;

	/* A 2048-block journal: meta_end commits only past 1023 blocks. */
	fx_setup(&f, "multidesc.img", 128 * MiB, 2048);
	for (uint64_t obj = 160; obj < 166; obj++)
		put_range(f.m, obj, 12000, 1);
	ck_assert_int_eq(meta_commit(f.m), 0);
	meta_get_stats(f.m, &st0);
	/* One item in nearly every leaf: ~700 blocks, more than the 504 home
	 * blocks one descriptor can list. */
	for (uint64_t obj = 160; obj < 166; obj++)
		update_every(f.m, obj, 12000, 100, 2);
	ck_assert_int_eq(meta_commit_no_checkpoint(f.m, false), 0);
	meta_get_stats(f.m, &st);
	ck_assert_uint_gt(st.journal_blocks_written - st0.journal_blocks_written,
			  IOMAPFS_JDESC_MAX + 2);
	ck_assert_int_eq(meta_unmount(f.m), -EIO);
	f.m = NULL;
	fx_close(&f);
	fx_open(&f);
	fx_mount(&f);
	meta_get_stats(f.m, &st);
	ck_assert_uint_eq(st.replayed_txns, 1);
	for (uint64_t obj = 160; obj < 166; obj++)
		for (uint64_t i = 0; i < 12000; i += 50)
			ck_assert_uint_eq(get_u64(f.m, obj, i),
					  obj * 1000000 + i * 10 + (i % 100 ? 1 : 2));
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	fx_teardown(&f);
}
END_TEST

START_TEST(txn_with_a_corrupted_image_is_not_replayed)
{
	struct fx f = { 0 };
	struct meta_stats st;
	uint64_t off;
	uint8_t b;

	fx_setup(&f, "badimg.img", 64 * MiB, 0);
	put_range(f.m, 170, 200, 1);
	ck_assert_int_eq(meta_commit(f.m), 0);
	put_range(f.m, 170, 200, 2);
	ck_assert_int_eq(meta_commit_no_checkpoint(f.m, false), 0);
	ck_assert_int_eq(meta_unmount(f.m), -EIO);
	f.m = NULL;
	fx_close(&f);
	/* The second image after the descriptor (the first is the superblock):
	 * one flipped bit breaks the commit block's data checksum. */
	off = (2 + jsb_tail(&f) + 2) * BLK + 1000;
	fx_pio(&f, false, &b, 1, off);
	b ^= 0x10;
	fx_pio(&f, true, &b, 1, off);
	fx_open(&f);
	fx_mount(&f);
	meta_get_stats(f.m, &st);
	ck_assert_uint_eq(st.replayed_txns, 0);
	ck_assert(range_is(f.m, 170, 200, 1));
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	fx_teardown(&f);
}
END_TEST

START_TEST(corrupt_journal_superblock_fails_mount_but_fsck_can_salvage)
{
	struct fx f = { 0 };
	struct meta_mount_opts fsck = { .no_replay = true };
	const char *msg;
	uint8_t b;
	int err;

	fx_setup(&f, "badjsb.img", 32 * MiB, 0);
	put_range(f.m, 180, 100, 1);
	fx_unmount(&f);
	fx_close(&f);
	fx_pio(&f, false, &b, 1, 2 * BLK + 500);
	b ^= 0x20;
	fx_pio(&f, true, &b, 1, 2 * BLK + 500);
	fx_open(&f);
	capture_begin();
	err = meta_mount(f.dev, &(struct meta_mount_opts){ 0 }, &f.m);
	msg = capture_end();
	ck_assert_int_eq(err, -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(msg, "journal superblock"));
	capture_begin();
	err = fx_mount_opts(&f, &fsck);
	msg = capture_end();
	ck_assert_int_eq(err, 0);
	ck_assert_ptr_nonnull(strstr(msg, "journal ignored"));
	ck_assert(range_is(f.m, 180, 100, 1));
	/* The salvage mount's commit rewrote the journal superblock. */
	fx_remount(&f);
	ck_assert(range_is(f.m, 180, 100, 1));
	fx_teardown(&f);
}
END_TEST

START_TEST(many_commits_write_the_journal_several_times_over)
{
	struct fx f = { 0 };
	struct meta_stats st;

	fx_setup(&f, "laps.img", 32 * MiB, 64);
	for (uint64_t gen = 0; gen < 300; gen++) {
		put_range(f.m, 90, 60, gen % 10);
		ck_assert_int_eq(meta_commit(f.m), 0);
	}
	meta_get_stats(f.m, &st);
	ck_assert_uint_ge(st.commits, 300);
	ck_assert_uint_ge(st.journal_blocks_written, 64 * 10);	/* ten laps at least */
	fx_remount(&f);
	ck_assert(range_is(f.m, 90, 60, 299 % 10));
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	fx_teardown(&f);
}
END_TEST

START_TEST(shutdown_drops_the_running_transaction)
{
	struct fx f = { 0 };
	uint64_t v = 5, s, l;
	uint32_t len = sizeof(v);
	struct iomapfs_key k = meta_key(100, IOMAPFS_ITEM_EXTENT, 0);

	fx_setup(&f, "shutdown.img", 32 * MiB, 0);
	put_range(f.m, 100, 50, 1);
	ck_assert_int_eq(meta_commit(f.m), 0);
	put_range(f.m, 100, 50, 2);
	meta_shutdown(f.m);
	ck_assert(meta_is_shutdown(f.m));
	meta_begin(f.m);
	ck_assert_int_eq(btree_lookup(f.m, &k, &v, &len), -EIO);
	ck_assert_int_eq(btree_insert(f.m, &k, &v, sizeof(v)), -EIO);
	ck_assert_int_eq(alloc_extent(f.m, 0, 1, 1, false, &s, &l), -EIO);
	meta_end(f.m);
	ck_assert_int_eq(meta_commit(f.m), -EIO);
	ck_assert_int_eq(alloc_reserve(f.m, 1), -EIO);
	ck_assert_int_eq(meta_unmount(f.m), -EIO);
	f.m = NULL;
	fx_close(&f);
	fx_open(&f);
	fx_mount(&f);
	ck_assert(range_is(f.m, 100, 50, 1));
	fx_teardown(&f);
}
END_TEST

START_TEST(sequence_numbers_tell_fsync_when_to_commit)
{
	struct fx f = { 0 };
	uint64_t run, dur;

	fx_setup(&f, "seq.img", 32 * MiB, 0);
	run = meta_running_seq(f.m);
	dur = meta_durable_seq(f.m);
	ck_assert_uint_eq(dur + 1, run);
	ck_assert_int_eq(meta_commit(f.m), 0);		/* nothing pending: no new txn */
	ck_assert_uint_eq(meta_running_seq(f.m), run);
	put_range(f.m, 110, 5, 1);
	ck_assert_uint_gt(run, meta_durable_seq(f.m));	/* changed in a txn not durable */
	ck_assert_int_eq(meta_commit(f.m), 0);
	ck_assert_uint_eq(meta_durable_seq(f.m), run);
	ck_assert_uint_eq(meta_running_seq(f.m), run + 1);
	fx_teardown(&f);
}
END_TEST

static uint64_t dev_flushes(struct fx *f)
{
	struct blk_stats st;

	blk_dev_get_stats(f->dev, &st);
	return st.flushes;
}

START_TEST(commit_with_nothing_pending_still_flushes_the_device)
{
	struct fx f = { 0 };
	struct meta_stats st0, st;
	uint64_t flushes;

	fx_setup(&f, "flush.img", 32 * MiB, 0);
	meta_get_stats(f.m, &st0);
	flushes = dev_flushes(&f);
	/* fsync's data needs the flush even when the metadata is durable. */
	ck_assert_int_eq(meta_commit(f.m), 0);
	meta_get_stats(f.m, &st);
	ck_assert_uint_eq(st.commits, st0.commits);
	ck_assert_uint_eq(dev_flushes(&f), flushes + 1);
	/* A real commit flushes once too: the journal write (with the lagging
	 * tail in the same batch); its home writes wait for the next flush. */
	put_range(f.m, 115, 5, 1);
	flushes = dev_flushes(&f);
	ck_assert_int_eq(meta_commit(f.m), 0);
	meta_get_stats(f.m, &st);
	ck_assert_uint_eq(st.commits, st0.commits + 1);
	ck_assert_uint_eq(st.checkpoints, st0.checkpoints + 1);
	ck_assert_uint_eq(dev_flushes(&f), flushes + 1);
	fx_teardown(&f);
}
END_TEST

/* ---- fault injection through the device ops table ---- */

struct faulty {
	atomic_int	fail_writes;	/* fail the next N write bios */
	atomic_int	failed;
};

static void faulty_submit(struct blk_dev *dev, struct bio *bio)
{
	struct faulty *fl = blk_dev_ops_private(dev);

	if (bio->bi_op == REQ_OP_WRITE && atomic_load(&fl->fail_writes) > 0) {
		atomic_fetch_sub(&fl->fail_writes, 1);
		atomic_fetch_add(&fl->failed, 1);
		bio->bi_status = -EIO;
		bio_endio(bio);
		return;
	}
	blk_dev_default_submit(dev, bio);
}

static const struct blk_dev_ops faulty_ops = { .submit = faulty_submit };

START_TEST(write_error_in_commit_shuts_down_and_marks_error)
{
	struct fx f = { 0 };
	struct faulty fl = { 0 };
	const char *msg;
	int err;

	fx_setup(&f, "eio.img", 32 * MiB, 0);
	put_range(f.m, 120, 50, 1);
	ck_assert_int_eq(meta_commit(f.m), 0);
	put_range(f.m, 120, 50, 2);
	blk_dev_set_ops(f.dev, &faulty_ops, &fl);
	atomic_store(&fl.fail_writes, 1);	/* the journal write; the ERROR mark gets through */
	capture_begin();
	err = meta_commit(f.m);
	msg = capture_end();
	ck_assert_int_eq(err, -EIO);
	ck_assert_int_eq(atomic_load(&fl.failed), 1);
	ck_assert_ptr_nonnull(strstr(msg, "shutting down"));
	ck_assert(meta_is_shutdown(f.m));
	ck_assert_int_eq(meta_commit(f.m), -EIO);
	ck_assert_int_eq(meta_unmount(f.m), -EIO);
	f.m = NULL;
	blk_dev_set_ops(f.dev, NULL, NULL);
	fx_close(&f);
	fx_open(&f);
	capture_begin();
	fx_mount(&f);
	msg = capture_end();
	ck_assert_uint_eq(meta_super(f.m)->state, IOMAPFS_STATE_ERROR);
	ck_assert_ptr_nonnull(strstr(msg, "run fsck"));
	ck_assert(range_is(f.m, 120, 50, 1));
	fx_teardown(&f);
}
END_TEST

/* ---- a volatile write cache, through the device ops table ---- */

/*
 * Every write goes through to the image at once, but its previous
 * contents are kept until a flush: a "power cut" rolls back an arbitrary
 * subset of the writes since the last completed flush (newest first), as
 * a device with a volatile write cache may lose any of them.  With
 * crash_at_flush set, the Nth flush from then on is the power cut: it and
 * every later write fail, as on a dead device.
 */
struct vundo {
	uint64_t	off;
	uint32_t	len;
	void		*old;
};

struct vcache {
	int		fd;		/* the image, buffered, for the undo copies */
	struct vundo	*u;
	size_t		nr, cap;
	int		crash_at_flush;	/* 0: never */
	bool		dead;
	bool		lose_all;	/* the power cut loses every unflushed write */
	bool		keep_log;	/* ...except those to journal blocks past the jsb */
	uint64_t	rng;
};

static void vcache_submit(struct blk_dev *dev, struct bio *bio)
{
	struct vcache *vc = blk_dev_ops_private(dev);

	if (vc->dead || (bio->bi_op == REQ_OP_FLUSH && vc->crash_at_flush &&
			 --vc->crash_at_flush == 0)) {
		vc->dead = true;
		bio->bi_status = -EIO;
		bio_endio(bio);
		return;
	}
	if (bio->bi_op == REQ_OP_WRITE) {
		struct vundo *u;

		if (vc->nr == vc->cap) {
			vc->cap = vc->cap ? 2 * vc->cap : 64;
			vc->u = realloc(vc->u, vc->cap * sizeof(*vc->u));
		}
		u = &vc->u[vc->nr++];
		u->off = bio->bi_sector << SECTOR_SHIFT;
		u->len = bio->bi_size;
		u->old = malloc(u->len);
		ck_assert_int_eq(pread(vc->fd, u->old, u->len, u->off), (ssize_t)u->len);
	} else if (bio->bi_op == REQ_OP_FLUSH) {
		/* The meta engine waits for its writes before it flushes. */
		for (size_t i = 0; i < vc->nr; i++)
			free(vc->u[i].old);
		vc->nr = 0;
	}
	blk_dev_default_submit(dev, bio);
}

static const struct blk_dev_ops vcache_ops = { .submit = vcache_submit };

static void vcache_attach(struct fx *f, struct vcache *vc, uint64_t seed)
{
	*vc = (struct vcache){ .rng = seed };
	vc->fd = open(f->path, O_RDWR);
	ck_assert_int_ge(vc->fd, 0);
	blk_dev_set_ops(f->dev, &vcache_ops, vc);
}

static bool vcache_coin(struct vcache *vc)
{
	vc->rng = vc->rng * 6364136223846793005ull + 1442695040888963407ull;
	return vc->lose_all || vc->rng >> 63;
}

/* Does the power cut lose undo entry @u? */
static bool vcache_loses(struct vcache *vc, const struct vundo *u,
			 const struct iomapfs_super *sb)
{
	uint64_t blk = u->off / BLK;

	if (vc->keep_log && blk > sb->journal_start &&
	    blk < sb->journal_start + sb->journal_blocks)
		return false;
	return vcache_coin(vc);
}

/*
 * The power cut: the filesystem stops (shut down, unmounted with -EIO,
 * device closed), a random subset of the unflushed writes is lost, and
 * the image is mounted again.  Returns how many writes were lost.
 */
static size_t vcache_power_cut(struct fx *f, struct vcache *vc)
{
	struct iomapfs_super sb = *meta_super(f->m);
	size_t lost = 0;

	meta_shutdown(f->m);
	ck_assert_int_eq(meta_unmount(f->m), -EIO);
	f->m = NULL;
	blk_dev_set_ops(f->dev, NULL, NULL);
	fx_close(f);
	for (size_t i = vc->nr; i-- > 0;) {
		if (vcache_loses(vc, &vc->u[i], &sb)) {
			ck_assert_int_eq(pwrite(vc->fd, vc->u[i].old, vc->u[i].len, vc->u[i].off),
					 (ssize_t)vc->u[i].len);
			lost++;
		}
		free(vc->u[i].old);
	}
	fsync(vc->fd);
	close(vc->fd);
	free(vc->u);
	fx_open(f);
	fx_mount(f);
	return lost;
}

START_TEST(commit_costs_exactly_one_flush)
{
	struct fx f = { 0 };
	struct meta_stats st0, st;
	uint64_t flushes;

	/* A 64-block journal: hundreds of commits lap it many times, and the
	 * lagging tail never leaves a commit short of space. */
	fx_setup(&f, "oneflush.img", 32 * MiB, 64);
	meta_get_stats(f.m, &st0);
	for (uint64_t gen = 0; gen < 300; gen++) {
		put_range(f.m, 95, 40 + gen % 80, gen % 10);
		flushes = dev_flushes(&f);
		ck_assert_int_eq(meta_commit(f.m), 0);
		ck_assert_uint_eq(dev_flushes(&f), flushes + 1);
	}
	meta_get_stats(f.m, &st);
	ck_assert_uint_eq(st.commits, st0.commits + 300);
	ck_assert_uint_eq(st.checkpoints, st0.checkpoints + 300);
	ck_assert_uint_ge(st.journal_blocks_written, 64 * 10);
	fx_remount(&f);
	ck_assert(range_is(f.m, 95, 40 + 299 % 80, 299 % 10));
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	fx_teardown(&f);
}
END_TEST

START_TEST(crash_with_unflushed_home_writes_replays_the_last_commit)
{
	struct fx f = { 0 };
	struct vcache vc;
	struct meta_stats st;
	size_t lost;

	fx_setup(&f, "lazyhome.img", 32 * MiB, 0);
	put_range(f.m, 190, 300, 1);
	ck_assert_int_eq(meta_commit(f.m), 0);
	vcache_attach(&f, &vc, 1);
	put_range(f.m, 190, 300, 2);
	put_range(f.m, 191, 300, 2);
	ck_assert_int_eq(meta_commit(f.m), 0);
	/* Commit N is durable; its home writes (and the jsb) wait for the
	 * next flush, which never comes: every one of them is lost. */
	ck_assert_uint_ge(vc.nr, 2);	/* the journal batch, the home batch */
	vc.lose_all = true;
	lost = vcache_power_cut(&f, &vc);
	ck_assert_uint_ge(lost, 1);	/* the home writes: never flushed */
	meta_get_stats(f.m, &st);
	ck_assert_uint_ge(st.replayed_txns, 1);
	ck_assert(range_is(f.m, 190, 300, 2));
	ck_assert(range_is(f.m, 191, 300, 2));
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	fx_teardown(&f);
}
END_TEST

/* Every 100th of the @n items of @obj holds generation @gen. */
static bool every_is(struct meta *m, uint64_t obj, uint64_t n, uint64_t gen)
{
	for (uint64_t i = 0; i < n; i += 100)
		if (get_u64(m, obj, i) != obj * 1000000 + i * 10 + gen)
			return false;
	return true;
}

/*
 * Many rounds on a 64-block journal (it laps many times, the tail always
 * lagging): a few commits, then a power cut either after the last commit
 * (its home writes unflushed) or at its own flush (its journal write torn
 * at random).  The next mount must find the last durable generation, or,
 * for a cut at the flush, that one or the one being committed.  Some
 * rounds commit transactions of a third of the journal, so that the space
 * behind the lagging tail runs short.
 */
START_TEST(journal_laps_with_lazy_tails_and_random_power_cuts)
{
	struct fx f = { 0 };
	struct vcache vc;
	uint64_t gen = 1, have = 0, laps = 0, big_gen[512] = { 0 };

	fx_setup(&f, "lazylaps.img", 32 * MiB, 64);
	put_range(f.m, 210, 150, have);
	put_range(f.m, 209, 1800, have);
	ck_assert_int_eq(meta_commit(f.m), 0);
	for (uint64_t round = 0; round < 60; round++) {
		struct meta_stats st;
		uint64_t commits = 1 + round % 5, durable = have;
		bool at_flush = round % 3 == 2, big = round % 4 == 1;

		vcache_attach(&f, &vc, round * 7919 + 1);
		for (uint64_t c = 0; c < commits; c++, gen++) {
			bool cut = at_flush && c + 1 == commits;

			put_range(f.m, 210, 150, gen);
			if (c % 2)
				put_range(f.m, 211 + c, 20 + round, gen);
			if (big)
				update_every(f.m, 209, 1800, 100, gen);
			big_gen[gen] = big ? gen : big_gen[gen - 1];
			vc.crash_at_flush = cut;
			if (cut) {
				capture_begin();
				ck_assert_int_eq(meta_commit(f.m), -EIO);
				capture_end();
			} else {
				ck_assert_int_eq(meta_commit(f.m), 0);
				durable = gen;
			}
		}
		meta_get_stats(f.m, &st);
		laps += st.journal_blocks_written;
		vcache_power_cut(&f, &vc);
		if (range_is(f.m, 210, 150, durable))
			have = durable;
		else if (at_flush && range_is(f.m, 210, 150, gen - 1))
			have = gen - 1;
		else
			ck_abort_msg("round %llu: generation %llu lost",
				     (unsigned long long)round, (unsigned long long)durable);
		ck_assert(every_is(f.m, 209, 1800, big_gen[have]));
		big_gen[gen - 1] = big_gen[have];	/* the next round goes on from here */
		ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	}
	ck_assert_uint_gt(laps, 63 * 10);
	fx_remount(&f);
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	fx_teardown(&f);
}
END_TEST

/* Journal blocks the last commit wrote. */
static uint64_t commit_jblocks(struct fx *f)
{
	struct meta_stats st0, st;

	meta_get_stats(f->m, &st0);
	ck_assert_int_eq(meta_commit(f->m), 0);
	meta_get_stats(f->m, &st);
	return st.journal_blocks_written - st0.journal_blocks_written;
}

/*
 * Regression test for invariant 1 of journal.c: with two transactions of
 * 20-odd blocks behind the lagging tail of a 63-block journal, a third
 * does not fit.  Reusing the oldest one's space would let a power cut
 * keep the new journal blocks and lose the jsb and the unflushed home
 * writes: replay from the old tail would then find garbage and lose the
 * second transaction.  The commit must checkpoint everything first.
 */
START_TEST(space_behind_the_lagging_tail_is_never_reused)
{
	struct fx f = { 0 };
	struct vcache vc;
	uint64_t len;

	fx_setup(&f, "tailspace.img", 32 * MiB, 64);
	put_range(f.m, 250, 2400, 0);
	ck_assert_int_eq(meta_commit(f.m), 0);
	vcache_attach(&f, &vc, 3);	/* before the home writes of gen 2 */
	for (uint64_t gen = 1; gen <= 2; gen++) {
		update_every(f.m, 250, 2400, 100, gen);
		len = commit_jblocks(&f);
		ck_assert_uint_gt(3 * len, 63);
		ck_assert_uint_le(2 * len, 63);
	}
	vc.lose_all = true;
	vc.keep_log = true;
	vc.crash_at_flush = 1;
	update_every(f.m, 250, 2400, 100, 3);
	capture_begin();
	ck_assert_int_eq(meta_commit(f.m), -EIO);
	capture_end();
	vcache_power_cut(&f, &vc);
	ck_assert(every_is(f.m, 250, 2400, 2));
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	fx_teardown(&f);
}
END_TEST

START_TEST(unmount_leaves_a_clean_tail)
{
	struct fx f = { 0 };
	struct iomapfs_super sb;
	struct iomapfs_jsb jsb;
	struct meta_stats st;

	fx_setup(&f, "cleantail.img", 32 * MiB, 64);
	for (uint64_t gen = 0; gen < 40; gen++) {
		put_range(f.m, 220, 100, gen % 10);
		ck_assert_int_eq(meta_commit(f.m), 0);
	}
	put_range(f.m, 221, 100, 1);	/* left for unmount to commit */
	fx_unmount(&f);
	fx_close(&f);
	jsb = jsb_read(&f);
	fx_pio(&f, false, &sb, sizeof(sb), 0);
	/* The tail is at the head, and names the next transaction. */
	ck_assert_uint_eq(jsb.tail_block, journal_head(&f));
	ck_assert_uint_eq(jsb.tail_seq, sb.journal_seq);
	ck_assert_uint_eq(sb.state, IOMAPFS_STATE_CLEAN);
	fx_open(&f);
	fx_mount(&f);
	meta_get_stats(f.m, &st);
	ck_assert_uint_eq(st.replayed_txns, 0);
	ck_assert(range_is(f.m, 220, 100, 39 % 10));
	ck_assert(range_is(f.m, 221, 100, 1));
	fx_teardown(&f);
}
END_TEST

START_TEST(freed_tree_blocks_are_allocatable_after_meta_commit)
{
	struct fx f = { 0 };
	struct iomapfs_key lo = meta_key(230, IOMAPFS_ITEM_EXTENT, 0);
	struct iomapfs_key hi = meta_key(230, IOMAPFS_ITEM_EXTENT, ~0ull);
	struct meta_space sp0, sp;

	fx_setup(&f, "frees.img", 32 * MiB, 0);
	ck_assert_int_eq(meta_commit(f.m), 0);
	meta_get_space(f.m, &sp0);
	put_range(f.m, 230, 3000, 1);
	ck_assert_int_eq(meta_commit(f.m), 0);
	meta_get_space(f.m, &sp);
	ck_assert_uint_lt(sp.free_blocks, sp0.free_blocks - 10);
	meta_begin(f.m);
	ck_assert_int_eq(btree_delete_range(f.m, &lo, &hi), 3000);
	meta_end(f.m);
	/* The freed leaves were journaled by transactions that replay may
	 * still re-apply: an ENOSPC retry's commit must free them anyway. */
	ck_assert_int_eq(meta_commit(f.m), 0);
	meta_get_space(f.m, &sp);
	ck_assert_uint_ge(sp.free_blocks + 2, sp0.free_blocks);
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	fx_remount(&f);
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	fx_teardown(&f);
}
END_TEST

START_TEST(fsck_repair_mount_salvages_a_corrupt_journal_superblock)
{
	struct fx f = { 0 };
	struct meta_mount_opts fsck_y = { .salvage_journal = true };
	struct meta_stats st;
	const char *msg;
	uint8_t b;
	int err;

	fx_setup(&f, "salvage.img", 32 * MiB, 64);
	for (uint64_t gen = 0; gen < 30; gen++) {
		put_range(f.m, 240, 100, gen % 10);
		ck_assert_int_eq(meta_commit(f.m), 0);
	}
	fx_unmount(&f);
	fx_close(&f);
	fx_pio(&f, false, &b, 1, 2 * BLK + 700);
	b ^= 0x04;
	fx_pio(&f, true, &b, 1, 2 * BLK + 700);
	fx_open(&f);
	/* A read-write mount that replays (fsck -y) still mounts. */
	capture_begin();
	err = fx_mount_opts(&f, &fsck_y);
	msg = capture_end();
	ck_assert_int_eq(err, 0);
	ck_assert_ptr_nonnull(strstr(msg, "journal ignored"));
	ck_assert(meta_journal_was_salvaged(f.m));	/* fsck counts it repaired */
	ck_assert(range_is(f.m, 240, 100, 29 % 10));
	/* The new log starts after every stale transaction: commits, a crash
	 * and a plain mount replay only the new ones. */
	put_range(f.m, 241, 100, 1);
	crash_and_remount(&f, false, &st);
	ck_assert(!meta_journal_was_salvaged(f.m));
	ck_assert_uint_ge(st.replayed_txns, 1);
	ck_assert(range_is(f.m, 240, 100, 29 % 10));
	ck_assert(range_is(f.m, 241, 100, 1));
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	fx_teardown(&f);
}
END_TEST

static bool log_thread_exists(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	bool found = false;

	while (d && (e = readdir(d)) && !found) {
		char p[300], comm[32] = "";
		FILE *fp;

		snprintf(p, sizeof(p), "/proc/self/task/%s/comm", e->d_name);
		fp = fopen(p, "r");
		if (fp) {
			found = fgets(comm, sizeof(comm), fp) && !strncmp(comm, "iomapfs-log", 11);
			fclose(fp);
		}
	}
	if (d)
		closedir(d);
	return found;
}

START_TEST(log_thread_commits_without_being_asked)
{
	struct fx f = { 0 };
	struct meta_mount_opts mo = { .commit_interval_ms = 20 };
	uint64_t run;

	fx_image(&f, "log.img", 32 * MiB);
	fx_open(&f);
	ck_assert_int_eq(meta_mkfs(f.dev, &(struct mkfs_opts){ 0 }), 0);
	ck_assert_int_eq(fx_mount_opts(&f, &mo), 0);
	ck_assert(log_thread_exists());
	put_range(f.m, 130, 10, 1);
	run = meta_running_seq(f.m);
	/* Poll with a generous bound: this proves that it happens, not how fast. */
	for (int i = 0; i < 3000 && meta_durable_seq(f.m) < run; i++)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	ck_assert_uint_ge(meta_durable_seq(f.m), run);
	fx_unmount(&f);
	ck_assert(!log_thread_exists());
	fx_teardown(&f);
}
END_TEST

START_TEST(large_transaction_commits_at_meta_end)
{
	struct fx f = { 0 };
	uint8_t v[IOMAPFS_ITEM_MAX];
	uint64_t run;

	fx_setup(&f, "large.img", 32 * MiB, 128);
	run = meta_running_seq(f.m);
	memset(v, 3, sizeof(v));
	meta_begin(f.m);
	/* 2 or 3 such items per leaf: 67..100 leaves, more than half of the
	 * 127 usable journal blocks and less than all of them. */
	for (uint64_t i = 0; i < 200; i++) {
		struct iomapfs_key k = meta_key(140, IOMAPFS_ITEM_XATTR, i);

		ck_assert_int_eq(btree_insert(f.m, &k, v, sizeof(v)), 0);
	}
	ck_assert_uint_eq(meta_durable_seq(f.m), run - 1);	/* a section never commits */
	meta_end(f.m);
	ck_assert_uint_eq(meta_durable_seq(f.m), run);
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	fx_teardown(&f);
}
END_TEST

struct worker {
	struct meta	*m;
	uint64_t	obj;
	pthread_t	tid;
};

/* Sections from several threads, each on its own objectid, with lookups. */
static void *section_worker(void *arg)
{
	struct worker *w = arg;

	for (uint64_t base = 0; base < 2000; base += 50) {
		meta_begin(w->m);
		for (uint64_t i = base; i < base + 50; i++)
			put_u64(w->m, w->obj, i, w->obj * 1000000 + i * 10 + 1);
		meta_end(w->m);
		ck_assert_uint_eq(get_u64(w->m, w->obj, base), w->obj * 1000000 + base * 10 + 1);
		if (base % 500 == 0)
			ck_assert_int_eq(meta_commit(w->m), 0);
	}
	return NULL;
}

START_TEST(concurrent_sections_commits_and_log_thread_keep_the_tree_valid)
{
	struct fx f = { 0 };
	struct meta_mount_opts mo = { .commit_interval_ms = 1 };
	struct worker w[4];
	struct meta_space sp;

	fx_image(&f, "mt.img", 64 * MiB);
	fx_open(&f);
	ck_assert_int_eq(meta_mkfs(f.dev, &(struct mkfs_opts){ 0 }), 0);
	ck_assert_int_eq(fx_mount_opts(&f, &mo), 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .m = f.m, .obj = 200 + i };
		ck_assert_int_eq(pthread_create(&w[i].tid, NULL, section_worker, &w[i]), 0);
	}
	/* statfs and delayed allocation run without a section meanwhile. */
	for (int i = 0; i < 2000; i++) {
		ck_assert_int_eq(alloc_reserve(f.m, 3), 0);
		meta_get_space(f.m, &sp);
		ck_assert_uint_ge(sp.reserved_blocks, 3);
		alloc_unreserve(f.m, 3);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(w[i].tid, NULL);
	for (int i = 0; i < 4; i++)
		ck_assert(range_is(f.m, 200 + i, 2000, 1));
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	fx_unmount(&f);
	fx_close(&f);
	fx_open(&f);
	fx_mount(&f);
	for (int i = 0; i < 4; i++)
		ck_assert(range_is(f.m, 200 + i, 2000, 1));
	fx_teardown(&f);
}
END_TEST

/* ---- commits outside the metadata lock ---- */

/*
 * A device whose next flush, once armed, is held in its submitter (the
 * committing thread) until the test releases it: a commit stalled between
 * its journal write and its durability.
 */
struct stall {
	pthread_mutex_t	lock;
	pthread_cond_t	cond;
	bool		armed, held, released;
	atomic_uint	order;		/* ticket: who finished first */
	unsigned	released_at;	/* ticket taken when the flush went on */
};

static void stall_submit(struct blk_dev *dev, struct bio *bio)
{
	struct stall *st = blk_dev_ops_private(dev);

	if (bio->bi_op == REQ_OP_FLUSH) {
		pthread_mutex_lock(&st->lock);
		if (st->armed) {
			st->armed = false;
			st->held = true;
			pthread_cond_broadcast(&st->cond);
			while (!st->released)
				pthread_cond_wait(&st->cond, &st->lock);
		}
		pthread_mutex_unlock(&st->lock);
	}
	blk_dev_default_submit(dev, bio);
}

static const struct blk_dev_ops stall_ops = { .submit = stall_submit };

static void stall_init(struct fx *f, struct stall *st)
{
	*st = (struct stall){ .armed = false };
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->cond, NULL);
	blk_dev_set_ops(f->dev, &stall_ops, st);
}

static void stall_arm(struct stall *st)
{
	pthread_mutex_lock(&st->lock);
	st->armed = true;
	st->held = st->released = false;
	pthread_mutex_unlock(&st->lock);
}

static void stall_wait_held(struct stall *st)
{
	pthread_mutex_lock(&st->lock);
	while (!st->held)
		pthread_cond_wait(&st->cond, &st->lock);
	pthread_mutex_unlock(&st->lock);
}

static void stall_release(struct stall *st)
{
	pthread_mutex_lock(&st->lock);
	st->released_at = atomic_fetch_add(&st->order, 1);
	st->released = true;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
}

static void stall_fini(struct fx *f, struct stall *st)
{
	blk_dev_set_ops(f->dev, NULL, NULL);
	pthread_cond_destroy(&st->cond);
	pthread_mutex_destroy(&st->lock);
}

struct committer {
	struct meta	*m;
	uint64_t	seq;	/* 0: meta_commit(), else meta_commit_seq(seq) */
	int		err;
	uint64_t	durable_after;
	pthread_t	tid;
};

static void *committer_thread(void *arg)
{
	struct committer *c = arg;

	c->err = c->seq ? meta_commit_seq(c->m, c->seq) : meta_commit(c->m);
	c->durable_after = meta_durable_seq(c->m);
	return NULL;
}

/* The handles a test runs while a commit is stalled. */
struct handle_thread {
	struct meta	*m;
	struct stall	*st;
	uint64_t	obj;
	uint64_t	read_back;	/* a value read in a read section */
	uint64_t	seq;		/* the transaction its section joined */
	unsigned	done_at;	/* ticket taken when it finished */
	pthread_t	tid;
};

static void *handle_thread(void *arg)
{
	struct handle_thread *h = arg;
	struct iomapfs_key k = meta_key(h->obj, IOMAPFS_ITEM_EXTENT, 0);
	uint32_t len = sizeof(h->read_back);

	meta_begin(h->m);
	put_u64(h->m, h->obj + 1, 0, 4242);
	h->seq = meta_running_seq(h->m);
	meta_end(h->m);
	meta_begin_read(h->m);
	ck_assert_int_eq(btree_lookup(h->m, &k, &h->read_back, &len), 0);
	meta_end_read(h->m);
	h->done_at = atomic_fetch_add(&h->st->order, 1);
	return NULL;
}

/* Join @tid, or fail the test if it is still blocked after a minute (a
 * deadlock guard, not a timing assertion: the thread needs microseconds). */
static bool join_or_stuck(pthread_t tid)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 60;
	return pthread_timedjoin_np(tid, NULL, &ts) == 0;
}

/*
 * Regression: a commit used to hold the metadata lock across its journal
 * write and device flush, so every section and lookup waited for the
 * device.  Now a section and a read section started while the commit's
 * flush is held complete before the flush is released, and join the next
 * transaction.
 */
START_TEST(commit_in_flight_does_not_block_new_sections)
{
	struct fx f = { 0 };
	struct committer c = { 0 };
	struct handle_thread h = { 0 };
	struct stall st;
	uint64_t seq;
	bool joined;

	fx_setup(&f, "inflight.img", 32 * MiB, 0);
	stall_init(&f, &st);
	put_range(f.m, 300, 1, 1);
	seq = meta_running_seq(f.m);
	stall_arm(&st);
	c.m = f.m;
	ck_assert_int_eq(pthread_create(&c.tid, NULL, committer_thread, &c), 0);
	stall_wait_held(&st);
	ck_assert_uint_lt(meta_durable_seq(f.m), seq);	/* the commit is in flight */
	h = (struct handle_thread){ .m = f.m, .st = &st, .obj = 300 };
	ck_assert_int_eq(pthread_create(&h.tid, NULL, handle_thread, &h), 0);
	joined = join_or_stuck(h.tid);
	stall_release(&st);
	if (!joined)
		pthread_join(h.tid, NULL);
	pthread_join(c.tid, NULL);
	ck_assert_msg(joined, "a section waited for the commit's flush");
	ck_assert_uint_lt(h.done_at, st.released_at);
	ck_assert_uint_eq(h.read_back, 300 * 1000000 + 1);
	ck_assert_uint_eq(h.seq, seq + 1);		/* the next transaction */
	ck_assert_int_eq(c.err, 0);
	ck_assert_uint_eq(c.durable_after, seq);
	ck_assert_uint_eq(meta_durable_seq(f.m), seq);	/* seq + 1 not committed */
	ck_assert_int_eq(meta_commit(f.m), 0);
	stall_fini(&f, &st);
	/* Both transactions survive a crash. */
	put_range(f.m, 310, 1, 1);
	struct meta_stats ms;
	crash_and_remount(&f, false, &ms);
	ck_assert(range_is(f.m, 300, 1, 1));
	ck_assert_uint_eq(get_u64(f.m, 301, 0), 4242);
	ck_assert(range_is(f.m, 310, 1, 1));
	fx_teardown(&f);
}
END_TEST

/*
 * fsync's meta_commit_seq(): it waits for the commit already writing its
 * transaction instead of committing the next one, and with its
 * transaction durable it commits nothing (but still flushes, for data).
 */
START_TEST(fsync_waits_for_its_transaction_not_the_next)
{
	struct fx f = { 0 };
	struct committer c = { 0 }, fs = { 0 };
	struct meta_stats st0, st1;
	struct stall st;
	uint64_t seq, flushes;

	fx_setup(&f, "fsyncseq.img", 32 * MiB, 0);
	stall_init(&f, &st);
	put_range(f.m, 320, 4, 1);
	seq = meta_running_seq(f.m);
	meta_get_stats(f.m, &st0);
	stall_arm(&st);
	c.m = f.m;
	ck_assert_int_eq(pthread_create(&c.tid, NULL, committer_thread, &c), 0);
	stall_wait_held(&st);
	put_range(f.m, 330, 4, 1);		/* transaction seq + 1 */
	ck_assert_uint_eq(meta_running_seq(f.m), seq + 1);
	fs = (struct committer){ .m = f.m, .seq = seq };
	ck_assert_int_eq(pthread_create(&fs.tid, NULL, committer_thread, &fs), 0);
	stall_release(&st);
	pthread_join(c.tid, NULL);
	pthread_join(fs.tid, NULL);
	ck_assert_int_eq(c.err, 0);
	ck_assert_int_eq(fs.err, 0);
	ck_assert_uint_ge(fs.durable_after, seq);	/* it returned once seq was durable */
	meta_get_stats(f.m, &st1);
	ck_assert_uint_eq(st1.commits, st0.commits + 1);	/* and committed nothing itself */
	ck_assert_uint_eq(meta_durable_seq(f.m), seq);
	ck_assert_uint_eq(meta_running_seq(f.m), seq + 1);
	/* Durable already: no commit, one flush. */
	flushes = dev_flushes(&f);
	ck_assert_int_eq(meta_commit_seq(f.m, seq), 0);
	meta_get_stats(f.m, &st1);
	ck_assert_uint_eq(st1.commits, st0.commits + 1);
	ck_assert_uint_eq(dev_flushes(&f), flushes + 1);
	/* Still running: committed. */
	ck_assert_int_eq(meta_commit_seq(f.m, seq + 1), 0);
	meta_get_stats(f.m, &st1);
	ck_assert_uint_eq(st1.commits, st0.commits + 2);
	ck_assert_uint_eq(meta_durable_seq(f.m), seq + 1);
	stall_fini(&f, &st);
	fx_teardown(&f);
}
END_TEST

struct reader {
	struct meta	*m;
	uint64_t	value;
	int		err;
	pthread_t	tid;
};

static void *reader_thread(void *arg)
{
	struct reader *r = arg;
	struct iomapfs_key k = meta_key(340, IOMAPFS_ITEM_EXTENT, 0);
	uint32_t len = sizeof(r->value);

	meta_begin_read(r->m);
	r->err = btree_lookup(r->m, &k, &r->value, &len);
	meta_end_read(r->m);
	return NULL;
}

/* Read sections share the metadata lock: a lookup completes while another
 * thread holds a read section open. */
START_TEST(read_sections_share_the_lock)
{
	struct fx f = { 0 };
	struct reader r = { 0 };
	bool joined;

	fx_setup(&f, "readers.img", 32 * MiB, 0);
	put_range(f.m, 340, 1, 1);
	meta_begin_read(f.m);
	r.m = f.m;
	ck_assert_int_eq(pthread_create(&r.tid, NULL, reader_thread, &r), 0);
	joined = join_or_stuck(r.tid);
	meta_end_read(f.m);
	if (!joined)
		pthread_join(r.tid, NULL);
	ck_assert_msg(joined, "a read section waited for another read section");
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.value, 340 * 1000000 + 1);
	fx_teardown(&f);
}
END_TEST

struct rw_worker {
	struct meta	*m;
	uint64_t	obj;
	struct rwsem	*objlock;	/* the object's lock, as fs_inode.sect_lock */
	bool		writer;
	unsigned	checked;	/* reader: values verified */
	pthread_t	tid;
};

/*
 * Writers rewrite their object's range generation by generation (one
 * section per generation, with splits and commits as the tree grows), as
 * a handle holding the object's lock; readers walk a writer's range in
 * read sections holding that lock shared and require every value to
 * belong to one generation: with the object's lock, a section is atomic
 * to readers too, while the two objects' writers run concurrently.
 */
static void *rw_worker(void *arg)
{
	struct rw_worker *w = arg;

	for (uint64_t gen = 1; gen <= 60; gen++) {
		if (w->writer) {
			meta_begin(w->m);
			down_write(w->objlock);
			for (uint64_t i = 0; i < 64; i++)
				put_u64(w->m, w->obj, i, w->obj * 1000000 + i * 10 + gen % 10);
			up_write(w->objlock);
			meta_end(w->m);
			if (gen % 15 == 0)
				ck_assert_int_eq(meta_commit(w->m), 0);
			continue;
		}
		struct iomapfs_key k = meta_key(w->obj, IOMAPFS_ITEM_EXTENT, 0);
		struct iomapfs_key max = meta_key(w->obj, IOMAPFS_ITEM_EXTENT, UINT64_MAX);
		uint64_t v, first = ~0ull;
		uint32_t len = sizeof(v);
		int err;

		down_read(w->objlock);
		meta_begin_read(w->m);
		while (!(err = btree_next(w->m, &k, &max, &v, &len))) {
			uint64_t g = v % 10;

			ck_assert_uint_eq(v - g, w->obj * 1000000 + k.offset * 10);
			if (first == ~0ull)
				first = g;
			ck_assert_uint_eq(g, first);
			w->checked++;
			meta_key_next(&k);
		}
		meta_end_read(w->m);
		up_read(w->objlock);
		ck_assert_int_eq(err, -ENOENT);
	}
	return NULL;
}

START_TEST(readers_see_whole_sections_while_writers_and_commits_run)
{
	struct fx f = { 0 };
	struct meta_mount_opts mo = { .commit_interval_ms = 1 };
	struct rw_worker w[4];
	struct rwsem objlock[2];

	fx_image(&f, "rw.img", 64 * MiB);
	fx_open(&f);
	ck_assert_int_eq(meta_mkfs(f.dev, &(struct mkfs_opts){ 0 }), 0);
	ck_assert_int_eq(fx_mount_opts(&f, &mo), 0);
	put_range(f.m, 350, 64, 0);
	put_range(f.m, 351, 64, 0);
	rwsem_init(&objlock[0]);
	rwsem_init(&objlock[1]);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct rw_worker){ .m = f.m, .obj = 350 + i % 2,
					   .objlock = &objlock[i % 2], .writer = i < 2 };
		ck_assert_int_eq(pthread_create(&w[i].tid, NULL, rw_worker, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(w[i].tid, NULL);
	ck_assert_uint_eq(w[2].checked, 60 * 64);
	ck_assert_uint_eq(w[3].checked, 60 * 64);
	ck_assert(range_is(f.m, 350, 64, 0));
	ck_assert(range_is(f.m, 351, 64, 0));
	ck_assert_int_eq(fx_check_all(f.m, NULL, 0), 0);
	rwsem_destroy(&objlock[0]);
	rwsem_destroy(&objlock[1]);
	fx_teardown(&f);
}
END_TEST

/* ---- concurrent handles ---- */

/* A thread that opens a handle, changes @obj, and keeps the handle open
 * until released. */
struct open_handle {
	struct meta	*m;
	uint64_t	obj;
	pthread_mutex_t	lock;
	pthread_cond_t	cond;
	bool		opened, release;
	pthread_t	tid;
};

static void *open_handle_thread(void *arg)
{
	struct open_handle *h = arg;

	meta_begin(h->m);
	put_u64(h->m, h->obj, 0, h->obj * 1000000 + 7);
	pthread_mutex_lock(&h->lock);
	h->opened = true;
	pthread_cond_broadcast(&h->cond);
	while (!h->release)
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
	meta_end(h->m);
	return NULL;
}

static void open_handle_start(struct open_handle *h, struct meta *m, uint64_t obj)
{
	*h = (struct open_handle){ .m = m, .obj = obj };
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	ck_assert_int_eq(pthread_create(&h->tid, NULL, open_handle_thread, h), 0);
	pthread_mutex_lock(&h->lock);
	while (!h->opened)
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
}

static void open_handle_release(struct open_handle *h)
{
	pthread_mutex_lock(&h->lock);
	h->release = true;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->tid, NULL);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
}

struct one_section {
	struct meta	*m;
	uint64_t	obj;
	pthread_t	tid;
};

static void *one_section_thread(void *arg)
{
	struct one_section *o = arg;

	put_range(o->m, o->obj, 8, 3);
	return NULL;
}

static void *commit_thread(void *arg)
{
	struct one_section *o = arg;

	ck_assert_int_eq(meta_commit(o->m), 0);
	return NULL;
}

/*
 * Issue 11: a write section used to hold the metadata lock exclusively,
 * so a second section waited for the first to end.  Now sections are
 * handles on the running transaction: while one thread keeps a handle
 * open, another begins, changes another object and ends; a lookup runs
 * too.  Both land in the same transaction, and the counters say two
 * handles ran at once.
 */
START_TEST(a_second_handle_runs_while_the_first_is_open)
{
	struct fx f = { 0 };
	struct open_handle h;
	struct one_section o;
	struct reader r = { 0 };
	struct meta_stats st;
	uint64_t seq;
	bool joined;

	fx_setup(&f, "handles.img", 32 * MiB, 0);
	put_range(f.m, 340, 1, 1);
	seq = meta_running_seq(f.m);
	open_handle_start(&h, f.m, 360);
	o = (struct one_section){ .m = f.m, .obj = 361 };
	ck_assert_int_eq(pthread_create(&o.tid, NULL, one_section_thread, &o), 0);
	joined = join_or_stuck(o.tid);
	r.m = f.m;
	ck_assert_int_eq(pthread_create(&r.tid, NULL, reader_thread, &r), 0);
	joined = join_or_stuck(r.tid) && joined;
	ck_assert_uint_eq(meta_running_seq(f.m), seq);	/* nothing closed it */
	open_handle_release(&h);
	ck_assert_msg(joined, "a section or a lookup waited for another open section");
	ck_assert_int_eq(r.err, 0);
	meta_get_stats(f.m, &st);
	ck_assert_uint_ge(st.handles_max, 2);
	ck_assert_int_eq(meta_commit(f.m), 0);
	ck_assert_uint_eq(meta_durable_seq(f.m), seq);	/* one transaction */
	ck_assert(range_is(f.m, 361, 8, 3));
	ck_assert_uint_eq(get_u64(f.m, 360, 0), 360 * 1000000 + 7);
	fx_teardown(&f);
}
END_TEST

/*
 * The other half of jbd2's rule: a commit closes the transaction only
 * once every handle in it has ended, so a handle is never split between
 * two transactions (a crash would show half of it).  The commit waits
 * for the open handle and then takes its change with it.
 */
START_TEST(a_commit_waits_for_open_handles_and_takes_them_whole)
{
	struct fx f = { 0 };
	struct open_handle h;
	struct one_section c;
	struct meta_stats st;
	uint64_t seq;

	fx_setup(&f, "handles2.img", 32 * MiB, 0);
	seq = meta_running_seq(f.m);
	open_handle_start(&h, f.m, 362);
	c = (struct one_section){ .m = f.m };
	ck_assert_int_eq(pthread_create(&c.tid, NULL, commit_thread, &c), 0);
	/* The commit cannot close the transaction while the handle is open. */
	usleep(100 * 1000);
	ck_assert_uint_lt(meta_durable_seq(f.m), seq);
	ck_assert_uint_eq(meta_running_seq(f.m), seq);
	open_handle_release(&h);
	pthread_join(c.tid, NULL);
	ck_assert_uint_ge(meta_durable_seq(f.m), seq);
	crash_and_remount(&f, false, &st);
	ck_assert_uint_eq(get_u64(f.m, 362, 0), 362 * 1000000 + 7);
	fx_teardown(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("meta_journal");
	TCase *tc = tcase_create("journal");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, committed_txn_is_replayed_after_crash);
	tcase_add_test(tc, torn_txn_without_commit_block_is_not_replayed);
	tcase_add_test(tc, journal_wraps_around_and_replays_across_the_wrap);
	tcase_add_test(tc, many_commits_write_the_journal_several_times_over);
	tcase_add_test(tc, replay_of_a_transaction_with_several_descriptors);
	tcase_add_test(tc, txn_with_a_corrupted_image_is_not_replayed);
	tcase_add_test(tc, corrupt_journal_superblock_fails_mount_but_fsck_can_salvage);
	tcase_add_test(tc, read_only_mount_sees_a_dirty_journal_without_writing);
	tcase_add_test(tc, shutdown_drops_the_running_transaction);
	tcase_add_test(tc, sequence_numbers_tell_fsync_when_to_commit);
	tcase_add_test(tc, commit_with_nothing_pending_still_flushes_the_device);
	tcase_add_test(tc, write_error_in_commit_shuts_down_and_marks_error);
	tcase_add_test(tc, log_thread_commits_without_being_asked);
	tcase_add_test(tc, large_transaction_commits_at_meta_end);
	tcase_add_test(tc, concurrent_sections_commits_and_log_thread_keep_the_tree_valid);
	tcase_add_test(tc, commit_in_flight_does_not_block_new_sections);
	tcase_add_test(tc, fsync_waits_for_its_transaction_not_the_next);
	tcase_add_test(tc, read_sections_share_the_lock);
	tcase_add_test(tc, readers_see_whole_sections_while_writers_and_commits_run);
	tcase_add_test(tc, a_second_handle_runs_while_the_first_is_open);
	tcase_add_test(tc, a_commit_waits_for_open_handles_and_takes_them_whole);
	tcase_add_test(tc, commit_costs_exactly_one_flush);
	tcase_add_test(tc, crash_with_unflushed_home_writes_replays_the_last_commit);
	tcase_add_test(tc, journal_laps_with_lazy_tails_and_random_power_cuts);
	tcase_add_test(tc, space_behind_the_lagging_tail_is_never_reused);
	tcase_add_test(tc, unmount_leaves_a_clean_tail);
	tcase_add_test(tc, freed_tree_blocks_are_allocatable_after_meta_commit);
	tcase_add_test(tc, fsck_repair_mount_salvages_a_corrupt_journal_superblock);
	suite_add_tcase(s, tc);
	return fx_run(s);
}
