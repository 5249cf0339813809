/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to the journal (journal.c: the lock, commit, checkpoint, the
 * replay window and the log thread; journal_replay.c: replay at mount and
 * the salvage of a corrupt journal superblock): what the two share.  The
 * rest of the engine sees the journal through meta_internal.h.
 */
#ifndef IOMAPFS_JOURNAL_INTERNAL_H
#define IOMAPFS_JOURNAL_INTERNAL_H

#include "meta_internal.h"

/* A block to write home: its number and the image to write there. */
struct home_blk {
	uint64_t	blkno;
	void		*data;
};

/* Journal position @k blocks after @pos, wrapping from the end of the
 * area back to 1 (position 0 is the jsb). */
static inline uint64_t jpos_advance(struct meta *m, uint64_t pos, uint64_t k)
{
	return 1 + (pos - 1 + k) % m->j_cap;
}

/* Write @n blocks home (sorting @h) and flush. */
int write_home(struct meta *m, struct home_blk *h, size_t n);
/* Write the journal superblock on its own and flush: it is the durable
 * tail when this returns 0. */
int write_jsb(struct meta *m, uint64_t tail_seq, uint64_t tail_block);
/* Append a transaction written at @pos, @len journal blocks, whose home
 * blocks are @h[0..n) to the replay window (m->j_txns). */
void window_add(struct meta *m, uint64_t first_seq, uint64_t last_seq,
		uint64_t pos, uint64_t len, const struct home_blk *h, size_t n);

#endif /* IOMAPFS_JOURNAL_INTERNAL_H */
