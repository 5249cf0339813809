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

/* ---- the metadata lock, handles and read sections ---- */

/*
 * What this thread holds of which filesystem: the metadata lock for
 * writing (meta_lock: mount, unmount, fsck, a commit), a handle (a write
 * section: the metadata lock shared), or a read section (the tree lock
 * shared).  A thread holds at most one of them: sections never nest.
 */
static _Thread_local struct meta *meta_locked_by_me, *meta_read_by_me;
static _Thread_local struct meta_handle {
	struct meta	*m;
	size_t		credits;	/* journal blocks reserved at meta_begin */
	size_t		dirtied;	/* blocks it added to the transaction */
	uint64_t	growth;		/* blocks meta_check_growth() reserved for it */
} cur_handle;

void meta_lock(struct meta *m)
{
	might_sleep();
	down_write(&m->lock);
	meta_locked_by_me = m;
}

void meta_unlock(struct meta *m)
{
	meta_locked_by_me = NULL;
	up_write(&m->lock);
}

bool meta_lock_held(struct meta *m)
{
	return meta_locked_by_me == m;
}

bool meta_may_modify(struct meta *m)
{
	return meta_locked_by_me == m || cur_handle.m == m;
}

bool meta_lock_held_any(struct meta *m)
{
	return meta_may_modify(m) || meta_read_by_me == m;
}

uint64_t *meta_handle_growth(struct meta *m)
{
	return cur_handle.m == m ? &cur_handle.growth : NULL;
}

void meta_handle_dirtied(struct meta *m)
{
	if (cur_handle.m == m)
		cur_handle.dirtied++;
}

bool meta_tree_lock(struct meta *m, bool modify)
{
	if (meta_read_by_me == m) {
		WARN_ON_ONCE(modify);
		return false;	/* the read section holds it */
	}
	if (modify)
		down_write(&m->tree_lock);
	else
		down_read(&m->tree_lock);
	return true;
}

void meta_tree_unlock(struct meta *m, bool modify, bool taken)
{
	if (!taken)
		return;
	if (modify)
		up_write(&m->tree_lock);
	else
		up_read(&m->tree_lock);
}

/*
 * A transaction may hold txn_limit() blocks: one closed when it passed
 * section_budget() still fits in an emptied journal with its descriptors,
 * superblock and commit block.  A handle reserves handle_budget() of it
 * (its credits); meta_section_full() keeps a chained operation within
 * them.  A quarter of the old single-section budget lets about seven
 * handles run at once in the smallest journal (1,024 blocks: 127 each).
 */
#define META_HANDLE_SHARE	4

static size_t section_budget(struct meta *m)
{
	return m->j_cap / 2 > 4 ? m->j_cap / 2 - 2 : 2;
}

static size_t txn_limit(struct meta *m)
{
	return 2 * section_budget(m);
}

static size_t handle_budget(struct meta *m)
{
	size_t b = section_budget(m) / META_HANDLE_SHARE;

	return b >= 4 * META_SECTION_STEP_MAX ? b : section_budget(m);
}

static size_t txn_blocks(struct meta *m)
{
	size_t n;

	pthread_mutex_lock(&m->bc.lock);
	n = m->txn_nr;
	pthread_mutex_unlock(&m->bc.lock);
	return n;
}

enum {
	COMMIT_CHECKPOINT	= 1 << 0,	/* write the home blocks after the commit */
	COMMIT_TORN		= 1 << 1,	/* test hook: leave out the commit block */
	COMMIT_RELEASE		= 1 << 2,	/* checkpoint all if frees stay held */
	COMMIT_KEEP_LOCK	= 1 << 3,	/* the caller keeps ->lock throughout */
	COMMIT_CRASH		= 1 << 4,	/* test hook: shut down once written */
};

static int commit_held(struct meta *m, unsigned flags);

/* Past half the journal (each_section: anything at all), so that the next
 * handle's credits still fit. */
static bool txn_wants_commit(struct meta *m)
{
	size_t nr = txn_blocks(m);

	return m->commit_each_section ? nr > 0 : nr > section_budget(m);
}

/*
 * Outside any handle: commit if the transaction still wants it once no
 * handle runs (another thread's commit may have come first).
 */
static void commit_if_wanted(struct meta *m)
{
	meta_lock(m);
	if (txn_wants_commit(m) && !atomic_load(&m->shutdown))
		commit_held(m, COMMIT_CHECKPOINT);
	else
		meta_unlock(m);
}

/*
 * Join the running transaction, as jbd2's start_this_handle: the metadata
 * lock shared (a commit closing the transaction holds it for writing, so
 * a handle waits for the close and joins the next one), then credits.
 * When the transaction cannot take this handle's credits, wait for a
 * handle to end; when none is running and it is past half the journal,
 * commit it first.  The caller holds no lock a handle takes (per-object
 * locks are taken after meta_begin), so the wait cannot close a cycle.
 */
void meta_begin(struct meta *m)
{
	size_t need = handle_budget(m);
	bool waited = false;

	might_sleep();
	WARN_ON_ONCE(meta_lock_held_any(m));
	for (;;) {
		size_t nr;
		uint64_t gen;
		bool idle;

		down_read(&m->lock);
		nr = txn_blocks(m);
		pthread_mutex_lock(&m->h_lock);
		/* After a shutdown nothing commits: admit, the section fails. */
		if (atomic_load(&m->shutdown) ||
		    (nr <= section_budget(m) && nr + m->h_credits + need <= txn_limit(m)))
			break;
		idle = !m->h_active;
		gen = m->h_gen;
		if (!idle) {
			up_read(&m->lock);
			while (gen == m->h_gen)
				pthread_cond_wait(&m->h_cond, &m->h_lock);
			pthread_mutex_unlock(&m->h_lock);
		} else {
			pthread_mutex_unlock(&m->h_lock);
			up_read(&m->lock);
			commit_if_wanted(m);	/* past half the journal, nobody in it */
		}
		waited = true;
	}
	m->h_active++;
	m->h_credits += need;
	if (m->h_active > atomic_load_explicit(&m->st_handles_max, memory_order_relaxed))
		atomic_store_explicit(&m->st_handles_max, m->h_active, memory_order_relaxed);
	pthread_mutex_unlock(&m->h_lock);
	cur_handle = (struct meta_handle){ .m = m, .credits = need };
	atomic_fetch_add_explicit(&m->st_sections, 1, memory_order_relaxed);
	if (waited)
		atomic_fetch_add_explicit(&m->st_handle_waits, 1, memory_order_relaxed);
}

/* Leave the transaction: the handle's credits go back.  Returns whether
 * meta_crash_after_sections() counted down to this handle. */
static bool handle_stop(struct meta *m)
{
	bool crash = false;

	meta_release_growth(m, &cur_handle.growth);
	pthread_mutex_lock(&m->h_lock);
	if (m->crash_countdown && --m->crash_countdown == 0)
		crash = true;
	m->h_active--;
	m->h_credits -= cur_handle.credits;
	m->h_gen++;
	pthread_cond_broadcast(&m->h_cond);
	pthread_mutex_unlock(&m->h_lock);
	cur_handle = (struct meta_handle){ 0 };
	up_read(&m->lock);
	return crash;
}

void meta_begin_read(struct meta *m)
{
	might_sleep();
	/* The tree lock prefers writers: a nested read would deadlock behind one. */
	WARN_ON_ONCE(meta_lock_held_any(m));
	down_read(&m->tree_lock);
	meta_read_by_me = m;
}

void meta_end_read(struct meta *m)
{
	meta_read_by_me = NULL;
	up_read(&m->tree_lock);
}

bool meta_section_full(struct meta *m)
{
	if (WARN_ON_ONCE(cur_handle.m != m))
		return true;
	return cur_handle.dirtied + META_SECTION_STEP_MAX > cur_handle.credits;
}

void meta_txn_orders_data(struct meta *m)
{
	atomic_store(&m->txn_preflush, true);
}

/*
 * End the handle.  The caller has dropped its per-object locks: a commit
 * started here waits for every other handle, and they may wait for those.
 */
void meta_end(struct meta *m)
{
	if (WARN_ON_ONCE(cur_handle.m != m))
		return;
	if (handle_stop(m)) {
		/* The crash test hook: commit this section, then die.  Tests
		 * that use it run one section at a time. */
		meta_lock(m);
		commit_held(m, COMMIT_CRASH);
		return;
	}
	/* A large transaction commits now, before it outgrows the journal;
	 * the commit=each_section debug mode commits after every section.
	 * The commit closes the transaction only when every handle in it
	 * has ended. */
	if (txn_wants_commit(m) && !atomic_load(&m->shutdown))
		commit_if_wanted(m);
}

void meta_crash_after_sections(struct meta *m, unsigned n)
{
	pthread_mutex_lock(&m->h_lock);
	m->crash_countdown = n;
	pthread_mutex_unlock(&m->h_lock);
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
 * before it was issued.  With or without commit_lock: meta_commit()
 * flushes without it when it has nothing to commit.
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
 * Under commit_lock, before anything that reads j_home_seq to decide,
 * before a flush meant to cover them, and before the next checkpoint.
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
	uint64_t durable = atomic_load(&m->durable_seq), limit = durable;
	struct meta_alloc *a = &m->alloc;
	bool held = false;

	/* space_lock: sections append to dfree[] while a commit runs. */
	pthread_mutex_lock(&a->space_lock);
	for (size_t i = 0; i < a->nr_dfree; i++) {
		const struct meta_dfree *d = &a->dfree[i];

		if (d->seq <= limit && window_holds(m, d->start, d->len))
			limit = d->seq - 1;
	}
	pthread_mutex_unlock(&a->space_lock);
	meta_alloc_release(m, limit);
	pthread_mutex_lock(&a->space_lock);
	for (size_t i = 0; i < a->nr_dfree && !held; i++)
		held = a->dfree[i].seq <= durable;
	pthread_mutex_unlock(&a->space_lock);
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
 * head, flush; @next_seq is the transaction the next commit writes at the
 * head.  When a commit does not fit, at unmount, and when frees are held.
 * Under commit_lock.
 */
static int journal_checkpoint_all(struct meta *m, uint64_t next_seq)
{
	int err = checkpoint_wait(m);

	if (err)
		return err;
	if (WARN_ON_ONCE(!window_all_home(m)))
		return -EIO;
	err = journal_flush(m);
	if (!err && (m->j_tail_seq != next_seq || m->j_tail_pos != m->j_head))
		err = write_jsb(m, next_seq, m->j_head);
	if (err)
		return err;
	window_drop_before(m, next_seq);
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
	/* Every closed transaction was written under the same hold of
	 * commit_lock, so the running one is the next to be written. */
	pthread_mutex_lock(&m->commit_lock);
	err = journal_checkpoint_all(m, atomic_load(&m->running_seq));
	pthread_mutex_unlock(&m->commit_lock);
	return err;
}

void meta_journal_destroy(struct meta *m)
{
	checkpoint_wait(m);	/* errors are the caller's shutdown already */
	/* Every entry, not window_drop_before(UINT64_MAX): a crafted image's
	 * sequence numbers can reach UINT64_MAX (fuzz_mount found the leak). */
	for (size_t i = 0; i < m->j_nr; i++)
		kfree(m->j_txns[i].blknos);
	m->j_nr = 0;
	kfree(m->j_txns);
	m->j_txns = NULL;
	m->j_alloc = 0;
}

/* ---- commit ----
 *
 * A commit has two halves, as jbd2's:
 *
 *   close (txn_close)	under ->lock held for writing, so every handle of
 *			the transaction has ended: freeze its blocks (copy
 *			them, jbd2's frozen buffers), pin its buffers, start
 *			transaction seq + 1, drop ->lock
 *   write (commit_io)	under commit_lock only: journal the frozen copies,
 *			(pre-)flush, checkpoint them home, release frees
 *
 * New sections run during the write half and join seq + 1.  commit_lock
 * also keeps a second close waiting until the previous write is done, so
 * at most one transaction is in flight, and the journal state (j_*) is
 * only touched with commit_lock held.
 */

/*
 * A transaction closed for commit: its blocks frozen, so sections of the
 * next transaction may change the buffers while this one is written.
 * h[0] is the superblock; room is left for its copy at block 1, which the
 * checkpoint adds.
 */
struct jcommit {
	uint64_t	seq;
	struct home_blk	*h;
	size_t		n;
	void		*copies;	/* the images h[] points at */
	struct mbuf	**pins;		/* their buffers, kept cached until home */
	size_t		nr_pins;
	bool		preflush;	/* meta_txn_orders_data() was called */
};

/* Copy @src as the next image of @c. */
static void jc_freeze(struct jcommit *c, uint64_t blkno, const void *src)
{
	void *copy = (char *)c->copies + c->n * IOMAPFS_BLOCK_SIZE;

	memcpy(copy, src, IOMAPFS_BLOCK_SIZE);
	c->h[c->n++] = (struct home_blk){ blkno, copy };
}

/*
 * Close the running transaction into @c: stamp and freeze its blocks and
 * the superblock, pin its buffers and mark them clean, and start
 * transaction seq + 1.  Under ->lock (write) and commit_lock.
 */
static void txn_close(struct meta *m, struct jcommit *c)
{
	size_t cap = m->txn_nr + 2;
	struct mbuf *b, *tmp;

	c->seq = atomic_load(&m->running_seq);
	c->h = kmalloc(cap * sizeof(*c->h));
	c->pins = kmalloc(cap * sizeof(*c->pins));
	c->copies = aligned_alloc(IOMAPFS_BLOCK_SIZE, cap * IOMAPFS_BLOCK_SIZE);
	if (!c->copies) {
		iomapfs_err("out of memory for a commit");
		abort();
	}
	c->n = c->nr_pins = 0;
	/* No handle runs (->lock is ours), but a read section may be
	 * walking the buffers this stamps. */
	down_write(&m->tree_lock);
	m->sb.journal_seq = c->seq + 1;
	m->sb.free_blocks = meta_alloc_disk_free(m);
	m->sb.write_time_ns = realtime_ns();
	meta_super_to_block(&m->sb, m->sb_block);
	jc_freeze(c, 0, m->sb_block);
	list_for_each_entry_safe(b, tmp, &m->txn_list, txn) {
		struct iomapfs_blkhdr *hdr = b->data;

		/* Stamp: every metadata block says where it lives and who wrote it. */
		hdr->blkno = b->blkno;
		hdr->seq = c->seq;
		memcpy(hdr->uuid, m->sb.uuid, sizeof(hdr->uuid));
		meta_block_set_crc(b->data);
		jc_freeze(c, b->blkno, b->data);
		mbuf_get(m, b);
		c->pins[c->nr_pins++] = b;
		mbuf_mark_clean(m, b);
	}
	up_write(&m->tree_lock);
	c->preflush = atomic_exchange(&m->txn_preflush, false);
	m->sb_dirty = false;
	m->sb_disk = m->sb;
	atomic_store(&m->running_seq, c->seq + 1);
}

static void jc_free(struct meta *m, struct jcommit *c)
{
	for (size_t i = 0; i < c->nr_pins; i++)
		mbuf_put(m, c->pins[i]);
	kfree(c->pins);
	free(c->copies);
	kfree(c->h);
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
			 size_t n, bool torn, bool preflush)
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
	if (preflush) {
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
	atomic_fetch_add(&m->st_jblocks, k);
	return 0;
}

/*
 * The home writes of a committed transaction, without a flush (the next
 * commit's flush covers them, and the jsb after that lets the tail pass)
 * and without waiting: fsync returns while they are in flight.  They are
 * written from the frozen copies, since the next transaction may change
 * the buffers, and the buffers stay pinned until checkpoint_wait(), so the
 * cache cannot drop one and read its home block before the write has
 * landed.  Takes over @c's copies and pins.
 */
static void checkpoint(struct meta *m, struct jcommit *c)
{
	struct meta_ckpt *k = &m->j_ckpt;

	/* The copy at block 1 follows the primary. */
	c->h[c->n++] = (struct home_blk){ 1, c->h[0].data };
	k->copies = c->copies;
	k->pins = c->pins;
	k->nr_pins = c->nr_pins;
	c->copies = NULL;
	c->pins = NULL;
	c->nr_pins = 0;
	k->seq = c->seq;
	k->busy = true;
	mio_init(&k->io, BIO_CLASS_META);
	submit_blocks(m, &k->io, c->h, c->n);
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

/* Under commit_lock: journal, flush and checkpoint the closed @c. */
static int commit_write(struct meta *m, struct jcommit *c, unsigned flags)
{
	int err = atomic_load(&m->shutdown) ? -EIO : checkpoint_wait(m);

	/* Invariant 1: make room by checkpointing everything. */
	if (!err && txn_jblocks(c->n) > m->j_cap - journal_used(m) && window_all_home(m))
		err = journal_checkpoint_all(m, c->seq);
	if (err) {
		/* nothing more */
	} else if (txn_jblocks(c->n) > m->j_cap - journal_used(m)) {
		err = commit_refuse(m, c->seq, c->n);
	} else if (!(err = journal_write(m, c->seq, c->h, c->n, flags & COMMIT_TORN,
					 c->preflush))) {
		atomic_store(&m->durable_seq, c->seq);
		atomic_fetch_add(&m->st_commits, 1);
		if ((flags & COMMIT_CHECKPOINT) && !atomic_load(&m->shutdown))
			checkpoint(m, c);
		if (journal_release_frees(m) && (flags & COMMIT_RELEASE))
			err = journal_checkpoint_all(m, c->seq + 1);
	}
	jc_free(m, c);
	return err;
}

/*
 * The write half, under commit_lock only: write the closed @c (@closed),
 * or with nothing closed, release the frees earlier commits left held
 * (COMMIT_RELEASE).  *flushed: whether the device was flushed.
 */
static int commit_io(struct meta *m, struct jcommit *c, bool closed, unsigned flags,
		     bool *flushed)
{
	int err = 0;

	*flushed = closed;
	if (closed) {
		err = commit_write(m, c, flags);
	} else if ((flags & COMMIT_RELEASE) && !m->readonly && !atomic_load(&m->shutdown) &&
		   journal_release_frees(m)) {
		/* Another thread's commit may have left frees held (invariant 3). */
		*flushed = true;
		err = journal_checkpoint_all(m, atomic_load(&m->running_seq));
	}
	if (err && !atomic_load(&m->shutdown))
		meta_fail(m, err);
	if (!err && atomic_load(&m->shutdown))
		err = -EIO;
	if (flags & COMMIT_CRASH)
		atomic_store(&m->shutdown, true);
	return err;
}

/*
 * Holding ->lock for writing and commit_lock: close the running
 * transaction if it changed anything, drop ->lock (unless
 * COMMIT_KEEP_LOCK), write it, drop commit_lock.
 */
static int __commit(struct meta *m, unsigned flags, bool *flushed)
{
	bool closed = !atomic_load(&m->shutdown) && !m->readonly &&
		      (m->txn_nr || m->sb_dirty);
	struct jcommit c;
	int err;

	if (closed)
		txn_close(m, &c);
	if (!(flags & COMMIT_KEEP_LOCK))
		meta_unlock(m);
	err = commit_io(m, &c, closed, flags, flushed);
	pthread_mutex_unlock(&m->commit_lock);
	return err;
}

/* Holding ->lock for writing (the lock order allows waiting for
 * commit_lock: its holder never waits for ->lock). */
static int commit_held(struct meta *m, unsigned flags)
{
	pthread_mutex_lock(&m->commit_lock);
	return __commit(m, flags, &(bool){ false });
}

/*
 * Outside a section: ->lock for writing and commit_lock.  A commit in
 * flight holds commit_lock for its I/O: wait for it without ->lock, so
 * sections go on meanwhile.
 */
static void commit_lock_both(struct meta *m)
{
	for (;;) {
		meta_lock(m);
		if (!pthread_mutex_trylock(&m->commit_lock))
			return;
		meta_unlock(m);
		pthread_mutex_lock(&m->commit_lock);
		pthread_mutex_unlock(&m->commit_lock);
	}
}

static int commit_unlocked(struct meta *m, unsigned flags, bool *flushed)
{
	*flushed = false;
	if (atomic_load(&m->shutdown))
		return -EIO;
	commit_lock_both(m);
	return __commit(m, flags, flushed);
}

int meta_commit_locked(struct meta *m)
{
	return commit_held(m, COMMIT_CHECKPOINT | COMMIT_KEEP_LOCK);
}

int meta_commit(struct meta *m)
{
	bool flushed;
	int err = commit_unlocked(m, COMMIT_CHECKPOINT | COMMIT_RELEASE, &flushed);

	/* fsync relies on a device flush even when another thread's commit
	 * already made the metadata durable, for the data it just wrote. */
	if (!err && !flushed && !m->readonly)
		err = journal_flush(m);
	return err;
}

int meta_commit_seq(struct meta *m, uint64_t seq)
{
	bool flushed = false;
	int err = 0;

	if (atomic_load(&m->shutdown))
		return -EIO;
	if (atomic_load(&m->durable_seq) < seq) {
		/* Waits for the commit in flight, which may be @seq's. */
		commit_lock_both(m);
		if (atomic_load(&m->durable_seq) >= seq) {
			meta_unlock(m);
			pthread_mutex_unlock(&m->commit_lock);
		} else {
			err = __commit(m, COMMIT_CHECKPOINT | COMMIT_RELEASE, &flushed);
		}
	}
	/* The caller's data may postdate the flush that made @seq durable. */
	if (!err && !flushed && !m->readonly)
		err = journal_flush(m);
	return err;
}

int meta_commit_no_checkpoint(struct meta *m, bool torn)
{
	bool flushed;
	int err = commit_unlocked(m, (torn ? COMMIT_TORN : 0) | COMMIT_CRASH, &flushed);

	atomic_store(&m->shutdown, true);
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
			commit_unlocked(m, COMMIT_CHECKPOINT, &(bool){ false });
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
