/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared fixture of the cache/ unit suites: a tiny fake filesystem (an
 * in-memory extent map over an image file opened with blk_dev_open) that
 * implements cache_mapping_ops, and a fault-injecting device backend.
 */
#ifndef IOMAPFS_CACHE_TEST_H
#define IOMAPFS_CACHE_TEST_H

#include <check.h>
#include "unit.h"
#include <iomapfs/cache.h>
#include <pthread.h>

#define FAKE_MAX_EXT	512
#define FAKE_ALLOC_BASE	(16ull << 20)	/* delalloc blocks come from here up */
#define FAKE_IMAGE_SIZE	(128ull << 20)

struct fake_ext {
	uint64_t	off, len;	/* file bytes, block aligned */
	uint64_t	addr;		/* device bytes; unused for delalloc */
	uint16_t	type;		/* enum iomap_type (never IOMAP_HOLE) */
	uint16_t	flags;		/* IOMAP_F_* reported with it */
};

struct fake_fs {
	char			image[256];
	struct blk_dev		*dev;
	struct cache		*cache;
	struct cache_mapping	*m;

	pthread_mutex_t		lock;		/* the extent map */
	struct fake_ext		ext[FAKE_MAX_EXT];	/* sorted by off */
	unsigned		nr_ext;
	uint64_t		next_addr;	/* block allocator */

	/* What ->ioend_complete saw. */
	atomic_int		complete_calls;
	atomic_int		complete_in_worker;	/* thread "iomapfs-wq/N" */
	atomic_int		complete_elsewhere;
	atomic_int		complete_errors;

	/* Fault injection: fail device writes / reads while set. */
	atomic_int		fail_writes, fail_reads;
	/* ->writeback_range fails with -ENOSPC at this file offset. */
	_Atomic uint64_t	fail_wb_at;
};

extern const struct cache_mapping_ops fake_ops;

/* A scratch directory under /var/tmp for the whole run. */
int cache_test_run(Suite *s);

/* Image, device, cache (with @cfg) and one mapping on the fake fs. */
struct fake_fs *fake_fs_create(const struct cache_config *cfg,
			       const struct blk_dev_config *bcfg);
struct cache_mapping *fake_mapping_create(struct fake_fs *fs);
void fake_fs_destroy(struct fake_fs *fs);

/* Map file [off, off+len) to device @addr with @type and IOMAP_F_* @flags. */
void fake_map(struct fake_fs *fs, uint64_t off, uint64_t len, uint64_t addr,
	      uint16_t type, uint16_t flags);
/* True if every byte of [off, off+len) is in an IOMAP_MAPPED extent. */
bool fake_range_is_written(struct fake_fs *fs, uint64_t off, uint64_t len);

/* Write/read the image file directly (not through the cache). */
void image_pwrite(struct fake_fs *fs, const void *buf, size_t len, uint64_t addr);
void image_pread(struct fake_fs *fs, void *buf, size_t len, uint64_t addr);

void fill_pattern(void *buf, size_t len, unsigned seed);
/* A file whose first @len bytes are pattern @seed (also left in @want),
 * written on the image at @addr and mapped there, of size @size. */
void fake_file_on_disk(struct fake_fs *fs, void *want, size_t len, uint64_t addr,
		       unsigned seed, uint64_t size);
/* Read [pos, pos+len) through the cache into @buf, in @chunk pieces. */
ssize_t read_through_cache(struct cache_mapping *m, void *buf, uint64_t pos,
			   size_t len, size_t chunk);

uint64_t dev_bytes_read(struct fake_fs *fs);
/*
 * The cache's deferred[@reason] counter; the reaper bumps it while it
 * defers, so poll (bounded) until it is non-zero.
 */
uint64_t cache_deferred(struct fake_fs *fs, enum cache_defer_reason reason);
struct blk_stats dev_stats(struct fake_fs *fs);
struct cache_stats cache_stats_now(struct fake_fs *fs);

#endif /* IOMAPFS_CACHE_TEST_H */
