// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The per-mapping folio index: a 64-ary radix tree with mark bitmaps on
 * every node (see radix.h).  A node's mark bit for a slot is set when the
 * entry in that slot, or any entry below it, carries the mark; that lets
 * radix_find() descend only into marked subtrees, like xas_find_marked().
 *
 * The tree grows at the top when an index does not fit under the root and
 * frees nodes as they empty; it never shrinks its height (a file that was
 * once large keeps a few interior nodes until the mapping goes away).
 */
#include "radix.h"

#define RADIX_MAX_SHIFT	60	/* 64 << 60 covers every 64-bit index */

void radix_init(struct radix_tree *t)
{
	t->root = NULL;
	t->count = 0;
}

static void node_free_all(struct radix_node *n)
{
	uint64_t bits = n->present;

	if (n->shift) {
		while (bits) {
			node_free_all(n->slots[__builtin_ctzll(bits)]);
			bits &= bits - 1;
		}
	}
	kfree(n);
}

void radix_destroy(struct radix_tree *t)
{
	if (t->root)
		node_free_all(t->root);
	radix_init(t);
}

static struct radix_node *node_alloc(struct radix_node *parent, unsigned shift,
				     unsigned offset)
{
	struct radix_node *n = kzalloc(sizeof(*n));

	n->parent = parent;
	n->shift = shift;
	n->offset = offset;
	return n;
}

static bool fits(const struct radix_node *n, uint64_t index)
{
	return n->shift >= RADIX_MAX_SHIFT ||
	       (index >> n->shift) < RADIX_SLOTS;
}

static unsigned slot_of(const struct radix_node *n, uint64_t index)
{
	return (index >> n->shift) & (RADIX_SLOTS - 1);
}

/* The leaf node holding @index, or NULL. */
static struct radix_node *leaf_of(const struct radix_tree *t, uint64_t index)
{
	struct radix_node *n = t->root;

	if (!n || !fits(n, index))
		return NULL;
	while (n->shift) {
		unsigned s = slot_of(n, index);

		if (!(n->present & (1ull << s)))
			return NULL;
		n = n->slots[s];
	}
	return n;
}

void *radix_lookup(const struct radix_tree *t, uint64_t index)
{
	struct radix_node *leaf = leaf_of(t, index);

	return leaf ? leaf->slots[slot_of(leaf, index)] : NULL;
}

unsigned radix_lookup_contig(const struct radix_tree *t, uint64_t first,
			     unsigned nr, void **items)
{
	unsigned got = 0;

	while (got < nr) {
		uint64_t index = first + got;
		struct radix_node *leaf = leaf_of(t, index);
		unsigned s;

		if (!leaf || index < first)	/* absent, or wrapped */
			break;
		for (s = slot_of(leaf, index); s < RADIX_SLOTS && got < nr; s++) {
			if (!(leaf->present & (1ull << s)))
				return got;
			items[got++] = leaf->slots[s];
		}
	}
	return got;
}

/* Put a new root above the current one until @index fits. */
static void grow(struct radix_tree *t, uint64_t index)
{
	while (!fits(t->root, index)) {
		struct radix_node *old = t->root;
		struct radix_node *n = node_alloc(NULL, old->shift + RADIX_MAP_SHIFT, 0);
		int m;

		n->slots[0] = old;
		n->present = 1;
		for (m = 0; m < RADIX_MARKS; m++)
			if (old->marks[m])
				n->marks[m] = 1;
		old->parent = n;
		old->offset = 0;
		t->root = n;
	}
}

int radix_insert(struct radix_tree *t, uint64_t index, void *item)
{
	struct radix_node *n;

	if (!t->root)
		t->root = node_alloc(NULL, 0, 0);
	grow(t, index);
	n = t->root;
	while (n->shift) {
		unsigned s = slot_of(n, index);

		if (!(n->present & (1ull << s))) {
			n->slots[s] = node_alloc(n, n->shift - RADIX_MAP_SHIFT, s);
			n->present |= 1ull << s;
		}
		n = n->slots[s];
	}
	if (n->present & (1ull << slot_of(n, index)))
		return -EEXIST;
	n->slots[slot_of(n, index)] = item;
	n->present |= 1ull << slot_of(n, index);
	t->count++;
	return 0;
}

/* Clear @mark for slot @s of @n and propagate upwards while nodes empty. */
static void clear_mark_up(struct radix_node *n, unsigned s, int mark)
{
	while (n) {
		n->marks[mark] &= ~(1ull << s);
		if (n->marks[mark])
			return;
		s = n->offset;
		n = n->parent;
	}
}

void *radix_erase(struct radix_tree *t, uint64_t index)
{
	struct radix_node *n = leaf_of(t, index);
	unsigned s;
	void *item;
	int m;

	if (!n)
		return NULL;
	s = slot_of(n, index);
	if (!(n->present & (1ull << s)))
		return NULL;
	item = n->slots[s];
	for (m = 0; m < RADIX_MARKS; m++)
		if (n->marks[m] & (1ull << s))
			clear_mark_up(n, s, m);
	n->slots[s] = NULL;
	n->present &= ~(1ull << s);
	t->count--;
	/* Free emptied nodes bottom-up; marks of an empty node are already 0. */
	while (!n->present) {
		struct radix_node *parent = n->parent;

		if (!parent) {
			t->root = NULL;
			kfree(n);
			break;
		}
		parent->present &= ~(1ull << n->offset);
		parent->slots[n->offset] = NULL;
		kfree(n);
		n = parent;
	}
	return item;
}

void radix_set_mark(struct radix_tree *t, uint64_t index, int mark)
{
	struct radix_node *n = leaf_of(t, index);
	unsigned s;

	if (!n || !(n->present & (1ull << slot_of(n, index))))
		return;
	s = slot_of(n, index);
	while (n && !(n->marks[mark] & (1ull << s))) {
		n->marks[mark] |= 1ull << s;
		s = n->offset;
		n = n->parent;
	}
}

void radix_clear_mark(struct radix_tree *t, uint64_t index, int mark)
{
	struct radix_node *n = leaf_of(t, index);
	unsigned s;

	if (!n)
		return;
	s = slot_of(n, index);
	if (n->marks[mark] & (1ull << s))
		clear_mark_up(n, s, mark);
}

bool radix_get_mark(const struct radix_tree *t, uint64_t index, int mark)
{
	struct radix_node *n = leaf_of(t, index);

	return n && (n->marks[mark] & (1ull << slot_of(n, index)));
}

/* @base is the first index covered by @n; *index >= base. */
static void *node_find(const struct radix_node *n, uint64_t base,
		       uint64_t *index, uint64_t max, int mark)
{
	uint64_t bits = mark == RADIX_ANY ? n->present : n->marks[mark];
	unsigned off = (*index - base) >> n->shift;

	bits &= ~0ull << off;
	while (bits) {
		unsigned s = __builtin_ctzll(bits);
		uint64_t sbase = base + ((uint64_t)s << n->shift);
		void *r;

		if (sbase > max)
			return NULL;
		if (sbase > *index)
			*index = sbase;
		if (!n->shift)
			return n->slots[s];
		r = node_find(n->slots[s], sbase, index, max, mark);
		if (r)
			return r;
		bits &= bits - 1;
	}
	return NULL;
}

void *radix_find(const struct radix_tree *t, uint64_t *index, uint64_t max,
		 int mark)
{
	uint64_t start = *index;
	void *r;

	if (!t->root || start > max || !fits(t->root, start))
		return NULL;
	r = node_find(t->root, 0, index, max, mark);
	if (!r)
		*index = start;
	return r;
}
