/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to the B+tree (btree.c: search, insert, delete, iteration;
 * btree_check.c: the fsck walk): the node layout and the helpers both
 * read nodes with.  Everything here runs in a section, under the tree
 * lock (btree.c) or, for the fsck walk, with no writer running.
 */
#ifndef IOMAPFS_BTREE_INTERNAL_H
#define IOMAPFS_BTREE_INTERNAL_H

#include "meta_internal.h"

#define NODE_HDR	sizeof(struct iomapfs_node_hdr)
#define LEAF_SPACE	(IOMAPFS_BLOCK_SIZE - NODE_HDR)
#define ITEM_SZ		sizeof(struct iomapfs_leaf_item)
#define PTRS_MAX	((IOMAPFS_BLOCK_SIZE - NODE_HDR) / sizeof(struct iomapfs_node_ptr))
#define LEAF_ITEMS_MAX	(LEAF_SPACE / ITEM_SZ)

static inline struct iomapfs_node_hdr *nh(struct mbuf *b)
{
	return b->data;
}

static inline struct iomapfs_leaf_item *litem(struct mbuf *b, int i)
{
	return (struct iomapfs_leaf_item *)blk_ptr(b, NODE_HDR) + i;
}

static inline struct iomapfs_node_ptr *nptr(struct mbuf *b, int i)
{
	return (struct iomapfs_node_ptr *)blk_ptr(b, NODE_HDR) + i;
}

static inline const struct iomapfs_key *node_first_key(struct mbuf *b)
{
	return nh(b)->level ? &nptr(b, 0)->key : &litem(b, 0)->key;
}

/*
 * Read node @blkno, expected at @level, and check its header and (once per
 * read from disk) its value offsets.  The buffer, or ERR_PTR(-EUCLEAN) for
 * a node that fails the checks, or the read's error.
 */
struct mbuf *read_node(struct meta *m, uint64_t blkno, int level);
/* Batch-read up to @count children of @parent from slot @from. */
void prefetch_children(struct meta *m, struct mbuf *parent, int from, int count);

#endif /* IOMAPFS_BTREE_INTERNAL_H */
