// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The metadata journal: physical block journaling in the style of jbd2.
 *
 * The running transaction is every buffer dirtied in sections since the
 * last commit (meta->txn_list) plus the superblock.  A commit:
 *
 *   running --write descriptors, images, commit block (bios)--> written
 *           --blkdev_issue_flush--> durable       (durable_seq = seq)
 *           --write home blocks, flush--> checkpointed
 *           --jsb tail = head, flush--> released  (deferred frees usable)
 *
 * The commit block carries a crc32c over every descriptor and image, so
 * the whole transaction goes out in one batch with a single flush: a torn
 * write shows up as a checksum mismatch at replay, as with jbd2's
 * async_commit.  Every commit checkpoints at once, so the journal is empty
 * between commits and a freed block can never be overwritten by a later
 * replay of an older transaction (jbd2 needs revoke records for that).
 *
 * Replay at mount walks from the jsb tail, re-applies every transaction
 * whose descriptors and commit block are intact and whose sequence numbers
 * follow, and stops at the first that is not.
 *
 * After an I/O error during a commit the filesystem shuts down: every later
 * call fails with -EIO, and the superblock is marked ERROR if it can be.
 *
 * Threads: sections and meta_commit run in FUSE request threads, the
 * flusher and workers; the periodic commit runs in "iomapfs-log".
 */
#include "meta_internal.h"

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
}

void meta_end(struct meta *m)
{
	/* A large transaction commits now, before it outgrows the journal. */
	if (m->txn_nr + 2 > m->j_cap / 2 && !atomic_load(&m->shutdown))
		meta_commit_locked(m);
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

struct home_blk {
	uint64_t	blkno;
	void		*data;
};

static int home_cmp(const void *a, const void *b)
{
	const struct home_blk *x = a, *y = b;

	return x->blkno < y->blkno ? -1 : x->blkno > y->blkno;
}

/* Write @n blocks to their home locations (sorted, merged into bios),
 * then flush.  Task context. */
static int write_home(struct meta *m, struct home_blk *h, size_t n)
{
	void **bufs = kmalloc(max_t(size_t, n, 1) * sizeof(void *));
	struct meta_io io;
	int err;

	qsort(h, n, sizeof(*h), home_cmp);
	mio_init(&io);
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && h[j].blkno == h[i].blkno + (j - i)) {
			bufs[j - i] = h[j].data;
			j++;
		}
		mio_submit(&io, m->dev, REQ_OP_WRITE, h[i].blkno, bufs, j - i);
		i = j;
	}
	err = mio_wait(&io);
	kfree(bufs);
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

static int write_jsb(struct meta *m, uint64_t tail_seq, uint64_t tail_block)
{
	struct iomapfs_jsb *jsb = m->j_scratch;
	int err;

	jblock_init(m, jsb, 0, IOMAPFS_JSB_MAGIC, tail_seq);
	jsb->tail_seq = tail_seq;
	jsb->tail_block = tail_block;
	meta_block_set_crc(jsb);
	err = blk_rw_sync(m->dev, REQ_OP_WRITE, jsb, IOMAPFS_BLOCK_SIZE,
			  m->sb.journal_start << IOMAPFS_BLOCK_SHIFT);
	return err ? err : blkdev_issue_flush(m->dev);
}

/* ---- commit ---- */

static uint64_t jpos_advance(struct meta *m, uint64_t pos, uint64_t k)
{
	return 1 + (pos - 1 + k) % m->j_cap;
}

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

/*
 * Write one transaction into the journal at j_head and flush.  @torn
 * leaves out the commit block (test hook).  The layout is
 *   desc, images..., [desc, images...], commit
 * with positions wrapping from the end of the area back to 1.
 */
static int journal_write(struct meta *m, uint64_t seq, const struct home_blk *h,
			 size_t n, bool torn)
{
	size_t ndesc = DIV_ROUND_UP(n, IOMAPFS_JDESC_MAX), total = ndesc + n + 1;
	void **blocks = kmalloc(total * sizeof(void *));
	void *descs = aligned_alloc(IOMAPFS_BLOCK_SIZE, (ndesc + 1) * IOMAPFS_BLOCK_SIZE);
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

	mio_init(&io);
	for (size_t i = 0; i < k;) {
		uint64_t pos = jpos_advance(m, m->j_head, i);
		size_t run = min_t(size_t, k - i, m->j_cap + 1 - pos);

		mio_submit(&io, m->dev, REQ_OP_WRITE, m->sb.journal_start + pos, blocks + i, run);
		i += run;
	}
	err = mio_wait(&io);
	if (!err)
		err = blkdev_issue_flush(m->dev);
	free(descs);
	kfree(blocks);
	if (!err) {
		m->j_head = jpos_advance(m, m->j_head, total);
		atomic_fetch_add(&m->st_jblocks, k);
	}
	return err;
}

/* The home writes of a committed transaction, then the tail moves. */
static int checkpoint(struct meta *m, uint64_t seq, struct home_blk *h, size_t n)
{
	struct mbuf *b, *tmp;
	int err;

	/* The copy at block 1 follows the primary. */
	h[n++] = (struct home_blk){ 1, m->sb_block };
	err = write_home(m, h, n);
	if (!err)
		err = write_jsb(m, seq + 1, m->j_head);
	if (err)
		return err;
	list_for_each_entry_safe(b, tmp, &m->txn_list, txn)
		mbuf_mark_clean(m, b);
	m->sb_dirty = false;
	m->sb_disk = m->sb;
	m->j_used = 0;
	meta_alloc_release(m, seq);
	atomic_fetch_add(&m->st_checkpoints, 1);
	return 0;
}

/* A commit failed: no more metadata I/O; mark the superblock ERROR. */
static void meta_fail(struct meta *m, int err)
{
	fprintf(stderr, "iomapfs: journal commit failed (%d): shutting down, run fsck\n", err);
	atomic_store(&m->shutdown, true);
	m->sb_disk.state = IOMAPFS_STATE_ERROR;
	meta_super_to_block(&m->sb_disk, m->sb_block);
	if (!blk_rw_sync(m->dev, REQ_OP_WRITE, m->sb_block, IOMAPFS_BLOCK_SIZE, 0))
		blkdev_issue_flush(m->dev);
}

static int __meta_commit(struct meta *m, bool do_checkpoint, bool torn)
{
	uint64_t seq = atomic_load(&m->running_seq);
	struct home_blk *h;
	size_t n;
	int err;

	if (atomic_load(&m->shutdown))
		return -EIO;
	if (m->readonly || (!m->txn_nr && !m->sb_dirty))
		return 0;
	h = txn_collect(m, seq, &n);
	h = krealloc(h, (n + 1) * sizeof(*h));	/* room for the sb copy */
	if (DIV_ROUND_UP(n, IOMAPFS_JDESC_MAX) + n + 1 > m->j_cap - m->j_used) {
		/* One section dirtied more than the whole journal holds (callers
		 * keep sections far smaller; meta_end commits at half).  It
		 * cannot be atomic: say so and write it in place. */
		fprintf(stderr, "iomapfs: transaction %llu of %zu blocks exceeds the journal "
			"(%llu blocks): written in place without crash protection\n",
			(unsigned long long)seq, n, (unsigned long long)m->j_cap);
		err = 0;
	} else {
		err = journal_write(m, seq, h, n, torn);
	}
	if (!err) {
		atomic_store(&m->durable_seq, seq);
		atomic_store(&m->running_seq, seq + 1);
		atomic_fetch_add(&m->st_commits, 1);
		if (do_checkpoint && !atomic_load(&m->shutdown))
			err = checkpoint(m, seq, h, n);
	}
	kfree(h);
	if (err && !atomic_load(&m->shutdown))
		meta_fail(m, err);
	return err ? err : atomic_load(&m->shutdown) ? -EIO : 0;
}

int meta_commit_locked(struct meta *m)
{
	return __meta_commit(m, true, false);
}

static int meta_commit_if_dirty(struct meta *m, bool *committed)
{
	int err;

	if (atomic_load(&m->shutdown))
		return -EIO;
	meta_lock(m);
	*committed = m->txn_nr || m->sb_dirty;
	err = meta_commit_locked(m);
	meta_unlock(m);
	return err;
}

int meta_commit(struct meta *m)
{
	bool committed;
	int err = meta_commit_if_dirty(m, &committed);

	/* fsync relies on a device flush even when another thread's commit
	 * already made the metadata durable, for the data it just wrote. */
	if (!err && !committed && !m->readonly)
		err = blkdev_issue_flush(m->dev);
	return err;
}

int meta_commit_no_checkpoint(struct meta *m, bool torn)
{
	int err;

	meta_lock(m);
	err = __meta_commit(m, false, torn);
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
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += m->commit_interval_ms / 1000;
		ts.tv_nsec += (long)(m->commit_interval_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&m->log_cond, &m->log_lock, &ts);
		if (m->log_stop)
			break;
		pthread_mutex_unlock(&m->log_lock);
		if (!atomic_load(&m->shutdown))
			meta_commit_if_dirty(m, &(bool){ false });
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

/* ---- replay ---- */

struct replay {
	struct meta	*m;
	uint8_t		*area;		/* the whole journal area, read once */
	struct home_blk	*h;		/* images to apply, in log order */
	size_t		nr_h, cap_h;
};

static void *jblock(struct replay *r, uint64_t pos)
{
	return r->area + pos * IOMAPFS_BLOCK_SIZE;
}

static void replay_add(struct replay *r, uint64_t blkno, void *data)
{
	if (r->nr_h == r->cap_h) {
		r->cap_h = r->cap_h ? 2 * r->cap_h : 256;
		r->h = krealloc(r->h, r->cap_h * sizeof(*r->h));
	}
	r->h[r->nr_h++] = (struct home_blk){ blkno, data };
}

static bool jdesc_ok(struct replay *r, uint64_t pos, uint64_t seq)
{
	struct meta *m = r->m;
	struct iomapfs_jdesc *d = jblock(r, pos);

	return !meta_block_problem(m, d, IOMAPFS_JDESC_MAGIC, m->sb.journal_start + pos) &&
	       d->hdr.seq == seq && d->nr_blocks <= IOMAPFS_JDESC_MAX;
}

/*
 * Validate the transaction @seq starting at @pos.  Returns its length in
 * journal blocks, or 0 when it is torn, missing or from an older lap.
 */
static uint64_t replay_check_txn(struct replay *r, uint64_t pos, uint64_t seq)
{
	struct meta *m = r->m;
	uint64_t p = pos, len = 0, images = 0;
	uint32_t crc = ~0u;
	struct iomapfs_jdesc *d;
	struct iomapfs_jcommit *c;

	do {
		if (len + 1 > m->j_cap || !jdesc_ok(r, p, seq))
			return 0;
		d = jblock(r, p);
		crc = crc32c(crc, d, IOMAPFS_BLOCK_SIZE);
		for (uint32_t i = 0; i <= d->nr_blocks && len < m->j_cap; i++) {
			if (i)
				crc = crc32c(crc, jblock(r, p), IOMAPFS_BLOCK_SIZE);
			p = jpos_advance(m, p, 1);
			len++;
		}
		images += d->nr_blocks;
	} while (d->more);
	c = jblock(r, p);
	if (len + 1 > m->j_cap ||
	    meta_block_problem(m, c, IOMAPFS_JCOMMIT_MAGIC, m->sb.journal_start + p) ||
	    c->hdr.seq != seq || c->nr_blocks != images || c->data_crc != ~crc)
		return 0;
	return len + 1;
}

static void replay_collect(struct replay *r, uint64_t pos)
{
	struct meta *m = r->m;
	struct iomapfs_jdesc *d;

	do {
		d = jblock(r, pos);
		pos = jpos_advance(m, pos, 1);
		for (uint32_t i = 0; i < d->nr_blocks; i++) {
			if (d->blocks[i] < m->nr_blocks)
				replay_add(r, d->blocks[i], jblock(r, pos));
			pos = jpos_advance(m, pos, 1);
		}
	} while (d->more);
}

struct replay_ord {
	uint64_t	blkno;
	size_t		idx;	/* position in log order */
};

static int ord_cmp(const void *a, const void *b)
{
	const struct replay_ord *x = a, *y = b;

	if (x->blkno != y->blkno)
		return x->blkno < y->blkno ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Later images of the same block win: keep the last one of each block. */
static size_t replay_dedup(struct home_blk *h, size_t n)
{
	struct replay_ord *o = kmalloc(max_t(size_t, n, 1) * sizeof(*o));
	struct home_blk *copy = kmalloc(max_t(size_t, n, 1) * sizeof(*copy));
	size_t out = 0;

	for (size_t i = 0; i < n; i++)
		o[i] = (struct replay_ord){ h[i].blkno, i };
	qsort(o, n, sizeof(*o), ord_cmp);
	memcpy(copy, h, n * sizeof(*h));
	for (size_t i = 0; i < n; i++)
		if (i + 1 == n || o[i + 1].blkno != o[i].blkno)
			h[out++] = copy[o[i].idx];
	kfree(copy);
	kfree(o);
	return out;
}

/*
 * Read-only (or no_replay) mount of a dirty journal: the committed images
 * become dirty buffers of the running transaction, so every read sees the
 * committed state; a read-only mount never writes them, a read-write one
 * writes them with its first commit (which replays them, in effect).
 */
static void replay_in_memory(struct meta *m, struct replay *r)
{
	size_t n = replay_dedup(r->h, r->nr_h);

	for (size_t i = 0; i < n; i++) {
		struct mbuf *b;

		if (r->h[i].blkno < 2) {
			if (r->h[i].blkno == 0 && meta_super_crc_ok(r->h[i].data)) {
				memcpy(&m->sb, r->h[i].data, sizeof(m->sb));
				m->sb_dirty = true;
			}
			continue;
		}
		b = mbuf_new(m, r->h[i].blkno);
		memcpy(b->data, r->h[i].data, IOMAPFS_BLOCK_SIZE);
		mbuf_mark_dirty(m, b);
		mbuf_put(m, b);
	}
}

static int read_jsb(struct meta *m, uint64_t *tail_seq, uint64_t *tail_block)
{
	struct iomapfs_jsb *jsb = m->j_scratch;
	const char *why;
	int err;

	err = blk_rw_sync(m->dev, REQ_OP_READ, jsb, IOMAPFS_BLOCK_SIZE,
			  m->sb.journal_start << IOMAPFS_BLOCK_SHIFT);
	if (err)
		return err;
	why = meta_block_problem(m, jsb, IOMAPFS_JSB_MAGIC, m->sb.journal_start);
	if (!why && (jsb->tail_block < 1 || jsb->tail_block > m->j_cap))
		why = "tail outside the journal";
	if (why) {
		fprintf(stderr, "iomapfs: journal superblock (block %llu): %s\n",
			(unsigned long long)m->sb.journal_start, why);
		return -EUCLEAN;
	}
	*tail_seq = jsb->tail_seq;
	*tail_block = jsb->tail_block;
	return 0;
}

static int replay_apply(struct meta *m, struct replay *r, uint64_t seq, uint64_t head)
{
	size_t n = r->nr_h;
	int err;

	n = replay_dedup(r->h, n);
	err = write_home(m, r->h, n);
	if (!err)
		err = write_jsb(m, seq, head);
	return err;
}

/*
 * Mount-time replay.  With @write false (read-only, fsck -n, no_replay)
 * nothing is written: the committed images become dirty buffers instead
 * (replay_in_memory).  With @salvage (fsck) a corrupt journal superblock
 * is reported and the log ignored rather than failing the mount.
 * Returns the number of transactions found, or -errno.
 */
int meta_journal_replay(struct meta *m, bool write, bool salvage)
{
	uint64_t seq, pos, len, first_seq, nr = 0, used = 0;
	struct replay r = { .m = m };
	int err;

	m->j_cap = m->sb.journal_blocks - 1;
	err = read_jsb(m, &seq, &pos);
	if (err == -EUCLEAN && salvage) {
		/* fsck must be able to mount to repair: start an empty log
		 * where the superblock says; the first checkpoint rewrites
		 * the journal superblock. */
		fprintf(stderr, "iomapfs: journal ignored; its uncheckpointed "
			"transactions (if any) are lost\n");
		m->j_head = 1;
		atomic_store(&m->running_seq, max_t(uint64_t, m->sb.journal_seq, 1));
		atomic_store(&m->durable_seq, atomic_load(&m->running_seq) - 1);
		return 0;
	}
	if (err)
		return err;
	first_seq = seq;
	r.area = aligned_alloc(IOMAPFS_BLOCK_SIZE, m->sb.journal_blocks * IOMAPFS_BLOCK_SIZE);
	if (!r.area)
		return -ENOMEM;
	/* The common case, a clean journal, costs one block read. */
	err = blk_rw_sync(m->dev, REQ_OP_READ, jblock(&r, pos), IOMAPFS_BLOCK_SIZE,
			  (m->sb.journal_start + pos) << IOMAPFS_BLOCK_SHIFT);
	if (!err && jdesc_ok(&r, pos, seq))
		err = blk_rw_sync(m->dev, REQ_OP_READ, r.area,
				  m->sb.journal_blocks * IOMAPFS_BLOCK_SIZE,
				  m->sb.journal_start << IOMAPFS_BLOCK_SHIFT);
	while (!err && jdesc_ok(&r, pos, seq) && (len = replay_check_txn(&r, pos, seq)) &&
	       used + len <= m->j_cap) {
		replay_collect(&r, pos);
		pos = jpos_advance(m, pos, len);
		used += len;
		seq++;
		nr++;
	}
	if (!err && nr && write) {
		fprintf(stderr, "iomapfs: replaying %llu journal transaction(s) %llu..%llu\n",
			(unsigned long long)nr, (unsigned long long)first_seq,
			(unsigned long long)(seq - 1));
		err = replay_apply(m, &r, seq, pos);
		atomic_fetch_add(&m->st_replayed, nr);
	} else if (!err && nr) {
		fprintf(stderr, "iomapfs: journal holds %llu committed transaction(s): "
			"applied in memory only\n", (unsigned long long)nr);
		replay_in_memory(m, &r);
		/* New commits go after the old log, so a torn first commit
		 * cannot take the committed transactions with it. */
		m->j_used = used;
	}
	free(r.area);
	kfree(r.h);
	if (err)
		return err;
	m->j_head = pos;
	atomic_store(&m->running_seq, seq);
	atomic_store(&m->durable_seq, seq - 1);
	return nr;
}
