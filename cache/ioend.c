// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Ioends (fs/iomap/ioend.c): building them from folios under writeback,
 * submitting them, and completing them.
 *
 * An ioend is a run of folio ranges contiguous in file offset and in device
 * sector, with equal no-merge flags; it embeds its bio (front_pad), so the
 * bio's ->bi_end_io finds it with ioend_from_bio().
 *
 * Completion, first in the reaper (ioend_writeback_end_bio):
 *
 *	failed / DROPBEHIND / UNWRITTEN / SIZE --bio_complete_in_task()--> worker
 *	otherwise: end writeback on every folio, right there, nothing else
 *
 * In the worker the ioend goes on its mapping's completion list and the
 * mapping registers a task_batch_cb; after the worker's whole batch the
 * callback sorts the list, merges adjacent ioends (iomap_ioend_try_merge),
 * converts unwritten ranges and moves the on-disk size (->ioend_complete,
 * once per merged range), records errors (errseq) and ends writeback, invalidating drop-behind
 * folios.  Each of these steps calls might_sleep(): a debug build aborts
 * if one ever runs in the reaper.
 *
 * A submission that fails in the submitting thread completes there
 * (bio_endio() with bi_status set, no cancel path); the writeback loop
 * collects such ioends on a thread-local list and completes them after
 * its last submit, so ->ioend_complete never runs inside the filesystem's
 * own ->writeback_range.
 */
#include "internal.h"

static _Thread_local struct list_head *ioend_inline_list;

void ioend_folio_finish_write(struct folio *folio, uint32_t bytes)
{
	unsigned old = atomic_fetch_sub(&folio->write_bytes_pending, bytes);

	if (WARN_ON_ONCE(old < bytes))
		return;
	if (old == bytes)
		folio_end_writeback(folio);
}

static uint64_t iomap_sector(const struct iomap *iomap, uint64_t pos)
{
	return (iomap->addr + (pos - iomap->offset)) >> SECTOR_SHIFT;
}

/* ---- building ---- */

static struct ioend *ioend_alloc(struct writeback_ctx *wpc, uint64_t pos,
				 uint16_t flags)
{
	struct cache_mapping *m = wpc->mapping;
	struct cache *cache = m->cache;
	unsigned nr_vecs = max_t(unsigned, 1, cache->cfg.max_ioend_bytes / PAGE_SIZE);
	struct bio *bio;
	struct ioend *ioend;

	nr_vecs = min_t(unsigned, nr_vecs, BIO_MAX_VECS);
	bio = bio_alloc_bioset(cache->dev, nr_vecs, REQ_OP_WRITE,
			       offsetof(struct ioend, io_bio));
	bio->bi_class = BIO_CLASS_DATA;
	ioend = ioend_from_bio(bio);
	INIT_LIST_HEAD(&ioend->io_list);
	ioend->io_mapping = m;
	ioend->io_flags = flags;
	ioend->io_offset = pos;
	ioend->io_size = 0;
	ioend->io_error = 0;
	ioend->io_sector = bio->bi_sector = iomap_sector(&wpc->iomap, pos);
	mapping_io_get(m);	/* until the completion's last touch */
	atomic_fetch_add(&cache->stat.ioends_built, 1);
	wpc->nr_folios = 0;
	return ioend;
}

static bool ioend_can_add(struct writeback_ctx *wpc, uint64_t pos,
			  uint32_t len, uint16_t flags)
{
	struct ioend *ioend = wpc->wb_ctx;

	if (flags & IOEND_F_BOUNDARY)
		return false;
	if ((flags & IOEND_NOMERGE_FLAGS) != (ioend->io_flags & IOEND_NOMERGE_FLAGS))
		return false;
	if (pos != ioend->io_offset + ioend->io_size)
		return false;
	if (iomap_sector(&wpc->iomap, pos) != bio_end_sector(&ioend->io_bio))
		return false;
	return ioend->io_size + len <= wpc->mapping->cache->cfg.max_ioend_bytes;
}

static uint16_t ioend_flags_for(const struct writeback_ctx *wpc,
				const struct folio *folio, uint64_t pos)
{
	uint16_t flags = 0;

	if (wpc->iomap.type == IOMAP_UNWRITTEN)
		flags |= IOEND_F_UNWRITTEN;
	if (folio_test(folio, PG_dropbehind))
		flags |= IOEND_F_DROPBEHIND;
	if (pos == wpc->iomap.offset && (wpc->iomap.flags & IOMAP_F_BOUNDARY))
		flags |= IOEND_F_BOUNDARY;
	return flags;
}

ssize_t cache_add_to_ioend(struct writeback_ctx *wpc, struct folio *folio,
			   uint64_t pos, uint64_t end_pos, uint32_t len)
{
	const struct iomap *iomap = &wpc->iomap;
	struct ioend *ioend = wpc->wb_ctx;
	uint32_t poff = (uint32_t)(pos - folio_pos(folio));
	uint16_t flags;
	int error;

	if (WARN_ON_ONCE(iomap->addr == IOMAP_NULL_ADDR ||
			 (iomap->type != IOMAP_MAPPED && iomap->type != IOMAP_UNWRITTEN) ||
			 pos < iomap->offset || pos >= iomap->offset + iomap->length ||
			 poff + len > PAGE_SIZE))
		return -EIO;
	len = (uint32_t)min_t(uint64_t, len, iomap->offset + iomap->length - pos);
	flags = ioend_flags_for(wpc, folio, pos);
	if (!ioend || !ioend_can_add(wpc, pos, len, flags)) {
new_ioend:
		if (ioend) {
			error = wpc->ops->writeback_submit(wpc, 0);
			wpc->wb_ctx = NULL;
			if (error)
				return error;
		}
		wpc->wb_ctx = ioend = ioend_alloc(wpc, pos, flags);
	}
	if (!bio_add_buf(&ioend->io_bio, (char *)folio->data + poff, len)) {
		if (WARN_ON_ONCE(!ioend->io_bio.bi_size))
			return -EIO;
		goto new_ioend;
	}
	atomic_fetch_add(&folio->write_bytes_pending, len);
	ioend->io_size += len;
	if (ioend->io_offset + ioend->io_size > end_pos)
		ioend->io_size = end_pos > ioend->io_offset ? end_pos - ioend->io_offset : 0;
	wpc->nr_folios++;
	return len;
}

/* ---- submission ---- */

static void ioend_writeback_end_bio(struct bio *bio);

int cache_ioend_writeback_submit(struct writeback_ctx *wpc, int error)
{
	struct ioend *ioend = wpc->wb_ctx;

	if (WARN_ON_ONCE(!ioend))
		return error ? error : -EIO;
	wpc->wb_ctx = NULL;
	if (!ioend->io_bio.bi_end_io)
		ioend->io_bio.bi_end_io = ioend_writeback_end_bio;
	if (error) {
		ioend->io_bio.bi_status = error;
		bio_endio(&ioend->io_bio);
		return error;
	}
	atomic_fetch_add(&wpc->mapping->cache->stat.ioends_submitted, 1);
	submit_bio(&ioend->io_bio);
	return 0;
}

/* ---- completion ---- */

static void folio_end_write_reaper(struct folio *folio, uint32_t bytes, void *arg)
{
	ioend_folio_finish_write(folio, bytes);
}

/* Reaper: plain successful writeback.  Atomics and wakes only. */
static void ioend_finish_in_reaper(struct ioend *ioend)
{
	struct cache_mapping *m = ioend->io_mapping;

	bio_for_each_folio(m->cache, &ioend->io_bio, folio_end_write_reaper, NULL);
	bio_put(&ioend->io_bio);
	mapping_io_put(m);
}

struct ioend_finish_arg {
	struct cache_mapping	*m;
	int			error;
};

/* Worker: end writeback of one folio's range, then drop-behind. */
static void folio_end_write_task(struct folio *folio, uint32_t bytes, void *arg)
{
	struct ioend_finish_arg *a = arg;
	bool dropbehind = folio_test(folio, PG_dropbehind);

	might_sleep();
	if (a->error)
		folio_set_flag(folio, PG_error);
	if (dropbehind || a->error)
		folio_get(folio);	/* alive past the end of writeback */
	ioend_folio_finish_write(folio, bytes);
	/* A failed folio goes like a drop-behind one: its bytes are not on
	 * the device, so it must not be served as if they were. */
	if (a->error)
		filemap_discard_failed_folio(a->m, folio);
	else if (dropbehind)
		filemap_invalidate_folio(a->m, folio, 1);
	if (dropbehind || a->error)
		folio_put(folio);
}

static void ioend_finish_in_task(struct ioend *ioend, int error)
{
	struct ioend_finish_arg a = { .m = ioend->io_mapping, .error = error };
	struct cache *cache = a.m->cache;

	might_sleep();
	if (error)
		mapping_write_error(a.m, ioend->io_offset, ioend->io_size, error);
	bio_for_each_folio(cache, &ioend->io_bio, folio_end_write_task, &a);
	bio_put(&ioend->io_bio);
	mapping_io_put(a.m);
}

static bool ioend_can_merge(const struct ioend *ioend, const struct ioend *next)
{
	if (!!ioend->io_error != !!next->io_error)
		return false;
	if (next->io_flags & IOEND_F_BOUNDARY)
		return false;
	if ((ioend->io_flags & IOEND_NOMERGE_FLAGS) !=
	    (next->io_flags & IOEND_NOMERGE_FLAGS))
		return false;
	if (ioend->io_offset + ioend->io_size != next->io_offset)
		return false;
	/* io_size is whole sectors except at EOF, where nothing follows. */
	return ioend->io_sector + (ioend->io_size >> SECTOR_SHIFT) == next->io_sector;
}

/* iomap_ioend_try_merge: pull the following mergeable ioends into @ioend. */
static void ioend_try_merge(struct ioend *ioend, struct list_head *more)
{
	struct cache *cache = ioend->io_mapping->cache;

	INIT_LIST_HEAD(&ioend->io_list);
	while (!list_empty(more)) {
		struct ioend *next = list_first_entry(more, struct ioend, io_list);

		if (!ioend_can_merge(ioend, next))
			break;
		list_move_tail(&next->io_list, &ioend->io_list);
		ioend->io_size += next->io_size;
		ioend->io_flags |= next->io_flags & IOEND_F_SIZE;
		atomic_fetch_add(&cache->stat.ioends_merged, 1);
	}
}

static int ioend_cmp(const void *a, const void *b)
{
	const struct ioend *x = *(struct ioend *const *)a;
	const struct ioend *y = *(struct ioend *const *)b;

	return x->io_offset < y->io_offset ? -1 : x->io_offset > y->io_offset;
}

static void ioend_sort(struct list_head *list)
{
	struct ioend **v, *ioend;
	size_t n = 0, i;

	list_for_each_entry(ioend, list, io_list)
		n++;
	if (n < 2)
		return;
	v = kmalloc(n * sizeof(*v));
	i = 0;
	list_for_each_entry(ioend, list, io_list)
		v[i++] = ioend;
	qsort(v, n, sizeof(*v), ioend_cmp);
	INIT_LIST_HEAD(list);
	for (i = 0; i < n; i++)
		list_add_tail(&v[i]->io_list, list);
	kfree(v);
}

/* One merged run: convert it once, then finish each of its ioends. */
static void ioend_complete_merged(struct cache_mapping *m, struct ioend *head)
{
	struct list_head merged;
	int error = head->io_error;

	might_sleep();
	if ((head->io_flags & (IOEND_F_UNWRITTEN | IOEND_F_SIZE)) &&
	    m->ops->ioend_complete) {
		int ret = m->ops->ioend_complete(head, error);

		if (!error)
			error = ret;
	}
	INIT_LIST_HEAD(&merged);
	list_splice_init(&head->io_list, &merged);
	ioend_finish_in_task(head, error);
	while (!list_empty(&merged)) {
		struct ioend *ioend = list_first_entry(&merged, struct ioend, io_list);

		list_del_init(&ioend->io_list);
		ioend_finish_in_task(ioend, error ? error : ioend->io_error);
	}
}

/* Task context: complete a list of ioends of @m, merging neighbours. */
static void ioend_complete_list(struct cache_mapping *m, struct list_head *list)
{
	might_sleep();
	ioend_sort(list);
	while (!list_empty(list)) {
		struct ioend *head = list_first_entry(list, struct ioend, io_list);

		list_del_init(&head->io_list);
		ioend_try_merge(head, list);
		ioend_complete_merged(m, head);
	}
}

/* The mapping's task_batch_cb: runs after the worker's whole batch. */
static void ioend_batch_cb_fn(struct task_batch_cb *cb)
{
	struct cache_mapping *m = container_of(cb, struct cache_mapping, batch_cb);
	struct list_head list;

	INIT_LIST_HEAD(&list);
	pthread_mutex_lock(&m->completion_lock);
	list_splice_init(&m->completions, &list);
	m->cb_queued = false;
	pthread_mutex_unlock(&m->completion_lock);
	/* The ioends hold io_refs: @m stays alive until the last is done. */
	ioend_complete_list(m, &list);
}

/*
 * Worker: queue for the batch callback.  cb_queued (under our lock) keeps
 * the cb from being registered twice: the block layer clears cb->pending
 * before calling ->fn, and ->fn clears cb_queued under the lock.
 */
static void ioend_queue_completion(struct ioend *ioend)
{
	struct cache_mapping *m = ioend->io_mapping;
	bool queue;

	pthread_mutex_lock(&m->completion_lock);
	list_add_tail(&ioend->io_list, &m->completions);
	queue = !m->cb_queued;
	m->cb_queued = true;
	pthread_mutex_unlock(&m->completion_lock);
	if (queue) {
		m->batch_cb.fn = ioend_batch_cb_fn;
		bio_task_batch_add_cb(&m->batch_cb);
	}
}

static bool ioend_needs_task(const struct ioend *ioend, enum cache_defer_reason *reason)
{
	if (ioend->io_bio.bi_status)
		*reason = CACHE_DEFER_ERROR;
	else if (ioend->io_flags & IOEND_F_DROPBEHIND)
		*reason = CACHE_DEFER_DROPBEHIND;
	else if (ioend->io_flags & IOEND_F_UNWRITTEN)
		*reason = CACHE_DEFER_UNWRITTEN;
	else if (ioend->io_flags & IOEND_F_SIZE)
		*reason = CACHE_DEFER_SIZE;
	else
		return false;
	return true;
}

/* ->bi_end_io of writeback ioends: first in the reaper. */
static void ioend_writeback_end_bio(struct bio *bio)
{
	struct ioend *ioend = ioend_from_bio(bio);
	enum cache_defer_reason reason;
	struct list_head list;

	ioend->io_error = bio->bi_status;
	if (!ioend_needs_task(ioend, &reason)) {
		ioend_finish_in_reaper(ioend);
		return;
	}
	if (cache_complete_in_task(ioend->io_mapping->cache, bio, reason))
		return;		/* runs again in a worker */
	if (atomic_load(&bio->bi_flags) & BIO_COMPLETE_IN_TASK) {
		ioend_queue_completion(ioend);	/* in the worker */
		return;
	}
	/* A failed submission, in the submitting thread. */
	if (ioend_inline_list) {
		list_add_tail(&ioend->io_list, ioend_inline_list);
		return;
	}
	INIT_LIST_HEAD(&list);
	list_add_tail(&ioend->io_list, &list);
	ioend_complete_list(ioend->io_mapping, &list);
}

void ioend_inline_begin(struct list_head *list)
{
	INIT_LIST_HEAD(list);
	ioend_inline_list = list;
}

void ioend_inline_end(struct cache_mapping *m, struct list_head *list)
{
	ioend_inline_list = NULL;
	if (!list_empty(list))
		ioend_complete_list(m, list);
}
