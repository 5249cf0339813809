// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Mount and unmount of the metadata engine: reading and verifying the
 * superblock (the primary at block 0, the copy at block 1 when the primary
 * is bad), journal replay, loading the free-space bitmap, the mount state
 * in the superblock, the log thread's lifetime, and the small accessors
 * (inode numbers, stats).
 *
 * Superblock states: CLEAN on disk after a clean unmount; 0 while mounted
 * read-write (so a crash is visible); ERROR once an error was seen, kept
 * until fsck clears it.
 */
#include "meta_internal.h"

#include <time.h>

void meta_super_to_block(const struct iomapfs_super *sb, void *block)
{
	memset(block, 0, IOMAPFS_BLOCK_SIZE);
	memcpy(block, sb, sizeof(*sb));
	meta_super_set_crc(block);
}

/* Is the geometry consistent with itself and the device?  -EINVAL when the
 * device is too small, -EUCLEAN when the superblock contradicts itself. */
int meta_super_check_geometry(const struct iomapfs_super *sb, uint64_t dev_blocks,
			      const char **why)
{
	uint64_t static_end = sb->bitmap_start + sb->bitmap_blocks;

	if (sb->nr_blocks > dev_blocks) {
		*why = "image smaller than the superblock says";
		return -EINVAL;
	}
	if (sb->block_size != IOMAPFS_BLOCK_SIZE)
		*why = "unsupported block size";
	else if (sb->journal_start != 2 || sb->journal_blocks < 16 ||
		 sb->journal_blocks > META_JOURNAL_MAX ||
		 sb->bitmap_start != sb->journal_start + sb->journal_blocks)
		*why = "bad journal geometry";
	else if (sb->bitmap_blocks != meta_bitmap_groups(sb->nr_blocks) ||
		 static_end >= sb->nr_blocks)
		*why = "bad bitmap geometry";
	else if (sb->root_node < static_end || sb->root_node >= sb->nr_blocks ||
		 sb->tree_height < 1 || sb->tree_height > META_MAX_HEIGHT)
		*why = "bad B+tree root";
	else
		return 0;
	return -EUCLEAN;
}

/*
 * A superblock image in the journal is about to replace the one the mount
 * checked.  Nothing after mkfs changes an image's layout, so the image
 * must describe the same filesystem (UUID, version, features, geometry)
 * and what a transaction does change (the B+tree root and height) must
 * pass the mount's checks.  Without this, a crafted journal could shrink
 * nr_blocks under fsck's block map or move the data area onto the
 * journal.  NULL when the image is acceptable, else what is wrong.
 */
const char *meta_super_replay_problem(struct meta *m, const void *block)
{
	const struct iomapfs_super *img = block, *cur = &m->sb;
	uint64_t dev_blocks = blk_dev_size(m->dev) >> IOMAPFS_BLOCK_SHIFT;
	const char *why = NULL;

	if (img->magic != IOMAPFS_SB_MAGIC || !meta_super_crc_ok(block))
		return "bad magic or checksum";
	if (memcmp(img->uuid, cur->uuid, sizeof(img->uuid)) ||
	    img->version != cur->version || img->feat_incompat != cur->feat_incompat ||
	    img->feat_ro_compat != cur->feat_ro_compat)
		return "another filesystem's superblock";
	if (img->nr_blocks != cur->nr_blocks || img->block_size != cur->block_size ||
	    img->journal_start != cur->journal_start ||
	    img->journal_blocks != cur->journal_blocks ||
	    img->bitmap_start != cur->bitmap_start ||
	    img->bitmap_blocks != cur->bitmap_blocks)
		return "geometry differs from the mounted superblock";
	if (meta_super_check_geometry(img, dev_blocks, &why))
		return why;
	return NULL;
}

static bool sb_magic_ok(const void *blk)
{
	return ((const struct iomapfs_super *)blk)->magic == IOMAPFS_SB_MAGIC;
}

static bool sb_valid(const void *blk)
{
	return sb_magic_ok(blk) && meta_super_crc_ok(blk);
}

/* Pick the primary or the copy.  *used_copy says which. */
static int read_super(struct blk_dev *dev, struct iomapfs_super *sb, bool *used_copy)
{
	uint8_t *blk = aligned_alloc(IOMAPFS_BLOCK_SIZE, 2 * IOMAPFS_BLOCK_SIZE);
	uint8_t *copy = blk + IOMAPFS_BLOCK_SIZE;
	int err;

	if (!blk)
		return -ENOMEM;
	err = blk_rw_sync(dev, REQ_OP_READ, blk, 2 * IOMAPFS_BLOCK_SIZE, 0);
	if (err) {
		iomapfs_err("cannot read the superblock: %s", strerror(-err));
		goto out;
	}
	*used_copy = false;
	if (sb_valid(blk)) {
		memcpy(sb, blk, sizeof(*sb));
	} else if (sb_valid(copy)) {
		iomapfs_warn("primary superblock %s; using the copy at block 1",
			sb_magic_ok(blk) ? "checksum mismatch" : "is not an iomapfs superblock");
		memcpy(sb, copy, sizeof(*sb));
		*used_copy = true;
	} else if (!sb_magic_ok(blk) && !sb_magic_ok(copy)) {
		iomapfs_err("not an iomapfs filesystem");
		err = -EINVAL;
	} else {
		iomapfs_err("superblock checksum mismatch (primary and copy)");
		err = -EUCLEAN;
	}
out:
	free(blk);
	return err;
}

static int check_super(struct iomapfs_super *sb, uint64_t dev_blocks, bool *readonly)
{
	const char *why;
	int err;

	if (sb->version != IOMAPFS_VERSION) {
		iomapfs_err("unsupported format version %u", sb->version);
		return -EOPNOTSUPP;
	}
	if (sb->feat_incompat & ~IOMAPFS_FEAT_INCOMPAT_SUPPORTED) {
		iomapfs_err("unknown incompatible features 0x%llx",
			(unsigned long long)(sb->feat_incompat & ~IOMAPFS_FEAT_INCOMPAT_SUPPORTED));
		return -EOPNOTSUPP;
	}
	if ((sb->feat_ro_compat & ~IOMAPFS_FEAT_RO_COMPAT_SUPPORTED) && !*readonly) {
		iomapfs_warn("unknown read-only-compatible features 0x%llx: "
			"mounting read-only", (unsigned long long)sb->feat_ro_compat);
		*readonly = true;
	}
	err = meta_super_check_geometry(sb, dev_blocks, &why);
	if (err)
		iomapfs_err("%s (superblock: %llu blocks, device: %llu blocks)",
			why, (unsigned long long)sb->nr_blocks, (unsigned long long)dev_blocks);
	return err;
}

static struct meta *meta_alloc(struct blk_dev *dev, const struct iomapfs_super *sb,
			       const struct meta_mount_opts *opts, bool readonly)
{
	struct meta *m = kzalloc(sizeof(*m));

	m->dev = dev;
	rwsem_init_writer_first(&m->lock);
	rwsem_init_spinning(&m->tree_lock);
	pthread_mutex_init(&m->commit_lock, NULL);
	mutex_init_adaptive(&m->h_lock);
	pthread_cond_init(&m->h_cond, NULL);
	m->sb = *sb;
	m->sb_disk = *sb;
	m->readonly = readonly;
	m->nr_blocks = sb->nr_blocks;
	m->sb_block = meta_alloc_block();
	m->j_scratch = meta_alloc_block();
	m->j_cap = sb->journal_blocks - 1;
	m->j_head = 1;
	INIT_LIST_HEAD(&m->txn_list);
	m->commit_interval_ms = opts ? opts->commit_interval_ms :
					     IOMAPFS_DEFAULT_COMMIT_INTERVAL_MS;
	m->commit_each_section = opts && opts->commit_each_section;
	mbuf_cache_init(m, opts && opts->buf_cache_bytes ? opts->buf_cache_bytes
							 : META_BUF_LIMIT_DEFAULT);
	return m;
}

static void meta_free(struct meta *m)
{
	meta_journal_destroy(m);	/* before the buffers its writes hold */
	mbuf_cache_destroy(m);
	meta_alloc_destroy(m);
	free(m->sb_block);
	free(m->j_scratch);
	pthread_mutex_destroy(&m->commit_lock);
	pthread_cond_destroy(&m->h_cond);
	pthread_mutex_destroy(&m->h_lock);
	rwsem_destroy(&m->tree_lock);
	rwsem_destroy(&m->lock);
	kfree(m);
}

/* After replay the primary holds the newest superblock. */
static int reread_super(struct meta *m)
{
	struct iomapfs_super sb;
	bool used_copy;
	int err = read_super(m->dev, &sb, &used_copy);

	if (err)
		return err;
	m->sb = sb;
	m->sb_disk = sb;
	return 0;
}

/* Read-write mount: record the mount in the superblock, through a commit. */
static int mark_mounted(struct meta *m, bool rewrite_primary)
{
	struct timespec ts;
	int err = 0;

	if (rewrite_primary)
		err = meta_write_super_direct(m);
	if (err)
		return err;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (m->sb.state == IOMAPFS_STATE_ERROR)
		iomapfs_err("the filesystem has errors; run fsck.iomapfs");
	else
		m->sb.state = 0;
	m->sb.mount_count++;
	m->sb.mount_time_ns = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	m->sb_dirty = true;
	meta_lock(m);
	err = meta_commit_locked(m);
	meta_unlock(m);
	return err;
}

int meta_mount(struct blk_dev *dev, const struct meta_mount_opts *opts,
	       struct meta **out)
{
	uint64_t dev_blocks = blk_dev_size(dev) >> IOMAPFS_BLOCK_SHIFT;
	bool readonly = opts && opts->readonly, used_copy;
	struct iomapfs_super sb;
	struct meta *m;
	int err, replayed;

	if (dev_blocks < 2) {
		iomapfs_err("not an iomapfs filesystem (device too small)");
		return -EINVAL;
	}
	err = read_super(dev, &sb, &used_copy);
	if (!err)
		err = check_super(&sb, dev_blocks, &readonly);
	if (err)
		return err;
	m = meta_alloc(dev, &sb, opts, readonly);
	replayed = meta_journal_replay(m, !readonly && !(opts && opts->no_replay),
				       opts && (opts->no_replay || opts->salvage_journal));
	err = replayed < 0 ? replayed : 0;
	if (!err && replayed > 0 && !readonly && !(opts && opts->no_replay))
		err = reread_super(m);
	/* A shutdown marks the superblock ERROR in place, outside the journal;
	 * replaying the images of earlier commits (the lazy tail) must not
	 * clear it. */
	if (!err && replayed > 0 && sb.state == IOMAPFS_STATE_ERROR)
		m->sb.state = IOMAPFS_STATE_ERROR;
	if (!err)
		err = meta_alloc_load(m);
	if (!err && !readonly)
		err = mark_mounted(m, used_copy);
	if (!err)
		err = meta_log_start(m);
	if (err) {
		meta_free(m);
		return err;
	}
	*out = m;
	return 0;
}

void meta_clear_error(struct meta *m)
{
	meta_lock(m);
	if (m->sb.state == IOMAPFS_STATE_ERROR) {
		m->sb.state = 0;
		m->sb_dirty = true;
	}
	meta_unlock(m);
}

int meta_unmount(struct meta *m)
{
	int err = 0;

	meta_log_stop(m);
	if (atomic_load(&m->shutdown)) {
		err = -EIO;
	} else if (!m->readonly) {
		meta_lock(m);
		if (m->sb.state != IOMAPFS_STATE_ERROR)
			m->sb.state = IOMAPFS_STATE_CLEAN;
		m->sb_dirty = true;
		err = meta_commit_locked(m);
		meta_unlock(m);
		/* Leave the journal empty: a clean tail, nothing to replay. */
		if (!err)
			err = meta_journal_checkpoint_all(m);
	}
	meta_free(m);
	return err;
}

struct blk_dev *meta_dev(struct meta *m)
{
	return m->dev;
}

const struct iomapfs_super *meta_super(struct meta *m)
{
	return &m->sb;
}

/* Concurrent handles share the superblock's counters: space_lock. */
uint64_t meta_alloc_ino(struct meta *m)
{
	uint64_t ino;

	WARN_ON_ONCE(!meta_may_modify(m));
	pthread_mutex_lock(&m->alloc.space_lock);
	ino = m->sb.next_ino++;
	pthread_mutex_unlock(&m->alloc.space_lock);
	m->sb_dirty = true;
	return ino;
}

void meta_inodes_changed(struct meta *m, int64_t delta)
{
	WARN_ON_ONCE(!meta_may_modify(m));
	pthread_mutex_lock(&m->alloc.space_lock);
	m->sb.nr_inodes += delta;
	pthread_mutex_unlock(&m->alloc.space_lock);
	m->sb_dirty = true;
}

void meta_get_stats(struct meta *m, struct meta_stats *st)
{
	st->commits = atomic_load(&m->st_commits);
	st->sections = atomic_load(&m->st_sections);
	st->journal_blocks_written = atomic_load(&m->st_jblocks);
	st->checkpoints = atomic_load(&m->st_checkpoints);
	st->replayed_txns = atomic_load(&m->st_replayed);
	st->preflushes = atomic_load(&m->st_preflushes);
	st->handles_max = atomic_load(&m->st_handles_max);
	st->handle_waits = atomic_load(&m->st_handle_waits);
	st->oversize_refused = atomic_load(&m->st_oversize);
	st->buf_hits = atomic_load(&m->st_buf_hits);
	st->buf_misses = atomic_load(&m->st_buf_misses);
	st->buf_cached = atomic_load(&m->st_buf_cached);
	st->buf_readahead = atomic_load(&m->st_buf_ra);
}
