// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Journal replay at mount, and the salvage of a corrupt journal superblock
 * (fsck).  journal.c writes the log; this file reads it back once, before
 * the first section, and leaves m->j_head, the sequence numbers and (for
 * an in-memory replay) the window as journal.c expects them.
 *
 * Replay walks from the jsb tail, re-applies every transaction whose
 * descriptors and commit block are intact and whose sequence numbers
 * follow, and stops at the first that is not (an older lap has smaller
 * sequence numbers).  Images are applied in log order, the last image of
 * each block winning (journal.c, "The tail is lazy").
 *
 * Threads: the mounting thread only, before the log thread starts.
 */
#include "journal_internal.h"

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
static size_t replay_in_memory(struct meta *m, struct replay *r)
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
	return n;	/* r->h[0..n) are the blocks, once each */
}

/*
 * Home blocks are validated before anything is applied: a superblock
 * image must pass meta_super_replay_problem(), and no image may go into
 * the journal itself (mkfs puts nothing there that a transaction logs).
 * A bad one fails the mount (fsck: an operational error) with nothing
 * written.
 */
static int replay_check_homes(struct replay *r)
{
	struct meta *m = r->m;
	const char *why = NULL;
	size_t i;

	for (i = 0; i < r->nr_h && !why; i++) {
		uint64_t b = r->h[i].blkno;

		if (b < 2)
			why = meta_super_replay_problem(m, r->h[i].data);
		else if (b >= m->sb.journal_start &&
			 b < m->sb.journal_start + m->sb.journal_blocks)
			why = "home block inside the journal";
	}
	if (!why)
		return 0;
	fprintf(stderr, "iomapfs: journal image for block %llu: %s; not replaying\n",
		(unsigned long long)r->h[i - 1].blkno, why);
	return -EUCLEAN;
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
		iomapfs_err("journal superblock (block %llu): %s",
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
 * The highest sequence number of any transaction block in the journal
 * area (0 if none or unreadable): a salvaged log starts after it, so that
 * no stale transaction can ever follow the new ones at replay.
 */
static uint64_t journal_max_seq(struct meta *m)
{
	uint8_t *area = aligned_alloc(IOMAPFS_BLOCK_SIZE,
				      m->sb.journal_blocks * IOMAPFS_BLOCK_SIZE);
	uint64_t max = 0;

	if (area && !blk_rw_sync(m->dev, REQ_OP_READ, area,
				 m->sb.journal_blocks * IOMAPFS_BLOCK_SIZE,
				 m->sb.journal_start << IOMAPFS_BLOCK_SHIFT)) {
		for (uint64_t pos = 1; pos <= m->j_cap; pos++) {
			const struct iomapfs_blkhdr *h =
				(const void *)(area + pos * IOMAPFS_BLOCK_SIZE);

			bool txn_block = h->magic == IOMAPFS_JDESC_MAGIC ||
					 h->magic == IOMAPFS_JCOMMIT_MAGIC;

			if (txn_block && !memcmp(h->uuid, m->sb.uuid, sizeof(h->uuid)))
				max = max_t(uint64_t, max, h->seq);
		}
	}
	free(area);
	return max;
}

/* Sequence numbers from @seq on: nothing committed before is pending. */
static void journal_set_seq(struct meta *m, uint64_t seq)
{
	atomic_store(&m->running_seq, seq);
	atomic_store(&m->durable_seq, seq - 1);
	atomic_store(&m->j_home_seq, seq - 1);
	atomic_store(&m->j_ckpt_seq, seq - 1);
}

/*
 * The journal superblock is corrupt and the caller salvages (fsck): start
 * an empty log at position 1 after every sequence number in the area, and
 * write its superblock now on a writable mount.
 */
static int journal_salvage(struct meta *m)
{
	uint64_t seq = max_t(uint64_t, m->sb.journal_seq, journal_max_seq(m) + 1);

	iomapfs_warn("journal ignored; its uncheckpointed "
		"transactions (if any) are lost");
	seq = max_t(uint64_t, seq, 1);
	m->j_head = 1;
	m->j_tail_seq = 0;	/* no valid tail on disk */
	m->j_tail_pos = 0;
	m->j_salvaged = true;
	journal_set_seq(m, seq);
	return m->readonly ? 0 : write_jsb(m, seq, 1);
}

bool meta_journal_was_salvaged(struct meta *m)
{
	return m->j_salvaged;
}

/*
 * Mount-time replay.  With @write false (read-only, fsck -n, no_replay)
 * nothing is written: the committed images become dirty buffers instead
 * (replay_in_memory), and the old log stays in the window until the first
 * commit has written them home.  With @salvage (fsck) a corrupt journal
 * superblock is reported and the log ignored rather than failing the
 * mount.  Returns the number of transactions found, or -errno.
 */
int meta_journal_replay(struct meta *m, bool write, bool salvage)
{
	uint64_t seq, pos, len, first_seq, tail_pos, nr = 0, used = 0;
	struct replay r = { .m = m };
	int err;

	m->j_cap = m->sb.journal_blocks - 1;
	err = read_jsb(m, &seq, &pos);
	if (err == -EUCLEAN && salvage)
		return journal_salvage(m);
	if (err)
		return err;
	first_seq = seq;
	tail_pos = pos;
	m->j_tail_seq = seq;
	m->j_tail_pos = pos;
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
	if (!err && nr)
		err = replay_check_homes(&r);
	if (!err)
		journal_set_seq(m, seq);
	if (!err && nr && write) {
		iomapfs_info("replaying %llu journal transaction(s) %llu..%llu",
			(unsigned long long)nr, (unsigned long long)first_seq,
			(unsigned long long)(seq - 1));
		err = replay_apply(m, &r, seq, pos);
		atomic_fetch_add(&m->st_replayed, nr);
	} else if (!err && nr) {
		size_t n;

		iomapfs_warn("journal holds %llu committed transaction(s): "
			"applied in memory only", (unsigned long long)nr);
		n = replay_in_memory(m, &r);
		/* New commits go after the old log, so a torn first commit
		 * cannot take the committed transactions with it: the old log
		 * stays in the window until the first commit wrote it home. */
		window_add(m, first_seq, seq - 1, tail_pos, used, r.h, n);
		atomic_store(&m->j_home_seq, first_seq - 1);
		atomic_store(&m->j_ckpt_seq, first_seq - 1);
	}
	free(r.area);
	kfree(r.h);
	if (err)
		return err;
	m->j_head = pos;
	return nr;
}
