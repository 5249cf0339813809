// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fake filesystem behind the cache/ unit suites (see cache_test.h).
 *
 * Extent map semantics follow what a real filesystem does with the cache:
 * map_begin(CACHE_MAP_WRITE) over a hole reserves a delalloc extent;
 * ->writeback_range allocates device blocks for a whole delalloc extent at
 * once (sequentially, so contiguous dirty ranges get contiguous blocks) as
 * UNWRITTEN, then adds the folio range to the ioend; ->ioend_complete
 * converts to written and records which thread it ran in.
 */
#include "cache_test.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

int cache_test_run(Suite *s)
{
	return unit_run(s, "cache");
}

void fill_pattern(void *buf, size_t len, unsigned seed)
{
	unsigned char *b = buf;
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (unsigned char)(i * 131 + seed * 7 + (i >> 12) + 1);
}

/* ---- the extent map ---- */

static int ext_find(struct fake_fs *fs, uint64_t pos)
{
	unsigned i;

	for (i = 0; i < fs->nr_ext; i++)
		if (pos >= fs->ext[i].off && pos < fs->ext[i].off + fs->ext[i].len)
			return (int)i;
	return -1;
}

static uint64_t ext_next_start(struct fake_fs *fs, uint64_t pos)
{
	uint64_t next = UINT64_MAX;
	unsigned i;

	for (i = 0; i < fs->nr_ext; i++)
		if (fs->ext[i].off > pos && fs->ext[i].off < next)
			next = fs->ext[i].off;
	return next;
}

static void ext_insert(struct fake_fs *fs, const struct fake_ext *e)
{
	unsigned i = 0;

	ck_assert_uint_lt(fs->nr_ext, FAKE_MAX_EXT);
	while (i < fs->nr_ext && fs->ext[i].off < e->off)
		i++;
	memmove(&fs->ext[i + 1], &fs->ext[i], (fs->nr_ext - i) * sizeof(*e));
	fs->ext[i] = *e;
	fs->nr_ext++;
}

/* Split so that an extent boundary falls at @pos. */
static void ext_split_at(struct fake_fs *fs, uint64_t pos)
{
	int i = ext_find(fs, pos);
	struct fake_ext tail;

	if (i < 0 || fs->ext[i].off == pos)
		return;
	tail = fs->ext[i];
	tail.off = pos;
	tail.len = fs->ext[i].off + fs->ext[i].len - pos;
	tail.flags &= (uint16_t)~IOMAP_F_BOUNDARY;
	if (tail.type != IOMAP_DELALLOC)
		tail.addr += pos - fs->ext[i].off;
	fs->ext[i].len = pos - fs->ext[i].off;
	ext_insert(fs, &tail);
}

void fake_map(struct fake_fs *fs, uint64_t off, uint64_t len, uint64_t addr,
	      uint16_t type, uint16_t flags)
{
	struct fake_ext e = { off, len, addr, type, flags };

	pthread_mutex_lock(&fs->lock);
	ck_assert_int_lt(ext_find(fs, off), 0);
	ext_insert(fs, &e);
	pthread_mutex_unlock(&fs->lock);
}

bool fake_range_is_written(struct fake_fs *fs, uint64_t off, uint64_t len)
{
	uint64_t pos = off;
	bool ok = true;

	pthread_mutex_lock(&fs->lock);
	while (ok && pos < off + len) {
		int i = ext_find(fs, pos);

		ok = i >= 0 && fs->ext[i].type == IOMAP_MAPPED;
		if (ok)
			pos = fs->ext[i].off + fs->ext[i].len;
	}
	pthread_mutex_unlock(&fs->lock);
	return ok;
}

static void ext_to_iomap(const struct fake_ext *e, struct iomap *iomap)
{
	iomap->offset = e->off;
	iomap->length = e->len;
	iomap->type = e->type;
	iomap->flags = e->flags;
	iomap->addr = e->type == IOMAP_DELALLOC ? IOMAP_NULL_ADDR : e->addr;
}

static int fake_map_begin(struct cache_mapping *m, uint64_t pos, uint64_t len,
			  unsigned flags, struct iomap *iomap)
{
	struct fake_fs *fs = cache_mapping_host(m);
	uint64_t start = ALIGN_DOWN(pos, PAGE_SIZE);
	int i;

	pthread_mutex_lock(&fs->lock);
	i = ext_find(fs, pos);
	if (i < 0) {
		uint64_t next = ext_next_start(fs, pos);

		if (flags & CACHE_MAP_WRITE) {
			struct fake_ext e = { .off = start, .type = IOMAP_DELALLOC };

			e.len = min_t(uint64_t, ALIGN_UP(pos + len, PAGE_SIZE), next) - start;
			ext_insert(fs, &e);
			i = ext_find(fs, pos);
		} else {
			iomap->offset = start;
			iomap->length = next == UINT64_MAX ? (1ull << 50) : next - start;
			iomap->type = IOMAP_HOLE;
			iomap->flags = 0;
			iomap->addr = IOMAP_NULL_ADDR;
		}
	}
	if (i >= 0)
		ext_to_iomap(&fs->ext[i], iomap);
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

/* Delalloc -> unwritten blocks, the whole extent at once. */
static ssize_t fake_writeback_range(struct writeback_ctx *wpc, struct folio *folio,
				    uint64_t pos, uint32_t len, uint64_t end_pos)
{
	struct fake_fs *fs = cache_mapping_host(wpc->mapping);
	int i;

	if (pos == atomic_load(&fs->fail_wb_at))
		return -ENOSPC;
	pthread_mutex_lock(&fs->lock);
	i = ext_find(fs, pos);
	if (i < 0) {
		pthread_mutex_unlock(&fs->lock);
		return -EIO;	/* dirty data over a hole: a cache bug */
	}
	if (fs->ext[i].type == IOMAP_DELALLOC) {
		fs->ext[i].type = IOMAP_UNWRITTEN;
		fs->ext[i].addr = fs->next_addr;
		fs->next_addr += fs->ext[i].len;
	}
	ext_to_iomap(&fs->ext[i], &wpc->iomap);
	pthread_mutex_unlock(&fs->lock);
	return cache_add_to_ioend(wpc, folio, pos, end_pos, len);
}

static int fake_writeback_submit(struct writeback_ctx *wpc, int error)
{
	return cache_ioend_writeback_submit(wpc, error);
}

static int fake_ioend_complete(struct ioend *ioend, int error)
{
	struct fake_fs *fs = cache_mapping_host(ioend->io_mapping);
	uint64_t pos, end = ioend->io_offset + ioend->io_size;
	char comm[16] = { 0 };

	prctl(PR_GET_NAME, comm);
	atomic_fetch_add(&fs->complete_calls, 1);
	if (!in_atomic_ctx() && !strncmp(comm, "iomapfs-wq/", 11))
		atomic_fetch_add(&fs->complete_in_worker, 1);
	else
		atomic_fetch_add(&fs->complete_elsewhere, 1);
	if (error) {
		atomic_fetch_add(&fs->complete_errors, 1);
		return 0;
	}
	pthread_mutex_lock(&fs->lock);
	ext_split_at(fs, ioend->io_offset);
	ext_split_at(fs, ALIGN_UP(end, PAGE_SIZE));
	for (pos = ioend->io_offset; pos < end;) {
		int i = ext_find(fs, pos);

		if (i < 0)
			break;
		fs->ext[i].type = IOMAP_MAPPED;
		pos = fs->ext[i].off + fs->ext[i].len;
	}
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

const struct cache_mapping_ops fake_ops = {
	.map_begin		= fake_map_begin,
	.writeback_range	= fake_writeback_range,
	.writeback_submit	= fake_writeback_submit,
	.ioend_complete		= fake_ioend_complete,
};

/* ---- the fault backend ---- */

static void fault_submit(struct blk_dev *dev, struct bio *bio)
{
	struct fake_fs *fs = blk_dev_ops_private(dev);

	if ((bio->bi_op == REQ_OP_WRITE && atomic_load(&fs->fail_writes)) ||
	    (bio->bi_op == REQ_OP_READ && atomic_load(&fs->fail_reads)))
		bio->bi_inject_status = -EIO;
	blk_dev_default_submit(dev, bio);
}

static const struct blk_dev_ops fault_ops = { .submit = fault_submit };

/* ---- setup ---- */

struct fake_fs *fake_fs_create(const struct cache_config *cfg,
			       const struct blk_dev_config *bcfg)
{
	struct fake_fs *fs = kzalloc(sizeof(*fs));
	struct blk_dev_config dflt = { .offload = BLK_OFFLOAD_THREAD };
	int fd;

	snprintf(fs->image, sizeof(fs->image), "%s/img-%d", unit_scratch_dir, (int)getpid());
	fd = open(fs->image, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, FAKE_IMAGE_SIZE), 0);
	close(fd);
	pthread_mutex_init(&fs->lock, NULL);
	fs->next_addr = FAKE_ALLOC_BASE;
	atomic_store(&fs->fail_wb_at, UINT64_MAX);
	ck_assert_int_eq(blk_dev_open(fs->image, bcfg ? bcfg : &dflt, &fs->dev), 0);
	blk_dev_set_ops(fs->dev, &fault_ops, fs);
	ck_assert_int_eq(cache_create(cfg, fs->dev, &fs->cache), 0);
	fs->m = fake_mapping_create(fs);
	return fs;
}

struct cache_mapping *fake_mapping_create(struct fake_fs *fs)
{
	return cache_mapping_create(fs->cache, &fake_ops, fs);
}

void fake_fs_destroy(struct fake_fs *fs)
{
	struct cache_mapping_stat ms;
	struct cache_stats st;

	/* Every folio leaves the index, and every folio returns to the arena. */
	cache_truncate_range(fs->m, 0, UINT64_MAX);
	cache_mapping_get_stat(fs->m, &ms);
	ck_assert_uint_eq(ms.cached, 0);
	ck_assert_uint_eq(ms.dirty, 0);
	ck_assert_uint_eq(ms.writeback, 0);
	cache_mapping_destroy(fs->m);
	cache_get_stats(fs->cache, &st);
	ck_assert_uint_eq(st.pages_resident, 0);
	ck_assert_uint_eq(st.pages_dirty, 0);
	ck_assert_uint_eq(st.pages_writeback, 0);
	cache_destroy(fs->cache);
	blk_dev_close(fs->dev);
	unlink(fs->image);
	ck_assert_uint_eq(atomic_load(&might_sleep_violations), 0);
	pthread_mutex_destroy(&fs->lock);
	kfree(fs);
}

void image_pwrite(struct fake_fs *fs, const void *buf, size_t len, uint64_t addr)
{
	int fd = open(fs->image, O_RDWR);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, buf, len, (off_t)addr), (ssize_t)len);
	ck_assert_int_eq(fsync(fd), 0);
	close(fd);
}

void fake_file_on_disk(struct fake_fs *fs, void *want, size_t len, uint64_t addr,
		       unsigned seed, uint64_t size)
{
	fill_pattern(want, len, seed);
	image_pwrite(fs, want, len, addr);
	fake_map(fs, 0, len, addr, IOMAP_MAPPED, 0);
	cache_mapping_set_size(fs->m, size);
}

void image_pread(struct fake_fs *fs, void *buf, size_t len, uint64_t addr)
{
	int fd = open(fs->image, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, len, (off_t)addr), (ssize_t)len);
	close(fd);
}

ssize_t read_through_cache(struct cache_mapping *m, void *buf, uint64_t pos,
			   size_t len, size_t chunk)
{
	struct cache_read_result *res = kmalloc(sizeof(*res));
	char *out = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = cache_read(m, pos + done, min_t(size_t, chunk, len - done), res);
		unsigned i;

		if (n <= 0) {
			kfree(res);
			return done ? (ssize_t)done : n;
		}
		for (i = 0; i < res->nr_iov; i++) {
			memcpy(out + done, res->iov[i].iov_base, res->iov[i].iov_len);
			done += res->iov[i].iov_len;
		}
		ck_assert_uint_eq(res->bytes, (size_t)n);
		cache_read_done(res);
	}
	kfree(res);
	return (ssize_t)done;
}

struct blk_stats dev_stats(struct fake_fs *fs)
{
	struct blk_stats st;

	blk_dev_get_stats(fs->dev, &st);
	return st;
}

uint64_t dev_bytes_read(struct fake_fs *fs)
{
	return dev_stats(fs).bytes_read;
}

uint64_t cache_deferred(struct fake_fs *fs, enum cache_defer_reason reason)
{
	struct timespec ts = { 0, 1000 * 1000 };
	int i;

	for (i = 0; i < 10000 && !cache_stats_now(fs).deferred[reason]; i++)
		nanosleep(&ts, NULL);
	return cache_stats_now(fs).deferred[reason];
}

struct cache_stats cache_stats_now(struct fake_fs *fs)
{
	struct cache_stats st;

	cache_get_stats(fs->cache, &st);
	return st;
}
