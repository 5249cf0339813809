// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The metadata buffer cache (the buffer_head cache of fs/buffer.c, minus
 * the page cache): 4 KiB metadata blocks by block number in a hash table,
 * read with blk_rw_sync() and verified against their magic and checksum.
 * Dirty buffers belong to the running transaction (meta->txn_list) and are
 * pinned until journal.c has checkpointed them; clean buffers sit on an LRU
 * and are evicted oldest first once the cache passes its limit.
 *
 * Also the small bio batch (struct meta_io) that the journal uses to write
 * many blocks at once and wait for them.
 *
 * Concurrency: the cache's own lock (bc.lock, a leaf) protects the hash,
 * the LRU, every buffer's refs and dirty flag; it is never held across
 * I/O.  Buffer contents belong to the lock of what they hold: a B+tree
 * node's to the tree lock (readers shared, btree_insert/delete
 * exclusive), a bitmap block's to its group lock (alloc.c); a commit
 * writes frozen copies, never the buffers.  Two readers missing the same
 * block both read it, and the second to finish uses the first one's
 * buffer: a block that is not cached cannot change under a reader, since
 * its writers are excluded and a buffer being written home stays pinned
 * (hence cached) until its write completes.
 *
 * mbuf_* run in a section (either kind) unless noted; mio_* anywhere in
 * task context.
 */
#include "meta_internal.h"

#include <iomapfs/futex.h>
#include <unistd.h>

void *meta_alloc_block(void)
{
	void *p = aligned_alloc(IOMAPFS_BLOCK_SIZE, IOMAPFS_BLOCK_SIZE);

	if (!p) {
		iomapfs_err("out of memory for a metadata block");
		abort();
	}
	memset(p, 0, IOMAPFS_BLOCK_SIZE);
	return p;
}

int mbuf_cache_init(struct meta *m, size_t limit_bytes)
{
	struct meta_bufcache *bc = &m->bc;

	size_t most;

	INIT_LIST_HEAD(&bc->lru);
	mutex_init_adaptive(&bc->lock);
	bc->limit = max_t(size_t, limit_bytes / IOMAPFS_BLOCK_SIZE, 64);
	/*
	 * About four buffers a chain when full (-o meta_cache scales it),
	 * and never more slots than the filesystem has blocks: a small
	 * image (fsck of a 4 MiB test image, a fuzz input) should not zero
	 * and later walk thousands of slots.
	 */
	most = min_t(uint64_t, bc->limit / 4, m->nr_blocks);
	bc->hash_size = 64;
	while (bc->hash_size < most && bc->hash_size < (1u << 22))
		bc->hash_size <<= 1;
	bc->hash = kzalloc(bc->hash_size * sizeof(*bc->hash));
	return 0;
}

static struct mbuf **hash_slot(struct meta_bufcache *bc, uint64_t blkno)
{
	uint64_t h = blkno * 0x9E3779B97F4A7C15ull;

	return &bc->hash[(h >> 32) & (bc->hash_size - 1)];
}

static void mbuf_free(struct mbuf *b)
{
	free(b->data);
	kfree(b);
}

void mbuf_cache_destroy(struct meta *m)
{
	struct meta_bufcache *bc = &m->bc;

	for (size_t i = 0; i < bc->hash_size; i++) {
		struct mbuf *b = bc->hash[i], *next;

		for (; b; b = next) {
			next = b->hnext;
			mbuf_free(b);
		}
	}
	kfree(bc->hash);
	if (bc->hash)
		pthread_mutex_destroy(&bc->lock);
	bc->hash = NULL;
	bc->nr_cached = 0;
	atomic_store(&m->st_buf_cached, 0);
}

/* Under bc.lock. */
static struct mbuf *mbuf_find(struct meta_bufcache *bc, uint64_t blkno)
{
	struct mbuf *b = *hash_slot(bc, blkno);

	while (b && b->blkno != blkno)
		b = b->hnext;
	return b;
}

/* Under bc.lock. */
static void mbuf_unhash(struct meta_bufcache *bc, struct mbuf *b)
{
	struct mbuf **pp = hash_slot(bc, b->blkno);

	while (*pp != b)
		pp = &(*pp)->hnext;
	*pp = b->hnext;
	bc->nr_cached--;
	atomic_fetch_sub_explicit(&container_of(bc, struct meta, bc)->st_buf_cached, 1,
				  memory_order_relaxed);
}

/* Evict clean, unreferenced buffers, oldest first, down to the limit.
 * Under bc.lock. */
static void mbuf_shrink(struct meta_bufcache *bc)
{
	struct mbuf *b, *n;

	if (bc->nr_cached <= bc->limit)
		return;
	list_for_each_entry_safe(b, n, &bc->lru, lru) {
		if (bc->nr_cached <= bc->limit)
			break;
		if (b->refs || b->dirty)
			continue;
		list_del_init(&b->lru);
		mbuf_unhash(bc, b);
		mbuf_free(b);
	}
}

/* A buffer for @blkno with one reference, not in the cache yet. */
static struct mbuf *mbuf_alloc(uint64_t blkno)
{
	struct mbuf *b = kzalloc(sizeof(*b));

	b->blkno = blkno;
	b->data = meta_alloc_block();
	b->refs = 1;
	INIT_LIST_HEAD(&b->txn);
	INIT_LIST_HEAD(&b->lru);
	return b;
}

/* Put @b (from mbuf_alloc) in the cache.  Under bc.lock. */
static void mbuf_hash(struct meta *m, struct mbuf *b)
{
	struct meta_bufcache *bc = &m->bc;
	struct mbuf **slot = hash_slot(bc, b->blkno);

	mbuf_shrink(bc);
	list_add_tail(&b->lru, &bc->lru);
	b->hnext = *slot;
	*slot = b;
	bc->nr_cached++;
	atomic_fetch_add_explicit(&m->st_buf_cached, 1, memory_order_relaxed);
}

/* Under bc.lock. */
static void mbuf_touch(struct meta_bufcache *bc, struct mbuf *b)
{
	if (!b->dirty)
		list_move_tail(&b->lru, &bc->lru);
}

/* Under bc.lock: a new reference to cached @b, checked against @magic. */
static struct mbuf *mbuf_hit(struct meta *m, struct mbuf *b, uint32_t magic)
{
	atomic_fetch_add_explicit(&m->st_buf_hits, 1, memory_order_relaxed);
	/* A cached block of another kind (a corrupt pointer to a bitmap
	 * block, say) must not be used as this kind. */
	if (magic && ((struct iomapfs_blkhdr *)b->data)->magic != magic) {
		iomapfs_err("metadata block %llu: bad magic", (unsigned long long)b->blkno);
		return ERR_PTR(-EUCLEAN);
	}
	b->refs++;
	mbuf_touch(&m->bc, b);
	return b;
}

/* Read and verify block @blkno into a buffer of its own, outside bc.lock. */
static struct mbuf *mbuf_load(struct meta *m, uint64_t blkno, uint32_t magic)
{
	struct mbuf *b = mbuf_alloc(blkno);
	const char *why;
	int err;

	atomic_fetch_add_explicit(&m->st_buf_misses, 1, memory_order_relaxed);
	err = blk_rw_sync_class(m->dev, REQ_OP_READ, BIO_CLASS_META, b->data,
				IOMAPFS_BLOCK_SIZE, blkno << IOMAPFS_BLOCK_SHIFT);
	why = err || !magic ? NULL : meta_block_problem(m, b->data, magic, blkno);
	if (why) {
		iomapfs_err("metadata block %llu: %s", (unsigned long long)blkno, why);
		err = -EUCLEAN;
	}
	if (err) {
		mbuf_free(b);
		return ERR_PTR(err);
	}
	return b;
}

struct mbuf *mbuf_read(struct meta *m, uint64_t blkno, uint32_t magic)
{
	struct meta_bufcache *bc = &m->bc;
	struct mbuf *b, *nb;

	pthread_mutex_lock(&bc->lock);
	b = mbuf_find(bc, blkno);
	if (b)
		b = mbuf_hit(m, b, magic);
	pthread_mutex_unlock(&bc->lock);
	if (b)
		return b;
	if (blkno >= m->nr_blocks) {
		iomapfs_err("metadata block %llu beyond the device (%llu blocks)",
			(unsigned long long)blkno, (unsigned long long)m->nr_blocks);
		return ERR_PTR(-EUCLEAN);
	}
	nb = mbuf_load(m, blkno, magic);
	if (IS_ERR(nb))
		return nb;
	pthread_mutex_lock(&bc->lock);
	b = mbuf_find(bc, blkno);	/* another reader loaded it meanwhile */
	if (b)
		b = mbuf_hit(m, b, magic);
	else
		mbuf_hash(m, nb);
	pthread_mutex_unlock(&bc->lock);
	if (!b)
		return nb;
	mbuf_free(nb);
	return b;
}

struct mbuf *mbuf_new(struct meta *m, uint64_t blkno)
{
	struct meta_bufcache *bc = &m->bc;
	struct mbuf *b;

	pthread_mutex_lock(&bc->lock);
	b = mbuf_find(bc, blkno);
	if (b) {
		/* A stale clean copy of a block that was freed and reused. */
		b->refs++;
		atomic_store_explicit(&b->checked, false, memory_order_relaxed);
		mbuf_touch(bc, b);
		memset(b->data, 0, IOMAPFS_BLOCK_SIZE);
	} else {
		b = mbuf_alloc(blkno);
		mbuf_hash(m, b);
	}
	pthread_mutex_unlock(&bc->lock);
	return b;
}

/* Under bc.lock: may @blkno be read ahead (in range, not cached)? */
static bool mbuf_wants_readahead(struct meta *m, uint64_t blkno)
{
	return blkno < m->nr_blocks && !mbuf_find(&m->bc, blkno);
}

/*
 * Read the blocks of @blknos that are not cached yet, in one batch of bios
 * (consecutive blocks share a bio), so a walk over many siblings waits for
 * one round trip instead of one per block.  Blocks that fail to read or
 * verify are dropped quietly: the mbuf_read() that needs them reports it.
 * The buffers join the cache only once read and verified.
 */
void mbuf_readahead(struct meta *m, const uint64_t *blknos, size_t n, uint32_t magic)
{
	struct mbuf **bufs = kmalloc(max_t(size_t, n, 1) * sizeof(*bufs));
	void **data = kmalloc(max_t(size_t, n, 1) * sizeof(*data));
	struct meta_io io;
	size_t nr = 0;
	int err;

	pthread_mutex_lock(&m->bc.lock);
	for (size_t i = 0; i < n; i++)
		if (mbuf_wants_readahead(m, blknos[i]))
			bufs[nr++] = mbuf_alloc(blknos[i]);
	pthread_mutex_unlock(&m->bc.lock);
	mio_init(&io, BIO_CLASS_META);
	for (size_t i = 0, j; i < nr; i = j) {
		for (j = i; j < nr && bufs[j]->blkno == bufs[i]->blkno + (j - i); j++)
			data[j - i] = bufs[j]->data;
		mio_submit(&io, m->dev, REQ_OP_READ, bufs[i]->blkno, data, j - i);
	}
	err = mio_wait(&io);
	pthread_mutex_lock(&m->bc.lock);
	for (size_t i = 0; i < nr; i++) {
		struct mbuf *b = bufs[i];

		atomic_fetch_add_explicit(&m->st_buf_misses, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&m->st_buf_ra, 1, memory_order_relaxed);
		b->refs--;
		if (err || meta_block_problem(m, b->data, magic, b->blkno) ||
		    mbuf_find(&m->bc, b->blkno))
			mbuf_free(b);
		else
			mbuf_hash(m, b);
	}
	pthread_mutex_unlock(&m->bc.lock);
	kfree(data);
	kfree(bufs);
}

void mbuf_get(struct meta *m, struct mbuf *b)
{
	pthread_mutex_lock(&m->bc.lock);
	b->refs++;
	pthread_mutex_unlock(&m->bc.lock);
}

void mbuf_put(struct meta *m, struct mbuf *b)
{
	pthread_mutex_lock(&m->bc.lock);
	if (!WARN_ON_ONCE(b->refs <= 0))
		b->refs--;
	pthread_mutex_unlock(&m->bc.lock);
}

/*
 * In a write section, holding the lock of what @b holds (the tree lock
 * for a B+tree node, the group's lock for a bitmap block), so nobody else
 * changes b->dirty under us; concurrent handles share txn_list, hence
 * bc.lock around it.
 */
void mbuf_mark_dirty(struct meta *m, struct mbuf *b)
{
	if (b->dirty)
		return;
	pthread_mutex_lock(&m->bc.lock);
	b->dirty = true;
	list_del_init(&b->lru);
	list_add_tail(&b->txn, &m->txn_list);
	m->txn_nr++;
	pthread_mutex_unlock(&m->bc.lock);
	meta_handle_dirtied(m);
}

/* Under bc.lock. */
static void __mbuf_mark_clean(struct meta *m, struct mbuf *b)
{
	if (!b->dirty)
		return;
	b->dirty = false;
	list_del_init(&b->txn);
	m->txn_nr--;
	list_add_tail(&b->lru, &m->bc.lru);
}

/* In a write section (a commit closing the transaction, a shutdown). */
void mbuf_mark_clean(struct meta *m, struct mbuf *b)
{
	pthread_mutex_lock(&m->bc.lock);
	__mbuf_mark_clean(m, b);
	pthread_mutex_unlock(&m->bc.lock);
}

void mbuf_forget(struct meta *m, uint64_t blkno)
{
	struct mbuf *b;

	pthread_mutex_lock(&m->bc.lock);
	b = mbuf_find(&m->bc, blkno);
	if (!b)
		goto out_unlock;
	__mbuf_mark_clean(m, b);
	if (b->refs) {
		/* Still held by the caller's path: it goes when released. */
		memset(b->data, 0, IOMAPFS_BLOCK_SIZE);
		goto out_unlock;
	}
	list_del_init(&b->lru);
	mbuf_unhash(&m->bc, b);
	mbuf_free(b);
out_unlock:
	pthread_mutex_unlock(&m->bc.lock);
}

void mbuf_drop_dirty(struct meta *m)
{
	struct mbuf *b, *n;

	pthread_mutex_lock(&m->bc.lock);
	list_for_each_entry_safe(b, n, &m->txn_list, txn) {
		__mbuf_mark_clean(m, b);
		if (b->refs)
			continue;
		list_del_init(&b->lru);
		mbuf_unhash(&m->bc, b);
		mbuf_free(b);
	}
	pthread_mutex_unlock(&m->bc.lock);
}

/* ---- bio batches ---- */

void mio_init(struct meta_io *io, enum bio_class cls)
{
	io->cls = cls;
	atomic_init(&io->pending, 1);	/* the submitter's bias, dropped in mio_wait */
	atomic_init(&io->err, 0);
}

/* Reaper context: record the first error, wake the waiter.  No locks. */
static void mio_end_io(struct bio *bio)
{
	struct meta_io *io = bio->bi_private;
	int zero = 0;

	if (bio->bi_status)
		atomic_compare_exchange_strong(&io->err, &zero, bio->bi_status);
	bio_put(bio);
	if (atomic_fetch_sub(&io->pending, 1) == 1)
		futex_wake(&io->pending, 1);
}

static struct bio *mio_new_bio(struct meta_io *io, struct blk_dev *dev, enum req_op op,
			       uint64_t blkno, size_t nr)
{
	struct bio *bio = bio_alloc(dev, min_t(size_t, nr, 256), op);

	bio->bi_sector = blkno << (IOMAPFS_BLOCK_SHIFT - SECTOR_SHIFT);
	bio->bi_end_io = mio_end_io;
	bio->bi_private = io;
	bio->bi_class = io->cls;
	return bio;
}

static void mio_submit_bio(struct meta_io *io, struct bio *bio)
{
	atomic_fetch_add(&io->pending, 1);
	submit_bio(bio);
}

void mio_submit(struct meta_io *io, struct blk_dev *dev, enum req_op op,
		uint64_t blkno, void *const *bufs, size_t n)
{
	struct bio *bio = NULL;

	for (size_t i = 0; i < n; i++) {
		if (bio && bio_add_buf(bio, bufs[i], IOMAPFS_BLOCK_SIZE))
			continue;
		if (bio)
			mio_submit_bio(io, bio);
		bio = mio_new_bio(io, dev, op, blkno + i, n - i);
		if (!bio_add_buf(bio, bufs[i], IOMAPFS_BLOCK_SIZE)) {
			bio->bi_status = -EINVAL;
			atomic_fetch_add(&io->pending, 1);
			bio_endio(bio);
			bio = NULL;
		}
	}
	if (bio)
		mio_submit_bio(io, bio);
}

int mio_wait(struct meta_io *io)
{
	unsigned v;

	might_sleep();
	atomic_fetch_sub(&io->pending, 1);
	while ((v = atomic_load(&io->pending)) > 0)
		futex_wait(&io->pending, v, 0);
	return atomic_load(&io->err);
}
