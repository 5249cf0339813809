// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fsck walk of the B+tree: meta_check_tree() visits every node from the
 * root, checks the invariants listed in btree.c (key order within a node
 * and across siblings, a parent's key equal to its child's first key, no
 * empty non-root node, levels decreasing by one) plus each leaf's value
 * area, marks every node in the caller's used-block bitmap (a block
 * referenced twice is a problem), and hands every item to the caller.
 * Problems are reported on stderr and counted; the walk never modifies
 * the tree.
 *
 * It runs with no writer beside it: fsck's own handle (fsck is single
 * threaded), or the metadata lock for writing, which it takes itself when
 * the caller holds neither.
 */
#include "btree_internal.h"

#include <stdarg.h>

/* ---- fsck: the whole-tree walk ---- */

struct tree_check {
	struct meta	*m;
	uint8_t		*used;
	void		(*item)(void *ctx, const struct iomapfs_key *key,
				const void *val, uint32_t len);
	void		*ctx;
	long		problems;
	/* The last key handed to ->item: items go out in strictly
	 * increasing order, whatever the nodes hold. */
	struct iomapfs_key last;
	bool		have_last;
};

static void tc_problem(struct tree_check *tc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void tc_problem(struct tree_check *tc, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	tc->problems++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	iomapfs_err("B+tree: %s", msg);
}

/* Leaf body: key order, packed values, bounds; report every item. */
static void check_leaf(struct tree_check *tc, struct mbuf *b,
		       const struct iomapfs_key *hi)
{
	unsigned long long blk = b->blkno;
	uint32_t vbytes = 0;

	for (int i = 0; i < nh(b)->nritems; i++) {
		struct iomapfs_leaf_item *it = litem(b, i);

		if (hi && meta_key_cmp(&it->key, hi) >= 0)
			tc_problem(tc, "leaf %llu: key beyond the parent's bound at slot %d", blk, i);
		if (it->val_off < nh(b)->free_end || it->val_len > IOMAPFS_ITEM_MAX ||
		    it->val_off + it->val_len > IOMAPFS_BLOCK_SIZE) {
			tc_problem(tc, "leaf %llu: value of slot %d out of bounds", blk, i);
			continue;
		}
		vbytes += it->val_len;
		/* Out of order within the leaf or against an earlier leaf
		 * (whose parent keys lied): reported, and not handed on, so
		 * the caller sees each key once and in order. */
		if (tc->have_last && meta_key_cmp(&tc->last, &it->key) >= 0) {
			tc_problem(tc, "leaf %llu: keys out of order at slot %d", blk, i);
			continue;
		}
		tc->last = it->key;
		tc->have_last = true;
		if (tc->item)
			tc->item(tc->ctx, &it->key, blk_ptr(b, it->val_off), it->val_len);
	}
	if (vbytes != IOMAPFS_BLOCK_SIZE - nh(b)->free_end)
		tc_problem(tc, "leaf %llu: value area holds %u bytes, items account for %u",
			   blk, IOMAPFS_BLOCK_SIZE - nh(b)->free_end, vbytes);
}

static void check_node(struct tree_check *tc, uint64_t blkno, int level,
		       const struct iomapfs_key *lo, const struct iomapfs_key *hi);

static void check_interior(struct tree_check *tc, struct mbuf *b, int level,
			   const struct iomapfs_key *hi)
{
	prefetch_children(tc->m, b, 0, PTRS_MAX);
	for (int i = 0; i < nh(b)->nritems; i++) {
		const struct iomapfs_key *next = i + 1 < nh(b)->nritems ? &nptr(b, i + 1)->key : hi;

		if (next && meta_key_cmp(&nptr(b, i)->key, next) >= 0)
			tc_problem(tc, "node %llu: keys out of order at slot %d",
				   (unsigned long long)b->blkno, i);
		check_node(tc, nptr(b, i)->blkno, level - 1, &nptr(b, i)->key, next);
	}
}

/* @lo: the parent's key for this node (its first key must equal it). */
static void check_node(struct tree_check *tc, uint64_t blkno, int level,
		       const struct iomapfs_key *lo, const struct iomapfs_key *hi)
{
	struct meta *m = tc->m;
	struct mbuf *b;

	if (blkno < m->alloc.data_start || blkno >= m->nr_blocks) {
		tc_problem(tc, "node %llu outside the data area", (unsigned long long)blkno);
		return;
	}
	if (tc->used[blkno / 8] >> (blkno % 8) & 1) {
		tc_problem(tc, "block %llu referenced twice", (unsigned long long)blkno);
		return;
	}
	tc->used[blkno / 8] |= 1u << (blkno % 8);
	b = read_node(m, blkno, level);
	if (IS_ERR(b)) {
		tc_problem(tc, "node %llu (level %d) unreadable or corrupt",
			   (unsigned long long)blkno, level);
		return;
	}
	if (!nh(b)->nritems && (lo || level))
		tc_problem(tc, "node %llu is empty", (unsigned long long)blkno);
	else if (lo && nh(b)->nritems && meta_key_cmp(node_first_key(b), lo))
		tc_problem(tc, "node %llu: first key differs from the parent's",
			   (unsigned long long)blkno);
	if (level)
		check_interior(tc, b, level, hi);
	else
		check_leaf(tc, b, hi);
	mbuf_put(m, b);
}

long meta_check_tree(struct meta *m, uint8_t *used,
		     void (*item)(void *ctx, const struct iomapfs_key *key,
				  const void *val, uint32_t len),
		     void *ctx)
{
	struct tree_check tc = { .m = m, .used = used, .item = item, .ctx = ctx };
	bool locked = !meta_may_modify(m);	/* fsck: single-threaded in its handle */

	if (locked)
		meta_lock(m);
	if (m->sb.tree_height < 1 || m->sb.tree_height > META_MAX_HEIGHT)
		tc_problem(&tc, "tree height %u out of range", m->sb.tree_height);
	else
		check_node(&tc, m->sb.root_node, m->sb.tree_height - 1, NULL, NULL);
	if (locked)
		meta_unlock(m);
	return tc.problems;
}
