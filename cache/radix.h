/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A small radix tree keyed by folio index, with per-node mark bitmaps, the
 * part of the kernel's xarray the page cache needs: lookup, insert, erase,
 * and "find the next entry carrying mark M" that skips unmarked subtrees,
 * so dirty folios are found in index order without scanning clean ones.
 *
 * No locking of its own: the owner (cache_mapping.lock) serialises every
 * call.
 */
#ifndef IOMAPFS_CACHE_RADIX_H
#define IOMAPFS_CACHE_RADIX_H

#include <iomapfs/common.h>

#define RADIX_MAP_SHIFT	6
#define RADIX_SLOTS	(1u << RADIX_MAP_SHIFT)
#define RADIX_MARKS	2
#define RADIX_ANY	(-1)	/* radix_find(): any present entry */

struct radix_node {
	struct radix_node	*parent;
	uint8_t			shift;		/* index bits below this node's slots */
	uint8_t			offset;		/* slot in the parent */
	uint64_t		present;	/* bitmap of non-NULL slots */
	uint64_t		marks[RADIX_MARKS];	/* slot (or a descendant) marked */
	void			*slots[RADIX_SLOTS];
};

struct radix_tree {
	struct radix_node	*root;		/* NULL when empty */
	uint64_t		count;
};

void radix_init(struct radix_tree *t);
/* Frees the nodes (entries are the owner's). */
void radix_destroy(struct radix_tree *t);
void *radix_lookup(const struct radix_tree *t, uint64_t index);
/* 0, or -EEXIST when @index is taken. */
int radix_insert(struct radix_tree *t, uint64_t index, void *item);
/* Removes @index (and its marks); returns the entry or NULL. */
void *radix_erase(struct radix_tree *t, uint64_t index);
void radix_set_mark(struct radix_tree *t, uint64_t index, int mark);
void radix_clear_mark(struct radix_tree *t, uint64_t index, int mark);
bool radix_get_mark(const struct radix_tree *t, uint64_t index, int mark);
/*
 * The first entry with index in [*index, max] that carries @mark (or any
 * entry for RADIX_ANY); stores its index in *index.  NULL if none.
 */
void *radix_find(const struct radix_tree *t, uint64_t *index, uint64_t max,
		 int mark);
/*
 * Gang lookup of a contiguous run (find_get_pages_contig()): the entries
 * at @first, @first + 1, ... into @items, stopping at the first absent
 * index or after @nr.  One descent per leaf, not per entry.  Returns how
 * many it stored.
 */
unsigned radix_lookup_contig(const struct radix_tree *t, uint64_t first,
			     unsigned nr, void **items);

#endif /* IOMAPFS_CACHE_RADIX_H */
