// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The B+tree of items keyed by (objectid, type, offset), modified in place
 * under the journal (jbd2-style physical logging, not btrfs COW).
 *
 * Leaves hold struct iomapfs_leaf_item entries growing up from the header
 * and their values growing down from the end of the block; values are kept
 * packed (a removal slides the values below it up), so the value area is
 * exactly [free_end, 4096).  Interior nodes hold (key, child) pairs where
 * key[i] is the smallest key in child i.
 *
 * Invariants (checked by meta_check_tree, btree_check.c):
 *  1. keys strictly increase within a node and across siblings;
 *  2. a parent's key[i] equals the first key of child i;
 *  3. every non-root node has at least one item;
 *  4. levels decrease by one per step down; leaves are level 0.
 *
 * Insert splits a full leaf into two (by bytes, around the middle) and
 * pushes the new separator up, splitting interior nodes as needed and
 * growing a new root at the top.  Delete frees an empty node, merges an
 * underfull node (< 1/4 used) with a sibling when both fit in one block,
 * and collapses a root with a single child.  New nodes come from
 * alloc_extent(meta=true); a section checks up front that the tree can
 * grow by a full path, so a split never fails for lack of space.
 *
 * Everything here runs in a section; lookups and iteration also in a read
 * section, where they share the nodes with other readers and change
 * nothing but the buffer cache (buf.c).  Concurrent handles share the
 * tree: each public call holds the tree lock (exclusive for a change,
 * shared for a lookup, or the read section's hold), so a call is atomic;
 * what keeps a handle's several calls on one object atomic is the
 * caller's lock on that object (meta.h).
 */
#include "btree_internal.h"

struct btree_path {
	int		height;
	struct mbuf	*nodes[META_MAX_HEIGHT];	/* [0] is the leaf */
	int		slots[META_MAX_HEIGHT];
};

struct leaf_ent {
	struct iomapfs_key	key;
	const void		*val;
	uint16_t		len;
};

static inline unsigned leaf_used(struct mbuf *b)
{
	return nh(b)->nritems * ITEM_SZ + (IOMAPFS_BLOCK_SIZE - nh(b)->free_end);
}

static inline unsigned leaf_free(struct mbuf *b)
{
	return LEAF_SPACE - leaf_used(b);
}

int meta_key_cmp(const struct iomapfs_key *a, const struct iomapfs_key *b)
{
	if (a->objectid != b->objectid)
		return a->objectid < b->objectid ? -1 : 1;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	return 0;
}

void meta_key_next(struct iomapfs_key *key)
{
	if (++key->offset)
		return;
	if (++key->type)
		return;
	key->objectid++;
}

static void path_release(struct meta *m, struct btree_path *p)
{
	for (int l = 0; l < p->height; l++) {
		if (p->nodes[l])
			mbuf_put(m, p->nodes[l]);
		p->nodes[l] = NULL;
	}
}

/* Every value inside the value area, and the values packed: no two
 * overlap and together they fill [free_end, 4096) exactly.  Checked once
 * per read from disk, so a node with a valid checksum but bad contents
 * cannot send a memcpy outside the block; the packing matters because
 * leaf_remove_at() slides the values below a removed one up by its length,
 * and an overlapping value would end up below free_end (a fuzzed image
 * made fsck's repair memmove a negative length). */
static bool leaf_values_sane(struct mbuf *b)
{
	struct iomapfs_node_hdr *h = nh(b);
	uint64_t used[IOMAPFS_BLOCK_SIZE / 64] = { 0 };
	uint32_t total = 0;

	for (int i = 0; i < h->nritems; i++) {
		struct iomapfs_leaf_item *it = litem(b, i);

		if (it->val_off < h->free_end || it->val_len > IOMAPFS_ITEM_MAX ||
		    it->val_off + it->val_len > IOMAPFS_BLOCK_SIZE)
			return false;
		for (uint32_t o = it->val_off; o < it->val_off + it->val_len; o++) {
			if (used[o / 64] & (1ull << (o % 64)))
				return false;
			used[o / 64] |= 1ull << (o % 64);
		}
		total += it->val_len;
	}
	return total == IOMAPFS_BLOCK_SIZE - h->free_end;
}

static bool node_sane(struct mbuf *b, int level)
{
	struct iomapfs_node_hdr *h = nh(b);

	if (h->level != level)
		return false;
	if (level)	/* only a root leaf may be empty (invariant 3) */
		return h->nritems >= 1 && h->nritems <= PTRS_MAX;
	if (h->free_end > IOMAPFS_BLOCK_SIZE || NODE_HDR + h->nritems * ITEM_SZ > h->free_end)
		return false;
	/* Concurrent readers may both check: the same answer, so relaxed. */
	if (!atomic_load_explicit(&b->checked, memory_order_relaxed) &&
	    !leaf_values_sane(b))
		return false;
	atomic_store_explicit(&b->checked, true, memory_order_relaxed);
	return true;
}

struct mbuf *read_node(struct meta *m, uint64_t blkno, int level)
{
	struct mbuf *b;

	/* A child pointer is disk data: a "node" in the superblocks, the
	 * journal or the bitmap would be written home there when changed. */
	if (blkno < m->sb.bitmap_start + m->sb.bitmap_blocks) {
		fprintf(stderr, "iomapfs: B+tree node %llu: outside the data area\n",
			(unsigned long long)blkno);
		return ERR_PTR(-EUCLEAN);
	}
	b = mbuf_read(m, blkno, IOMAPFS_BTREE_MAGIC);

	if (IS_ERR(b))
		return b;
	if (!node_sane(b, level)) {
		iomapfs_err("B+tree node %llu: bad level, item count or value offsets",
			(unsigned long long)blkno);
		mbuf_put(m, b);
		return ERR_PTR(-EUCLEAN);
	}
	return b;
}

/* Last slot whose key <= @key (0 if none): the child to descend into. */
static int interior_slot(struct mbuf *b, const struct iomapfs_key *key)
{
	int lo = 0, hi = nh(b)->nritems - 1;

	while (lo < hi) {
		int mid = (lo + hi + 1) / 2;

		if (meta_key_cmp(&nptr(b, mid)->key, key) <= 0)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* First slot whose key >= @key; *found if equal. */
static int leaf_slot(struct mbuf *b, const struct iomapfs_key *key, bool *found)
{
	int lo = 0, hi = nh(b)->nritems;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (meta_key_cmp(&litem(b, mid)->key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < nh(b)->nritems && !meta_key_cmp(&litem(b, lo)->key, key);
	return lo;
}

/* Walk root to leaf.  Returns 1 if @key exists, 0 if not, or -errno. */
static int btree_search(struct meta *m, const struct iomapfs_key *key,
			struct btree_path *p)
{
	uint64_t blk = m->sb.root_node;
	bool found = false;

	memset(p, 0, sizeof(*p));
	p->height = m->sb.tree_height;
	if (WARN_ON_ONCE(p->height < 1 || p->height > META_MAX_HEIGHT))
		return -EIO;
	for (int l = p->height - 1; l >= 0; l--) {
		struct mbuf *b = read_node(m, blk, l);

		if (IS_ERR(b)) {
			path_release(m, p);
			return PTR_ERR(b);
		}
		p->nodes[l] = b;
		if (l) {
			if (WARN_ON_ONCE(!nh(b)->nritems)) {
				path_release(m, p);
				return -EIO;
			}
			p->slots[l] = interior_slot(b, key);
			blk = nptr(b, p->slots[l])->blkno;
		} else {
			p->slots[0] = leaf_slot(b, key, &found);
		}
	}
	return found;
}

static void leaf_insert_at(struct mbuf *b, int slot, const struct iomapfs_key *key,
			   const void *val, uint32_t len)
{
	struct iomapfs_node_hdr *h = nh(b);
	struct iomapfs_leaf_item *it = litem(b, slot);

	memmove(it + 1, it, (h->nritems - slot) * ITEM_SZ);
	h->free_end -= len;
	memcpy(blk_ptr(b, h->free_end), val, len);
	memset(it, 0, sizeof(*it));
	it->key = *key;
	it->val_off = h->free_end;
	it->val_len = len;
	h->nritems++;
}

static void leaf_remove_at(struct mbuf *b, int slot)
{
	struct iomapfs_node_hdr *h = nh(b);
	struct iomapfs_leaf_item *it = litem(b, slot);
	uint16_t off = it->val_off, len = it->val_len;

	/* Slide the values below this one up by @len to keep them packed. */
	memmove(blk_ptr(b, h->free_end + len), blk_ptr(b, h->free_end), off - h->free_end);
	h->free_end += len;
	memmove(it, it + 1, (h->nritems - slot - 1) * ITEM_SZ);
	h->nritems--;
	/* "<=": an empty value may sit at the removed one's offset and must
	 * stay inside [free_end, 4096) too. */
	for (int i = 0; i < h->nritems; i++)
		if (litem(b, i)->val_off <= off)
			litem(b, i)->val_off += len;
}

static void leaf_rebuild(struct mbuf *b, const struct leaf_ent *e, int n)
{
	struct iomapfs_node_hdr *h = nh(b);

	h->nritems = 0;
	h->free_end = IOMAPFS_BLOCK_SIZE;
	for (int i = 0; i < n; i++)
		leaf_insert_at(b, i, &e[i].key, e[i].val, e[i].len);
}

static void init_node(struct meta *m, struct mbuf *b, int level)
{
	struct iomapfs_node_hdr *h = nh(b);

	meta_fill_blkhdr(m, b->data, b->blkno, IOMAPFS_BTREE_MAGIC, META_TREE_ID);
	h->level = level;
	h->nritems = 0;
	h->free_end = IOMAPFS_BLOCK_SIZE;
}

static struct mbuf *new_node(struct meta *m, int level)
{
	uint64_t start, len;
	struct mbuf *b;
	int err;

	err = alloc_extent(m, 0, 1, 1, true, &start, &len);
	if (err)
		return ERR_PTR(err);
	b = mbuf_new(m, start);
	init_node(m, b, level);
	mbuf_mark_dirty(m, b);
	return b;
}

static int free_node(struct meta *m, struct mbuf *b)
{
	return free_extent(m, b->blkno, 1);
}

/* The first key of the node at @level changed: update the parents' keys. */
static void fix_keys(struct meta *m, struct btree_path *p, int level,
		     const struct iomapfs_key *key)
{
	for (int l = level; l < p->height; l++) {
		struct mbuf *b = p->nodes[l];

		nptr(b, p->slots[l])->key = *key;
		mbuf_mark_dirty(m, b);
		if (p->slots[l])
			break;
	}
}

static int insert_ptr(struct meta *m, struct btree_path *p, int level,
		      const struct iomapfs_key *key, uint64_t blkno);

static int grow_root(struct meta *m, struct btree_path *p,
		     const struct iomapfs_key *key, uint64_t blkno)
{
	struct mbuf *old = p->nodes[p->height - 1];
	struct mbuf *root = new_node(m, p->height);

	if (IS_ERR(root))
		return PTR_ERR(root);
	nptr(root, 0)->key = *node_first_key(old);
	nptr(root, 0)->blkno = old->blkno;
	nptr(root, 1)->key = *key;
	nptr(root, 1)->blkno = blkno;
	nh(root)->nritems = 2;
	m->sb.root_node = root->blkno;
	m->sb.tree_height++;
	m->sb_dirty = true;
	mbuf_put(m, root);
	return 0;
}

static int split_interior(struct meta *m, struct btree_path *p, int level,
			  int pos, const struct iomapfs_key *key, uint64_t blkno)
{
	struct iomapfs_node_ptr all[PTRS_MAX + 1];
	struct mbuf *b = p->nodes[level], *right;
	int n = nh(b)->nritems, half = (n + 1) / 2, err;
	struct iomapfs_key rkey;

	right = new_node(m, level);
	if (IS_ERR(right))
		return PTR_ERR(right);
	memcpy(all, nptr(b, 0), pos * sizeof(all[0]));
	memset(&all[pos], 0, sizeof(all[pos]));
	all[pos].key = *key;
	all[pos].blkno = blkno;
	memcpy(&all[pos + 1], nptr(b, pos), (n - pos) * sizeof(all[0]));
	memcpy(nptr(b, 0), all, half * sizeof(all[0]));
	nh(b)->nritems = half;
	memcpy(nptr(right, 0), &all[half], (n + 1 - half) * sizeof(all[0]));
	nh(right)->nritems = n + 1 - half;
	mbuf_mark_dirty(m, b);
	rkey = nptr(right, 0)->key;
	err = insert_ptr(m, p, level + 1, &rkey, right->blkno);
	mbuf_put(m, right);
	return err;
}

/* Insert (key, blkno) after slot p->slots[level] of the node at @level. */
static int insert_ptr(struct meta *m, struct btree_path *p, int level,
		      const struct iomapfs_key *key, uint64_t blkno)
{
	struct mbuf *b;
	int pos, n;

	if (level == p->height)
		return grow_root(m, p, key, blkno);
	b = p->nodes[level];
	pos = p->slots[level] + 1;
	n = nh(b)->nritems;
	if (n >= PTRS_MAX)
		return split_interior(m, p, level, pos, key, blkno);
	memmove(nptr(b, pos + 1), nptr(b, pos), (n - pos) * sizeof(struct iomapfs_node_ptr));
	memset(nptr(b, pos), 0, sizeof(struct iomapfs_node_ptr));
	nptr(b, pos)->key = *key;
	nptr(b, pos)->blkno = blkno;
	nh(b)->nritems++;
	mbuf_mark_dirty(m, b);
	return 0;
}

/* Where to cut @n entries so both halves fit, as even as possible. */
static int split_point(const struct leaf_ent *e, int n)
{
	unsigned total = 0, left = 0, best_diff = ~0u;
	int best = 1;

	for (int i = 0; i < n; i++)
		total += ITEM_SZ + e[i].len;
	for (int k = 1; k < n; k++) {
		unsigned diff;

		left += ITEM_SZ + e[k - 1].len;
		if (left > LEAF_SPACE)
			break;
		if (total - left > LEAF_SPACE)
			continue;
		diff = left > total - left ? 2 * left - total : total - 2 * left;
		if (diff < best_diff) {
			best_diff = diff;
			best = k;
		}
	}
	return best;
}

static int split_leaf_insert(struct meta *m, struct btree_path *p, int slot,
			     const struct iomapfs_key *key, const void *val, uint32_t len)
{
	_Alignas(64) uint8_t copy[IOMAPFS_BLOCK_SIZE];
	struct leaf_ent e[LEAF_ITEMS_MAX + 1];
	struct mbuf *leaf = p->nodes[0], *right;
	int n = nh(leaf)->nritems, k, err;
	struct iomapfs_key rkey;

	right = new_node(m, 0);
	if (IS_ERR(right))
		return PTR_ERR(right);
	memcpy(copy, leaf->data, sizeof(copy));
	for (int i = 0, j = 0; i <= n; i++) {
		const struct iomapfs_leaf_item *it;

		if (i == slot) {
			e[i] = (struct leaf_ent){ *key, val, len };
			continue;
		}
		it = (const struct iomapfs_leaf_item *)(copy + NODE_HDR) + j++;
		e[i] = (struct leaf_ent){ it->key, copy + it->val_off, it->val_len };
	}
	k = split_point(e, n + 1);
	leaf_rebuild(leaf, e, k);
	leaf_rebuild(right, e + k, n + 1 - k);
	mbuf_mark_dirty(m, leaf);
	if (slot == 0)
		fix_keys(m, p, 1, key);
	rkey = e[k].key;
	err = insert_ptr(m, p, 1, &rkey, right->blkno);
	mbuf_put(m, right);
	return err;
}

/* Refuse early what could fail halfway: a section has no rollback. */
static int btree_precheck(struct meta *m, bool modify)
{
	if (atomic_load(&m->shutdown))
		return -EIO;
	if (WARN_ON_ONCE(!(modify ? meta_may_modify(m) : meta_lock_held_any(m))))
		return -EIO;
	if (!modify)
		return 0;
	if (m->readonly)
		return -EROFS;
	/* Never the blocks reserved for other files' dirty data, nor what
	 * other handles reserved with meta_check_growth(). */
	if (!meta_tree_may_grow(m, (uint64_t)m->sb.tree_height + 1))
		return -ENOSPC;
	return 0;
}

static int __btree_insert(struct meta *m, const struct iomapfs_key *key,
		 const void *val, uint32_t len)
{
	struct btree_path p;
	struct mbuf *leaf;
	int err, slot;

	if (len > IOMAPFS_ITEM_MAX)
		return -EINVAL;
	err = btree_precheck(m, true);
	if (err)
		return err;
	err = btree_search(m, key, &p);
	if (err < 0)
		return err;
	leaf = p.nodes[0];
	slot = p.slots[0];
	if (err == 1) {
		if (litem(leaf, slot)->val_len == len) {
			memcpy(blk_ptr(leaf, litem(leaf, slot)->val_off), val, len);
			mbuf_mark_dirty(m, leaf);
			path_release(m, &p);
			return 0;
		}
		leaf_remove_at(leaf, slot);
	}
	mbuf_mark_dirty(m, leaf);
	if (leaf_free(leaf) >= ITEM_SZ + len) {
		leaf_insert_at(leaf, slot, key, val, len);
		if (slot == 0)
			fix_keys(m, &p, 1, key);
		err = 0;
	} else {
		err = split_leaf_insert(m, &p, slot, key, val, len);
	}
	path_release(m, &p);
	return err;
}

static int remove_ptr(struct meta *m, struct btree_path *p, int level, int slot);

/* Merge the node at @level with a sibling if the two fit in one block. */
static int try_merge(struct meta *m, struct btree_path *p, int level)
{
	struct mbuf *parent = p->nodes[level + 1], *b = p->nodes[level];
	int ps = p->slots[level + 1], rslot, err;
	struct mbuf *left, *right, *sib;
	bool fits;

	if (ps + 1 < nh(parent)->nritems)
		rslot = ps + 1;
	else if (ps > 0)
		rslot = ps;
	else
		return 0;
	sib = read_node(m, nptr(parent, rslot == ps ? ps - 1 : ps + 1)->blkno, level);
	if (IS_ERR(sib))
		return PTR_ERR(sib);
	left = rslot == ps ? sib : b;
	right = rslot == ps ? b : sib;
	if (level)
		fits = nh(left)->nritems + nh(right)->nritems <= PTRS_MAX;
	else
		fits = leaf_used(left) + leaf_used(right) <= LEAF_SPACE;
	if (!fits) {
		mbuf_put(m, sib);
		return 0;
	}
	for (int i = 0; i < nh(right)->nritems; i++) {
		int n = nh(left)->nritems;

		if (level) {
			*nptr(left, n) = *nptr(right, i);
			nh(left)->nritems++;
		} else {
			struct iomapfs_leaf_item *it = litem(right, i);

			leaf_insert_at(left, n, &it->key, blk_ptr(right, it->val_off), it->val_len);
		}
	}
	mbuf_mark_dirty(m, left);
	err = free_node(m, right);
	mbuf_put(m, sib);
	return err ? err : remove_ptr(m, p, level + 1, rslot);
}

/* Root handling after a removal: collapse a single-child root. */
static int shrink_root(struct meta *m, struct btree_path *p)
{
	struct mbuf *root = p->nodes[p->height - 1];

	if (p->height == 1 || nh(root)->nritems > 1)
		return 0;
	if (nh(root)->nritems == 0) {
		/* Cannot happen with the merge rules; repair it anyway. */
		init_node(m, root, 0);
		mbuf_mark_dirty(m, root);
		m->sb.tree_height = 1;
		m->sb_dirty = true;
		return 0;
	}
	m->sb.root_node = nptr(root, 0)->blkno;
	m->sb.tree_height--;
	m->sb_dirty = true;
	return free_node(m, root);
}

/* The node at @level lost the entry at @slot: fix keys, free or merge. */
static int after_remove(struct meta *m, struct btree_path *p, int level, int slot)
{
	struct mbuf *b = p->nodes[level];
	int n = nh(b)->nritems;
	bool underfull;

	if (level == p->height - 1)
		return shrink_root(m, p);
	if (n == 0) {
		int err = free_node(m, b);

		return err ? err : remove_ptr(m, p, level + 1, p->slots[level + 1]);
	}
	if (slot == 0)
		fix_keys(m, p, level + 1, node_first_key(b));
	underfull = level ? n < (int)PTRS_MAX / 4 : leaf_used(b) < LEAF_SPACE / 4;
	return underfull ? try_merge(m, p, level) : 0;
}

static int remove_ptr(struct meta *m, struct btree_path *p, int level, int slot)
{
	struct mbuf *b = p->nodes[level];
	int n = nh(b)->nritems;

	memmove(nptr(b, slot), nptr(b, slot + 1), (n - slot - 1) * sizeof(struct iomapfs_node_ptr));
	nh(b)->nritems--;
	mbuf_mark_dirty(m, b);
	return after_remove(m, p, level, slot);
}

static int delete_at(struct meta *m, struct btree_path *p)
{
	leaf_remove_at(p->nodes[0], p->slots[0]);
	mbuf_mark_dirty(m, p->nodes[0]);
	return after_remove(m, p, 0, p->slots[0]);
}

static int __btree_delete(struct meta *m, const struct iomapfs_key *key)
{
	struct btree_path p;
	int err = btree_precheck(m, true);

	if (err == -ENOSPC)	/* a delete only frees, except a merge's nothing */
		err = 0;
	if (err)
		return err;
	err = btree_search(m, key, &p);
	if (err == 0)
		err = -ENOENT;
	else if (err == 1)
		err = delete_at(m, &p);
	path_release(m, &p);
	return err;
}

static void copy_out(struct mbuf *leaf, int slot, void *val, uint32_t *len)
{
	struct iomapfs_leaf_item *it = litem(leaf, slot);

	if (!len)
		return;
	if (val)
		memcpy(val, blk_ptr(leaf, it->val_off), min_t(uint32_t, *len, it->val_len));
	*len = it->val_len;
}

static int __btree_lookup(struct meta *m, const struct iomapfs_key *key, void *val,
		 uint32_t *len)
{
	struct btree_path p;
	int err = btree_precheck(m, false);

	if (err)
		return err;
	err = btree_search(m, key, &p);
	if (err == 1) {
		copy_out(p.nodes[0], p.slots[0], val, len);
		err = 0;
	} else if (err == 0) {
		err = -ENOENT;
	}
	path_release(m, &p);
	return err;
}

#define LEAF_READAHEAD	16	/* leaves read together when iteration leaves the cache */

/* Batch-read up to @count children of @parent from slot @from. */
void prefetch_children(struct meta *m, struct mbuf *parent, int from, int count)
{
	uint64_t blk[PTRS_MAX];
	int n = 0;

	for (int i = from; i < nh(parent)->nritems && n < count; i++)
		blk[n++] = nptr(parent, i)->blkno;
	mbuf_readahead(m, blk, n, IOMAPFS_BTREE_MAGIC);
}

/* Move the path to the first item of the next leaf.  0 or -ENOENT. */
static int next_leaf(struct meta *m, struct btree_path *p)
{
	int l;

	for (l = 1; l < p->height; l++)
		if (p->slots[l] + 1 < nh(p->nodes[l])->nritems)
			break;
	if (l >= p->height)
		return -ENOENT;
	p->slots[l]++;
	for (l--; l >= 0; l--) {
		struct mbuf *b;

		if (l == 0)
			prefetch_children(m, p->nodes[1], p->slots[1], LEAF_READAHEAD);
		b = read_node(m, nptr(p->nodes[l + 1], p->slots[l + 1])->blkno, l);

		if (IS_ERR(b))
			return PTR_ERR(b);
		mbuf_put(m, p->nodes[l]);
		p->nodes[l] = b;
		p->slots[l] = 0;
	}
	return 0;
}

/* Position @p at the first item >= @key; -ENOENT past the end. */
static int search_ge(struct meta *m, const struct iomapfs_key *key, struct btree_path *p)
{
	int err = btree_search(m, key, p);

	if (err < 0)
		return err;
	while (p->slots[0] >= nh(p->nodes[0])->nritems) {
		err = next_leaf(m, p);
		if (err) {
			path_release(m, p);
			return err;
		}
	}
	return 0;
}

static int __btree_next(struct meta *m, struct iomapfs_key *key,
	       const struct iomapfs_key *max, void *val, uint32_t *len)
{
	struct btree_path p;
	struct iomapfs_leaf_item *it;
	int err = btree_precheck(m, false);

	if (err)
		return err;
	err = search_ge(m, key, &p);
	if (err)
		return err;
	it = litem(p.nodes[0], p.slots[0]);
	if (unlikely(meta_key_cmp(&it->key, key) < 0)) {
		/*
		 * Keys out of order on disk (a crafted or corrupt tree): the
		 * item found lies before the one asked for, and a caller that
		 * steps on from it would walk the same items for ever.
		 */
		iomapfs_warn("B+tree leaf %llu: keys out of order",
			     (unsigned long long)p.nodes[0]->blkno);
		err = -EUCLEAN;
	} else if (meta_key_cmp(&it->key, max) > 0) {
		err = -ENOENT;
	} else {
		*key = it->key;
		copy_out(p.nodes[0], p.slots[0], val, len);
	}
	path_release(m, &p);
	return err;
}

static long __btree_delete_range(struct meta *m, const struct iomapfs_key *lo,
			const struct iomapfs_key *hi)
{
	struct iomapfs_key cur = *lo;
	long count = 0;
	int err = btree_precheck(m, true);

	if (err && err != -ENOSPC)
		return err;
	for (;;) {
		struct btree_path p;

		err = search_ge(m, &cur, &p);
		if (err)
			break;
		cur = litem(p.nodes[0], p.slots[0])->key;
		if (meta_key_cmp(&cur, hi) > 0) {
			path_release(m, &p);
			break;
		}
		err = delete_at(m, &p);
		path_release(m, &p);
		if (err)
			return err;
		count++;
	}
	return err == -ENOENT || err == 0 ? count : err;
}

/* ---- the public calls: each under the tree lock (meta_internal.h) ---- */

int btree_insert(struct meta *m, const struct iomapfs_key *key,
		 const void *val, uint32_t len)
{
	bool taken = meta_tree_lock(m, true);
	int err = __btree_insert(m, key, val, len);

	meta_tree_unlock(m, true, taken);
	return err;
}

int btree_delete(struct meta *m, const struct iomapfs_key *key)
{
	bool taken = meta_tree_lock(m, true);
	int err = __btree_delete(m, key);

	meta_tree_unlock(m, true, taken);
	return err;
}

long btree_delete_range(struct meta *m, const struct iomapfs_key *lo,
			const struct iomapfs_key *hi)
{
	bool taken = meta_tree_lock(m, true);
	long ret = __btree_delete_range(m, lo, hi);

	meta_tree_unlock(m, true, taken);
	return ret;
}

int btree_lookup(struct meta *m, const struct iomapfs_key *key, void *val,
		 uint32_t *len)
{
	bool taken = meta_tree_lock(m, false);
	int err = __btree_lookup(m, key, val, len);

	meta_tree_unlock(m, false, taken);
	return err;
}

int btree_next(struct meta *m, struct iomapfs_key *key,
	       const struct iomapfs_key *max, void *val, uint32_t *len)
{
	bool taken = meta_tree_lock(m, false);
	int err = __btree_next(m, key, max, val, len);

	meta_tree_unlock(m, false, taken);
	return err;
}
