// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The metadata journal: physical block journaling in the style of jbd2.
 *
 * The running transaction is every buffer dirtied in sections since the
 * last commit (meta->txn_list) plus the superblock.  A commit costs one
 * device flush, as jbd2 with async_commit (plus the pre-flush below when
 * it exposes data):
 *
 *   running --descriptors, images, commit block [, jsb]: one batch of bios
 *           --blkdev_issue_flush--> durable           (durable_seq = seq)
 *           --home writes submitted, not waited for: checkpoint()
 *           --they completed: checkpoint_wait()--> home (j_home_seq = seq)
 *           --any later completed flush--> checkpointed (j_ckpt_seq)
 *           --a flushed jsb tail past it--> released   (off m->j_txns)
 *
 * So meta_commit() returns after one flush without waiting for its home
 * writes; the next commit waits for them before it flushes.  A transaction
 * that exposes data written outside the journal (meta_txn_orders_data:
 * unwritten extents converted, an on-disk size grown) flushes once more
 * before its batch, as jbd2 pre-flushes its commit block: with a volatile
 * write cache the commit could otherwise persist without that data.
 *
 * The commit block carries a crc32c over every descriptor and image, so
 * the whole transaction goes out in one batch with no flush inside it: a
 * torn write shows up as a checksum mismatch at replay.
 *
 * The tail is lazy.  The journal superblock (jsb) written in a commit's
 * batch may claim a transaction checkpointed only once its home writes
 * were followed by a completed flush.  Commit N's home writes are covered
 * by commit N+1's flush, so the jsb written with commit N+2 is the first
 * whose tail passes N: the durable tail lags a transaction or two, and
 * replay after a crash re-applies transactions whose home blocks may be
 * written already.  That is harmless: whole-block images applied in log
 * order, the last image of each block winning.
 *
 * Invariants:
 *  1. The log from the durable tail (j_tail_pos: the jsb of the last
 *     completed flush) to j_head is never overwritten.  The jsb in flight
 *     does not count: the device may persist the new journal blocks and
 *     not it.  A commit that does not fit first checkpoints everything
 *     (flush, jsb tail = head, flush): journal_checkpoint_all().
 *  2. So replay from the durable tail meets every transaction up to the
 *     last durable one intact, and never stops at a gap with newer home
 *     blocks behind it.
 *  3. A block freed by transaction N stays busy until N is durable and no
 *     transaction that replay could re-apply (m->j_txns) holds an image of
 *     it: these are jbd2's revoke records, kept in memory.  meta_commit()
 *     checkpoints everything when frees are still held after its commit,
 *     so that an ENOSPC retry (commit, then allocate again) finds them.
 *
 * Unmount checkpoints everything: the journal is left empty, its tail at
 * the head.
 *
 * Replay at mount, and the salvage of a corrupt journal superblock:
 * journal_replay.c.
 *
 * After an I/O error during a commit the filesystem shuts down: every later
 * call fails with -EIO, and the superblock is marked ERROR if it can be.
 *
 * Threads: sections and meta_commit run in FUSE request threads, the
 * flusher and workers; the periodic commit runs in "iomapfs-log".
 */
#include "journal_internal.h"

#include <iomapfs/futex.h>

#include <time.h>

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- the metadata lock ---- */

/* The filesystem whose metadata lock this thread holds (a thread holds at
 * most one: sections never nest). */
static _Thread_local struct meta *meta_locked_by_me;

void meta_lock(struct meta *m)
{
	might_sleep();
	pthread_mutex_lock(&m->lock);
	meta_locked_by_me = m;
}

void meta_unlock(struct meta *m)
{
	meta_locked_by_me = NULL;
	pthread_mutex_unlock(&m->lock);
}

/* Does the calling thread hold the metadata lock? */
bool meta_lock_held(struct meta *m)
{
	return meta_locked_by_me == m;
}

void meta_begin(struct meta *m)
{
	meta_lock(m);
	m->sect_start_nr = m->txn_nr;
	atomic_fetch_add_explicit(&m->st_sections, 1, memory_order_relaxed);
}

/*
 * meta_end() leaves at most j_cap / 2 - 2 blocks in the running
 * transaction, so a section of up to j_cap / 2 - 2 more blocks still fits
 * in an emptied journal with its descriptors, superblock and commit block.
 */
static size_t section_budget(struct meta *m)
{
	return m->j_cap / 2 > 4 ? m->j_cap / 2 - 2 : 2;
}

bool meta_section_full(struct meta *m)
{
	size_t used = m->txn_nr > m->sect_start_nr ? m->txn_nr - m->sect_start_nr : 0;

	return used + META_SECTION_STEP_MAX > section_budget(m);
}

void meta_txn_orders_data(struct meta *m)
{
	m->txn_preflush = true;
}

static int __meta_commit(struct meta *m, unsigned flags);

void meta_end(struct meta *m)
{
	if (m->crash_countdown && --m->crash_countdown == 0) {
		__meta_commit(m, 0);	/* the crash test hook: commit, then die */
		atomic_store(&m->shutdown, true);
	} else if ((m->txn_nr + 2 > m->j_cap / 2 ||
		    (m->commit_each_section && m->txn_nr)) &&
		   !atomic_load(&m->shutdown)) {
		/* A large transaction commits now, before it outgrows the
		 * journal; the commit=each_section debug mode commits every
		 * section. */
		meta_commit_locked(m);
	}
	meta_unlock(m);
}

void meta_crash_after_sections(struct meta *m, unsigned n)
{
	meta_lock(m);
	m->crash_countdown = n;
	meta_unlock(m);
}

uint64_t meta_running_seq(struct meta *m)
{
	return atomic_load(&m->running_seq);
}

uint64_t meta_durable_seq(struct meta *m)
{
	return atomic_load(&m->durable_seq);
}

void meta_shutdown(struct meta *m)
{
	/* NOLOGFLUSH: no lock, no I/O.  Every write path checks the flag, so
	 * the running transaction is never written; unmount frees it. */
	atomic_store(&m->shutdown, true);
}

bool meta_is_shutdown(struct meta *m)
{
	return atomic_load(&m->shutdown);
}

void meta_fill_blkhdr(struct meta *m, void *block, uint64_t blkno, uint32_t magic,
		      uint64_t owner)
{
	struct iomapfs_blkhdr *h = block;

	memset(h, 0, sizeof(*h));
	h->magic = magic;
	h->blkno = blkno;
	memcpy(h->uuid, m->sb.uuid, sizeof(h->uuid));
	h->owner = owner;
}

/* ---- writing blocks home ---- */

static int home_cmp(const void *a, const void *b)
{
	const struct home_blk *x = a, *y = b;

	return x->blkno < y->blkno ? -1 : x->blkno > y->blkno;
}

/* Start writing @n blocks to their home locations (sorted, merged into
 * bios) on @io; the caller waits.  Task context. */
static void submit_blocks(struct meta *m, struct meta_io *io, struct home_blk *h,
			  size_t n)
{
	void **bufs = kmalloc(max_t(size_t, n, 1) * sizeof(void *));

	qsort(h, n, sizeof(*h), home_cmp);
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && h[j].blkno == h[i].blkno + (j - i)) {
			bufs[j - i] = h[j].data;
			j++;
		}
		mio_submit(io, m->dev, REQ_OP_WRITE, h[i].blkno, bufs, j - i);
		i = j;
	}
	kfree(bufs);
}

/* Write @n blocks home and wait for them, without a flush. */
static int write_blocks(struct meta *m, struct home_blk *h, size_t n)
{
	struct meta_io io;

	mio_init(&io, BIO_CLASS_META);
	submit_blocks(m, &io, h, n);
	return mio_wait(&io);
}

/*
 * A device flush.  Every home write that completed before it is durable
 * once it returns, so j_ckpt_seq catches up with the j_home_seq read
 * before it was issued.  With or without ->lock: meta_commit() flushes
 * without it when it has nothing to commit.
 */
static int journal_flush(struct meta *m)
{
	uint_fast64_t home = atomic_load(&m->j_home_seq);
	uint_fast64_t ckpt = atomic_load(&m->j_ckpt_seq);
	int err = blkdev_issue_flush(m->dev);

	while (!err && ckpt < home &&
	       !atomic_compare_exchange_weak(&m->j_ckpt_seq, &ckpt, home))
		;
	return err;
}

/*
 * Wait for the home writes of the last checkpoint: they count as written
 * home from then on (j_home_seq), and their buffers may leave the cache.
 * Under ->lock, before anything that reads j_home_seq to decide, before a
 * flush meant to cover them, and before the next checkpoint.
 */
static int checkpoint_wait(struct meta *m)
{
	struct meta_ckpt *c = &m->j_ckpt;
	int err;

	if (!c->busy)
		return 0;
	err = mio_wait(&c->io);
	c->busy = false;
	if (!err)
		atomic_store(&m->j_home_seq, c->seq);
	for (size_t i = 0; i < c->nr_pins; i++)
		mbuf_put(m, c->pins[i]);
	kfree(c->pins);
	free(c->copies);
	c->pins = NULL;
	c->copies = NULL;
	return err;
}

int write_home(struct meta *m, struct home_blk *h, size_t n)
{
	int err = write_blocks(m, h, n);

	return err ? err : blkdev_issue_flush(m->dev);
}

int meta_write_super_direct(struct meta *m)
{
	struct home_blk h[2];

	meta_super_to_block(&m->sb, m->sb_block);
	h[0] = (struct home_blk){ 0, m->sb_block };
	h[1] = (struct home_blk){ 1, m->sb_block };
	return write_home(m, h, 2);
}

/* A zeroed journal block at position @pos with its header for txn @seq. */
static void *jblock_init(struct meta *m, void *blk, uint64_t pos, uint32_t magic,
			 uint64_t seq)
{
	memset(blk, 0, IOMAPFS_BLOCK_SIZE);
	meta_fill_blkhdr(m, blk, m->sb.journal_start + pos, magic, 0);
	((struct iomapfs_blkhdr *)blk)->seq = seq;
	return blk;
}

static void fill_jsb(struct meta *m, void *blk, uint64_t tail_seq, uint64_t tail_block)
{
	struct iomapfs_jsb *jsb = jblock_init(m, blk, 0, IOMAPFS_JSB_MAGIC, tail_seq);

	jsb->tail_seq = tail_seq;
	jsb->tail_block = tail_block;
	meta_block_set_crc(jsb);
}

/* Write the journal superblock on its own and flush: it is the durable
 * tail when this returns 0. */
int write_jsb(struct meta *m, uint64_t tail_seq, uint64_t tail_block)
{
	int err;

	fill_jsb(m, m->j_scratch, tail_seq, tail_block);
	err = blk_rw_sync_class(m->dev, REQ_OP_WRITE, BIO_CLASS_JOURNAL, m->j_scratch,
				IOMAPFS_BLOCK_SIZE, m->sb.journal_start << IOMAPFS_BLOCK_SHIFT);
	if (!err)
		err = blkdev_issue_flush(m->dev);
	if (!err) {
		m->j_tail_seq = tail_seq;
		m->j_tail_pos = tail_block;
	}
	return err;
}

/* ---- the replay window: transactions the durable tail still needs ---- */

static int u64_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/* Append a transaction written at @pos, @len journal blocks. */
void window_add(struct meta *m, uint64_t first_seq, uint64_t last_seq,
		uint64_t pos, uint64_t len, const struct home_blk *h, size_t n)
{
	struct jtxn *t;

	if (m->j_nr == m->j_alloc) {
		m->j_alloc = m->j_alloc ? 2 * m->j_alloc : 8;
		m->j_txns = krealloc(m->j_txns, m->j_alloc * sizeof(*m->j_txns));
	}
	t = &m->j_txns[m->j_nr++];
	*t = (struct jtxn){ .first_seq = first_seq, .last_seq = last_seq, .pos = pos,
			    .len = len, .nr = n };
	t->blknos = kmalloc(max_t(size_t, n, 1) * sizeof(*t->blknos));
	for (size_t i = 0; i < n; i++)
		t->blknos[i] = h[i].blkno;
	qsort(t->blknos, n, sizeof(*t->blknos), u64_cmp);
}

/* The durable tail moved to @tail_seq: forget what lies before it. */
static void window_drop_before(struct meta *m, uint64_t tail_seq)
{
	size_t k = 0;

	while (k < m->j_nr && m->j_txns[k].last_seq < tail_seq)
		kfree(m->j_txns[k++].blknos);
	if (!k)
		return;
	memmove(m->j_txns, m->j_txns + k, (m->j_nr - k) * sizeof(*m->j_txns));
	m->j_nr -= k;
}

/* Journal blocks from the durable tail to the head (invariant 1). */
static uint64_t journal_used(struct meta *m)
{
	uint64_t used = 0;

	for (size_t i = 0; i < m->j_nr; i++)
		used += m->j_txns[i].len;
	return used;
}

/* Does a transaction that replay could re-apply hold an image of a block
 * in [start, start + len)? */
static bool window_holds(struct meta *m, uint64_t start, uint64_t len)
{
	for (size_t i = 0; i < m->j_nr; i++) {
		const struct jtxn *t = &m->j_txns[i];
		size_t lo = 0, hi = t->nr;

		while (lo < hi) {	/* the first block >= start */
			size_t mid = lo + (hi - lo) / 2;

			if (t->blknos[mid] < start)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < t->nr && t->blknos[lo] - start < len)
			return true;
	}
	return false;
}

/*
 * Release the frees of durable transactions (invariant 3): those before
 * the first free still imaged in the window.  Returns whether any free of
 * a durable transaction is still held.
 */
static bool journal_release_frees(struct meta *m)
{
	uint64_t limit = atomic_load(&m->durable_seq);
	struct meta_alloc *a = &m->alloc;
	bool held = false;

	for (size_t i = 0; i < a->nr_dfree; i++) {
		const struct meta_dfree *d = &a->dfree[i];

		if (d->seq <= limit && window_holds(m, d->start, d->len))
			limit = d->seq - 1;
	}
	meta_alloc_release(m, limit);
	for (size_t i = 0; i < a->nr_dfree && !held; i++)
		held = a->dfree[i].seq <= atomic_load(&m->durable_seq);
	return held;
}

/*
 * Where the next jsb may put the tail: the oldest transaction whose home
 * writes no completed flush covers yet, else the transaction about to be
 * written at the head.
 */
static void journal_next_tail(struct meta *m, uint64_t seq, uint64_t *tail_seq,
			      uint64_t *tail_pos)
{
	uint64_t ckpt = atomic_load(&m->j_ckpt_seq);

	for (size_t i = 0; i < m->j_nr; i++) {
		if (m->j_txns[i].last_seq > ckpt) {
			*tail_seq = m->j_txns[i].first_seq;
			*tail_pos = m->j_txns[i].pos;
			return;
		}
	}
	*tail_seq = seq;
	*tail_pos = m->j_head;
}

/* Can every transaction in the window be checkpointed, i.e. was it
 * written home?  (Not the old log of a no_replay mount before its first
 * commit, whose images are still dirty buffers.) */
static bool window_all_home(struct meta *m)
{
	return !m->j_nr || m->j_txns[m->j_nr - 1].last_seq <= atomic_load(&m->j_home_seq);
}

/*
 * Make every home write durable and empty the journal: flush, tail =
 * head, flush.  When a commit does not fit, at unmount, and when frees
 * are held.  Under ->lock.
 */
static int journal_checkpoint_all(struct meta *m)
{
	uint64_t seq = atomic_load(&m->running_seq);
	int err = checkpoint_wait(m);

	if (err)
		return err;
	if (WARN_ON_ONCE(!window_all_home(m)))
		return -EIO;
	err = journal_flush(m);
	if (!err && (m->j_tail_seq != seq || m->j_tail_pos != m->j_head))
		err = write_jsb(m, seq, m->j_head);
	if (err)
		return err;
	window_drop_before(m, seq);
	journal_release_frees(m);
	return 0;
}

int meta_journal_checkpoint_all(struct meta *m)
{
	int err;

	if (atomic_load(&m->shutdown))
		return -EIO;
	if (m->readonly)
		return 0;
	meta_lock(m);
	err = journal_checkpoint_all(m);
	meta_unlock(m);
	return err;
}

void meta_journal_destroy(struct meta *m)
{
	checkpoint_wait(m);	/* errors are the caller's shutdown already */
	window_drop_before(m, UINT64_MAX);
	kfree(m->j_txns);
	m->j_txns = NULL;
	m->j_alloc = 0;
}

/* ---- commit ---- */

/* The blocks of the running transaction, the superblock first. */
static struct home_blk *txn_collect(struct meta *m, uint64_t seq, size_t *n)
{
	struct home_blk *h = kmalloc((m->txn_nr + 1) * sizeof(*h));
	struct mbuf *b;
	size_t i = 0;

	m->sb.journal_seq = seq + 1;
	m->sb.free_blocks = meta_alloc_disk_free(m);
	m->sb.write_time_ns = realtime_ns();
	meta_super_to_block(&m->sb, m->sb_block);
	h[i++] = (struct home_blk){ 0, m->sb_block };
	list_for_each_entry(b, &m->txn_list, txn) {
		struct iomapfs_blkhdr *hdr = b->data;

		/* Stamp: every metadata block says where it lives and who wrote it. */
		hdr->blkno = b->blkno;
		hdr->seq = seq;
		memcpy(hdr->uuid, m->sb.uuid, sizeof(hdr->uuid));
		meta_block_set_crc(b->data);
		h[i++] = (struct home_blk){ b->blkno, b->data };
	}
	*n = i;
	return h;
}

static void fill_desc(struct meta *m, void *blk, uint64_t pos, uint64_t seq,
		      const struct home_blk *h, size_t n, bool more)
{
	struct iomapfs_jdesc *d = jblock_init(m, blk, pos, IOMAPFS_JDESC_MAGIC, seq);

	d->nr_blocks = n;
	d->more = more;
	for (size_t i = 0; i < n; i++)
		d->blocks[i] = h[i].blkno;
	meta_block_set_crc(d);
}

static void fill_commit(struct meta *m, void *blk, uint64_t pos, uint64_t seq,
			size_t n, uint32_t data_crc)
{
	struct iomapfs_jcommit *c = jblock_init(m, blk, pos, IOMAPFS_JCOMMIT_MAGIC, seq);

	c->nr_blocks = n;
	c->data_crc = data_crc;
	c->commit_time_ns = realtime_ns();
	meta_block_set_crc(c);
}

static size_t txn_jblocks(size_t n)
{
	return DIV_ROUND_UP(n, IOMAPFS_JDESC_MAX) + n + 1;
}

/*
 * Write one transaction into the journal at j_head, with the jsb when its
 * tail can move, in one batch; then one flush.  @torn leaves out the
 * commit block (test hook).  The layout is
 *   desc, images..., [desc, images...], commit
 * with positions wrapping from the end of the area back to 1.  The caller
 * made sure it fits (invariant 1).
 */
static int journal_write(struct meta *m, uint64_t seq, const struct home_blk *h,
			 size_t n, bool torn)
{
	size_t ndesc = DIV_ROUND_UP(n, IOMAPFS_JDESC_MAX), total = txn_jblocks(n);
	void **blocks = kmalloc(total * sizeof(void *));
	void *descs = aligned_alloc(IOMAPFS_BLOCK_SIZE, (ndesc + 2) * IOMAPFS_BLOCK_SIZE);
	void *jsb = (char *)descs + (ndesc + 1) * IOMAPFS_BLOCK_SIZE;
	uint64_t tail_seq, tail_pos;
	uint32_t crc = ~0u;
	struct meta_io io;
	size_t k = 0;
	int err;

	for (size_t d = 0; d < ndesc; d++) {
		size_t first = d * IOMAPFS_JDESC_MAX;
		size_t cnt = min_t(size_t, IOMAPFS_JDESC_MAX, n - first);
		void *db = (char *)descs + d * IOMAPFS_BLOCK_SIZE;

		fill_desc(m, db, jpos_advance(m, m->j_head, k), seq, h + first, cnt,
			  d + 1 < ndesc);
		blocks[k++] = db;
		for (size_t i = 0; i < cnt; i++)
			blocks[k++] = h[first + i].data;
	}
	for (size_t i = 0; i < k; i++)
		crc = crc32c(crc, blocks[i], IOMAPFS_BLOCK_SIZE);
	blocks[k] = (char *)descs + ndesc * IOMAPFS_BLOCK_SIZE;
	fill_commit(m, blocks[k], jpos_advance(m, m->j_head, k), seq, n, ~crc);
	k += !torn;

	/* jbd2's pre-flush: the data this transaction exposes is durable
	 * before a commit block that could be. */
	if (m->txn_preflush) {
		err = journal_flush(m);
		if (err)
			goto out_free;
		atomic_fetch_add(&m->st_preflushes, 1);
	}
	mio_init(&io, BIO_CLASS_JOURNAL);
	for (size_t i = 0; i < k;) {
		uint64_t pos = jpos_advance(m, m->j_head, i);
		size_t run = min_t(size_t, k - i, m->j_cap + 1 - pos);

		mio_submit(&io, m->dev, REQ_OP_WRITE, m->sb.journal_start + pos, blocks + i, run);
		i += run;
	}
	journal_next_tail(m, seq, &tail_seq, &tail_pos);
	if (tail_seq != m->j_tail_seq || tail_pos != m->j_tail_pos) {
		fill_jsb(m, jsb, tail_seq, tail_pos);
		mio_submit(&io, m->dev, REQ_OP_WRITE, m->sb.journal_start, &jsb, 1);
	}
	err = mio_wait(&io);
	if (!err)
		err = journal_flush(m);
out_free:
	free(descs);
	kfree(blocks);
	if (err)
		return err;
	m->j_tail_seq = tail_seq;
	m->j_tail_pos = tail_pos;
	window_drop_before(m, tail_seq);
	window_add(m, seq, seq, m->j_head, total, h, n);
	m->j_head = jpos_advance(m, m->j_head, total);
	m->txn_preflush = false;
	atomic_fetch_add(&m->st_jblocks, k);
	return 0;
}

/*
 * The home writes of a committed transaction, without a flush (the next
 * commit's flush covers them, and the jsb after that lets the tail pass)
 * and without waiting: fsync returns while they are in flight.  They are
 * written from copies, since the next section may change the buffers, and
 * the buffers stay referenced until checkpoint_wait(), so the cache cannot
 * drop one and read its home block before the write has landed.
 */
static void checkpoint(struct meta *m, uint64_t seq, struct home_blk *h, size_t n)
{
	struct meta_ckpt *c = &m->j_ckpt;
	struct mbuf *b, *tmp;

	/* The copy at block 1 follows the primary. */
	h[n++] = (struct home_blk){ 1, m->sb_block };
	c->copies = aligned_alloc(IOMAPFS_BLOCK_SIZE, n * IOMAPFS_BLOCK_SIZE);
	if (!c->copies) {
		iomapfs_err("out of memory for a checkpoint");
		abort();
	}
	for (size_t i = 0; i < n; i++) {
		void *copy = (char *)c->copies + i * IOMAPFS_BLOCK_SIZE;

		memcpy(copy, h[i].data, IOMAPFS_BLOCK_SIZE);
		h[i].data = copy;
	}
	c->pins = kmalloc(max_t(size_t, m->txn_nr, 1) * sizeof(*c->pins));
	c->nr_pins = 0;
	list_for_each_entry_safe(b, tmp, &m->txn_list, txn) {
		mbuf_get(b);
		c->pins[c->nr_pins++] = b;
		mbuf_mark_clean(m, b);
	}
	c->seq = seq;
	c->busy = true;
	mio_init(&c->io, BIO_CLASS_META);
	submit_blocks(m, &c->io, h, n);
	m->sb_dirty = false;
	m->sb_disk = m->sb;
	atomic_fetch_add(&m->st_checkpoints, 1);
}

/* A commit failed: no more metadata I/O; mark the superblock ERROR. */
static void meta_fail(struct meta *m, int err)
{
	iomapfs_err("journal commit failed (%d): shutting down, run fsck", err);
	atomic_store(&m->shutdown, true);
	checkpoint_wait(m);	/* an older superblock must not land after the mark */
	m->sb_disk.state = IOMAPFS_STATE_ERROR;
	meta_super_to_block(&m->sb_disk, m->sb_block);
	if (!blk_rw_sync_class(m->dev, REQ_OP_WRITE, BIO_CLASS_META, m->sb_block,
			       IOMAPFS_BLOCK_SIZE, 0))
		blkdev_issue_flush(m->dev);
}

/*
 * One section dirtied more than the whole journal holds (callers chain
 * bounded sections, meta_section_full(), so this is a bug).  Written in
 * place it could not be atomic: refuse it, and the caller shuts down.
 */
static int commit_refuse(struct meta *m, uint64_t seq, size_t n)
{
	iomapfs_warn("transaction %llu of %zu blocks exceeds the journal "
		"(%llu blocks): refused, not written in place",
		(unsigned long long)seq, n, (unsigned long long)m->j_cap);
	atomic_fetch_add(&m->st_oversize, 1);
	WARN_ON_ONCE(1);
	return -EIO;
}

enum {
	COMMIT_CHECKPOINT	= 1 << 0,	/* write the home blocks after the commit */
	COMMIT_TORN		= 1 << 1,	/* test hook: leave out the commit block */
	COMMIT_RELEASE		= 1 << 2,	/* checkpoint all if frees stay held */
};

static int __meta_commit(struct meta *m, unsigned flags)
{
	uint64_t seq = atomic_load(&m->running_seq);
	struct home_blk *h;
	size_t n;
	int err = 0;

	if (atomic_load(&m->shutdown))
		return -EIO;
	if (m->readonly || (!m->txn_nr && !m->sb_dirty))
		return 0;
	err = checkpoint_wait(m);	/* the last commit's home writes */
	if (err) {
		meta_fail(m, err);
		return err;
	}
	h = txn_collect(m, seq, &n);
	h = krealloc(h, (n + 1) * sizeof(*h));	/* room for the sb copy */
	if (txn_jblocks(n) > m->j_cap - journal_used(m) && window_all_home(m))
		err = journal_checkpoint_all(m);	/* invariant 1 */
	if (err) {
		/* nothing more */
	} else if (txn_jblocks(n) > m->j_cap - journal_used(m)) {
		err = commit_refuse(m, seq, n);
	} else if (!(err = journal_write(m, seq, h, n, flags & COMMIT_TORN))) {
		atomic_store(&m->durable_seq, seq);
		atomic_store(&m->running_seq, seq + 1);
		atomic_fetch_add(&m->st_commits, 1);
		if ((flags & COMMIT_CHECKPOINT) && !atomic_load(&m->shutdown))
			checkpoint(m, seq, h, n);
		if (journal_release_frees(m) && (flags & COMMIT_RELEASE))
			err = journal_checkpoint_all(m);
	}
	kfree(h);
	if (err && !atomic_load(&m->shutdown))
		meta_fail(m, err);
	return err ? err : atomic_load(&m->shutdown) ? -EIO : 0;
}

int meta_commit_locked(struct meta *m)
{
	return __meta_commit(m, COMMIT_CHECKPOINT);
}

/* Under the metadata lock: commit if there is anything to commit;
 * *flushed says whether the device was flushed on the way. */
static int __meta_commit_if_dirty(struct meta *m, unsigned flags, bool *flushed)
{
	int err;

	*flushed = m->txn_nr || m->sb_dirty;
	err = __meta_commit(m, flags);
	/* Another thread's commit may have left frees held (invariant 3). */
	if (!err && !*flushed && (flags & COMMIT_RELEASE) && !m->readonly &&
	    journal_release_frees(m)) {
		*flushed = true;
		err = journal_checkpoint_all(m);
		if (err && !atomic_load(&m->shutdown))
			meta_fail(m, err);
	}
	return err;
}

static int meta_commit_if_dirty(struct meta *m, unsigned flags, bool *flushed)
{
	int err;

	if (atomic_load(&m->shutdown))
		return -EIO;
	meta_lock(m);
	err = __meta_commit_if_dirty(m, flags, flushed);
	meta_unlock(m);
	return err;
}

int meta_commit_release_locked(struct meta *m)
{
	bool flushed;

	if (atomic_load(&m->shutdown))
		return -EIO;
	return __meta_commit_if_dirty(m, COMMIT_CHECKPOINT | COMMIT_RELEASE, &flushed);
}

int meta_commit(struct meta *m)
{
	bool flushed;
	int err = meta_commit_if_dirty(m, COMMIT_CHECKPOINT | COMMIT_RELEASE, &flushed);

	/* fsync relies on a device flush even when another thread's commit
	 * already made the metadata durable, for the data it just wrote. */
	if (!err && !flushed && !m->readonly)
		err = journal_flush(m);
	return err;
}

int meta_commit_no_checkpoint(struct meta *m, bool torn)
{
	int err;

	meta_lock(m);
	err = __meta_commit(m, torn ? COMMIT_TORN : 0);
	atomic_store(&m->shutdown, true);
	meta_unlock(m);
	return err;
}

/* ---- the log thread ---- */

static void *log_thread(void *arg)
{
	struct meta *m = arg;
	struct timespec ts;

	thread_set_name("iomapfs-log");
	pthread_mutex_lock(&m->log_lock);
	while (!m->log_stop) {
		ts = deadline_after_ms(m->commit_interval_ms);
		pthread_cond_timedwait(&m->log_cond, &m->log_lock, &ts);
		if (m->log_stop)
			break;
		pthread_mutex_unlock(&m->log_lock);
		if (!atomic_load(&m->shutdown))
			meta_commit_if_dirty(m, COMMIT_CHECKPOINT, &(bool){ false });
		pthread_mutex_lock(&m->log_lock);
	}
	pthread_mutex_unlock(&m->log_lock);
	return NULL;
}

int meta_log_start(struct meta *m)
{
	pthread_condattr_t ca;
	int err;

	pthread_mutex_init(&m->log_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->log_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (!m->commit_interval_ms || m->readonly)
		return 0;
	err = pthread_create(&m->log_thread, NULL, log_thread, m);
	if (err)
		return -err;
	/* Named here too, so it is visible as soon as the mount returns. */
	pthread_setname_np(m->log_thread, "iomapfs-log");
	m->log_running = true;
	return 0;
}

void meta_log_stop(struct meta *m)
{
	if (m->log_running) {
		pthread_mutex_lock(&m->log_lock);
		m->log_stop = true;
		pthread_cond_signal(&m->log_cond);
		pthread_mutex_unlock(&m->log_lock);
		pthread_join(m->log_thread, NULL);
		m->log_running = false;
	}
	pthread_cond_destroy(&m->log_cond);
	pthread_mutex_destroy(&m->log_lock);
}
