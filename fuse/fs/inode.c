// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * In-memory inodes: the inode cache (a hash by inode number, as libfuse's
 * passthrough_hp keeps its inode table), loading and writing INODE items,
 * link counts and orphans, lookup/open bookkeeping and eviction, which
 * writes an inode back or, when it has no links left, frees it on disk.
 *
 * Counters and their lock: refcount (fs_iget/fs_iput), nlookup (FUSE
 * lookup/forget) and nopen (open files) are protected by fs.icache_lock,
 * so the final put and fs_iget's hash lookup agree without another lock.
 * An inode leaves the cache when all three are zero: its ->freeing flag
 * is set under icache_lock, it is written back (or freed on disk) with no
 * lock held, and it leaves the hash afterwards; an fs_iget that finds it
 * meanwhile waits on fs.icache_wait and then reads it again from disk.
 *
 * Attribute rule (fs_internal.h): changes made by the data side are written
 * in a section right away, except a write's timestamps; fs_inode_touch()
 * only marks dirty, and whatever is still dirty is written at fsync,
 * syncfs, unmount and eviction, and by the flusher after the data.
 *
 * Freeing an unlinked inode (nlink, nlookup and nopen all 0), outside any
 * section: drop its cached folios (dirty data is discarded, nobody can
 * read it again), then free its extents from the end in sections bounded by
 * the journal (fs_extent_punch_step), each leaving a consistent smaller inode, then delete its
 * xattrs, symlink chunks, INODE and ORPHAN items in one last section.  A
 * crash in between leaves the ORPHAN item, and the next mount finishes the
 * job (fs_free_orphans).  The data part runs early, at the last close or
 * unlink, when only the kernel's lookup count still holds the inode: the
 * space comes back at unlink, as on a local filesystem, not whenever the
 * kernel gets round to sending FORGET.
 *
 * Runs in FUSE request threads, except the last fs_iput() of an inode,
 * which may run wherever the reference was dropped (never the reaper).
 */
#include <dirent.h>
#include <string.h>
#include <time.h>
#include "fs_internal.h"

static struct timespec now_ts(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

/* ---- the hash ---- */

static size_t ihash_slot(const struct fs *fs, uint64_t ino)
{
	return (ino * 0x9e3779b97f4a7c15ull) >> 32 & (fs->ihash_size - 1);
}

static struct fs_inode *ihash_find_locked(struct fs *fs, uint64_t ino)
{
	struct fs_inode *ip = fs->ihash[ihash_slot(fs, ino)];

	while (ip && ip->ino != ino)
		ip = ip->hash_next;
	return ip;
}

static void ihash_insert_locked(struct fs *fs, struct fs_inode *ip)
{
	struct fs_inode **head = &fs->ihash[ihash_slot(fs, ip->ino)];

	ip->hash_next = *head;
	*head = ip;
	fs->nr_cached++;
}

static void ihash_remove(struct fs *fs, struct fs_inode *ip)
{
	pthread_mutex_lock(&fs->icache_lock);
	for (struct fs_inode **pp = &fs->ihash[ihash_slot(fs, ip->ino)]; *pp;
	     pp = &(*pp)->hash_next) {
		if (*pp == ip) {
			*pp = ip->hash_next;
			fs->nr_cached--;
			break;
		}
	}
	pthread_cond_broadcast(&fs->icache_wait);
	pthread_mutex_unlock(&fs->icache_lock);
}

/* ---- memory ---- */

static struct fs_inode *inode_new(struct fs *fs, uint64_t ino)
{
	struct fs_inode *ip = kzalloc(sizeof(*ip));

	if (!ip)
		return NULL;
	ip->ino = ino;
	ip->fs = fs;
	ip->refcount = 1;
	ip->ext_dirty_lo = UINT64_MAX;
	rwsem_init(&ip->rwsem);
	rwsem_init(&ip->sect_lock);
	pthread_mutex_init(&ip->lock, NULL);
	return ip;
}

/* ---- write sections ---- */

void fs_section_begin(struct fs_section *s, struct fs *fs,
		      struct fs_inode *const *ips, unsigned n)
{
	s->m = fs->meta;
	s->n = 0;
	for (unsigned i = 0; i < n; i++) {
		struct fs_inode *ip = ips[i];
		unsigned j;

		if (!ip)
			continue;
		for (j = 0; j < s->n && s->ip[j] != ip; j++)
			;
		if (j < s->n || WARN_ON_ONCE(s->n == FS_SECTION_MAX))
			continue;
		/* Insertion by inode number: the one lock order. */
		for (j = s->n; j > 0 && s->ip[j - 1]->ino > ip->ino; j--)
			s->ip[j] = s->ip[j - 1];
		s->ip[j] = ip;
		s->n++;
	}
	meta_begin(s->m);
	for (unsigned i = 0; i < s->n; i++)
		down_write(&s->ip[i]->sect_lock);
}

void fs_section_adopt(struct fs_section *s, struct fs_inode *ip)
{
	if (WARN_ON_ONCE(s->n == FS_SECTION_MAX))
		return;
	/* New, so free: the order cannot be broken by waiting on it. */
	down_write(&ip->sect_lock);
	s->ip[s->n++] = ip;
}

void fs_section_end(struct fs_section *s)
{
	while (s->n)
		up_write(&s->ip[--s->n]->sect_lock);
	meta_end(s->m);
}

/* Regular files get a cache mapping that holds i_size. */
static int inode_setup_mapping(struct fs_inode *ip)
{
	if (!S_ISREG(ip->di.mode))
		return 0;
	ip->mapping = cache_mapping_create(ip->fs->cache, &fs_file_mapping_ops, ip);
	if (IS_ERR_OR_NULL(ip->mapping)) {
		ip->mapping = NULL;
		return -ENOMEM;
	}
	cache_mapping_set_ino(ip->mapping, ip->ino);
	cache_mapping_set_size(ip->mapping, ip->di.size);
	cache_mapping_set_dontcache(ip->mapping,
				    ip->di.flags & IOMAPFS_INODE_DONTCACHE);
	return 0;
}

/*
 * Free the memory; the mapping must hold no dirty data we still want.
 * Delalloc left behind (its writeback failed, or the filesystem was shut
 * down) gives its reservation back: it can never be allocated now.
 */
static void inode_destroy(struct fs_inode *ip)
{
	if (ip->delalloc_blocks || ip->delalloc_meta)
		alloc_unreserve(ip->fs->meta, ip->delalloc_blocks + ip->delalloc_meta);
	if (ip->mapping)
		cache_mapping_destroy(ip->mapping);
	fs_ext_map_free(ip);
	rwsem_destroy(&ip->rwsem);
	rwsem_destroy(&ip->sect_lock);
	pthread_mutex_destroy(&ip->lock);
	kfree(ip);
}

/*
 * What is wrong with an inode item just read, or NULL.  An unlinked inode
 * is freed at its last reference, so a root or reserved inode with no
 * link (never the case on a sound image) would take the whole tree with
 * it: refuse it, and fsck, which recounts links, can repair it.
 */
static const char *dinode_problem(const struct fs_inode *ip, uint32_t len)
{
	if (len != sizeof(ip->di) || ip->di.ino != ip->ino)
		return "malformed inode item";
	if (ip->ino < IOMAPFS_FIRST_INO && !ip->di.nlink)
		return "reserved inode with no links";
	if (ip->di.size > IOMAPFS_MAX_FILE_SIZE)
		return "size past the largest file";
	return NULL;
}

/* Read the INODE item and the extent map in a section of our own. */
static int inode_read(struct fs_inode *ip)
{
	struct meta *m = ip->fs->meta;
	struct iomapfs_key key = meta_key(ip->ino, IOMAPFS_ITEM_INODE, 0);
	uint32_t len = sizeof(ip->di);
	const char *why;
	int err;

	meta_begin_read(m);
	err = btree_lookup(m, &key, &ip->di, &len);
	why = err ? NULL : dinode_problem(ip, len);
	if (why) {
		fprintf(stderr, "iomapfs: inode %llu: %s\n", (unsigned long long)ip->ino, why);
		err = -EUCLEAN;
	}
	if (!err && S_ISREG(ip->di.mode))
		err = fs_extent_load(ip);
	meta_end_read(m);
	return err;
}

/* ---- get and put ---- */

/* Under icache_lock: a cached inode with a new reference, or NULL.  Waits
 * while an inode with that number is being evicted or loaded. */
static struct fs_inode *icache_get_locked(struct fs *fs, uint64_t ino)
{
	struct fs_inode *ip;

	while ((ip = ihash_find_locked(fs, ino)) && (ip->freeing || ip->loading))
		pthread_cond_wait(&fs->icache_wait, &fs->icache_lock);
	if (ip)
		ip->refcount++;
	return ip;
}

/*
 * The inode is hashed, flagged ->loading, BEFORE it is read: a reader that
 * inserted its copy only after reading could otherwise cache a stale dinode
 *
 *	A: miss, read dinode v1
 *	                          B: load, change to v2, write, evict
 *	A: insert v1		  -> B's change is lost
 *
 * Anyone else asking for it meanwhile waits on icache_wait.
 */
int fs_iget(struct fs *fs, uint64_t ino, struct fs_inode **out)
{
	struct fs_inode *ip, *new;
	int err;

	if (fs_is_shutdown(fs))
		return -EIO;
	new = inode_new(fs, ino);
	if (!new)
		return -ENOMEM;
	pthread_mutex_lock(&fs->icache_lock);
	ip = icache_get_locked(fs, ino);
	if (!ip) {
		new->loading = true;
		ihash_insert_locked(fs, new);
	}
	pthread_mutex_unlock(&fs->icache_lock);
	if (ip) {
		inode_destroy(new);
		goto out;
	}
	ip = new;
	err = inode_read(ip);
	if (!err)
		err = inode_setup_mapping(ip);
	if (err) {
		ihash_remove(fs, ip);	/* wakes the waiters, who retry */
		inode_destroy(ip);
		return err;
	}
	pthread_mutex_lock(&fs->icache_lock);
	ip->loading = false;
	pthread_cond_broadcast(&fs->icache_wait);
	pthread_mutex_unlock(&fs->icache_lock);
out:
	*out = ip;
	return 0;
}

static bool inode_is_dirty(struct fs_inode *ip)
{
	bool dirty;

	pthread_mutex_lock(&ip->lock);
	dirty = ip->dirty;
	pthread_mutex_unlock(&ip->lock);
	return dirty;
}

static bool inode_unused_locked(const struct fs_inode *ip)
{
	return !ip->refcount && !ip->nlookup && !ip->nopen;
}

static int inode_free_disk(struct fs_inode *ip);

/*
 * Write back an inode that is leaving the cache, or free it on disk when
 * it has no links.  No lock held; nobody else can reach it (->freeing).
 */
static int inode_evict(struct fs_inode *ip)
{
	struct fs *fs = ip->fs;
	int err = 0, err2;

	if (fs_is_shutdown(fs) || fs_ro(fs))
		return 0;
	if (!ip->di.nlink)
		return inode_free_disk(ip);
	if (ip->mapping)
		err = cache_write_and_wait_range(ip->mapping, 0, UINT64_MAX, true);
	err2 = fs_inode_write_if_dirty(ip);
	return err ? err : err2;
}

static int inode_free_data(struct fs_inode *ip);

/*
 * Under icache_lock: an unlinked inode that nobody has open or referenced,
 * but that the kernel still knows (nlookup > 0).  Nothing can reach its
 * data any more (no name, no open file), so its blocks are freed now
 * rather than when the kernel's FORGET arrives, which may be after the
 * next writer has hit ENOSPC.
 */
static bool inode_data_unreachable_locked(const struct fs_inode *ip, bool unlinked)
{
	return unlinked && !ip->refcount && !ip->nopen && ip->nlookup &&
	       !ip->freeing && !ip->data_freed && ip->mapping;
}

/* Drop a reference; the last one of an unused inode evicts it. */
static int inode_put(struct fs_inode *ip)
{
	struct fs *fs = ip->fs;
	bool unlinked;
	int err;

	pthread_mutex_lock(&ip->lock);
	unlinked = !ip->di.nlink;
	pthread_mutex_unlock(&ip->lock);

	pthread_mutex_lock(&fs->icache_lock);
	if (WARN_ON_ONCE(!ip->refcount)) {
		pthread_mutex_unlock(&fs->icache_lock);
		return -EIO;
	}
	ip->refcount--;
	if (inode_data_unreachable_locked(ip, unlinked)) {
		ip->data_freed = true;
		ip->refcount++;		/* ours while we free */
		pthread_mutex_unlock(&fs->icache_lock);
		err = inode_free_data(ip);
		return inode_put(ip) ?: err;
	}
	if (!inode_unused_locked(ip) || ip->freeing) {
		pthread_mutex_unlock(&fs->icache_lock);
		return 0;
	}
	ip->freeing = true;
	pthread_mutex_unlock(&fs->icache_lock);

	err = inode_evict(ip);
	ihash_remove(fs, ip);
	inode_destroy(ip);
	return err;
}

void fs_iput(struct fs_inode *ip)
{
	if (ip)
		inode_put(ip);
}

struct fs_inode *fs_igrab(struct fs_inode *ip)
{
	pthread_mutex_lock(&ip->fs->icache_lock);
	WARN_ON_ONCE(!ip->refcount || ip->freeing);
	ip->refcount++;
	pthread_mutex_unlock(&ip->fs->icache_lock);
	return ip;
}

void fs_inode_lookup_inc(struct fs_inode *ip)
{
	pthread_mutex_lock(&ip->fs->icache_lock);
	ip->nlookup++;
	pthread_mutex_unlock(&ip->fs->icache_lock);
}

void fs_forget(struct fs *fs, uint64_t ino, uint64_t n)
{
	struct fs_inode *ip;

	pthread_mutex_lock(&fs->icache_lock);
	ip = ihash_find_locked(fs, ino);
	if (WARN_ON_ONCE(!ip || ip->freeing || ip->loading)) {
		pthread_mutex_unlock(&fs->icache_lock);
		return;
	}
	if (WARN_ON_ONCE(n > ip->nlookup))
		n = ip->nlookup;	/* below zero is a bug: clamp */
	ip->nlookup -= n;
	ip->refcount++;		/* so the put below may evict it */
	pthread_mutex_unlock(&fs->icache_lock);
	fs_iput(ip);
}

uint64_t *fs_inodes_known(struct fs *fs, size_t *nr)
{
	uint64_t *inos;
	size_t n = 0;

	pthread_mutex_lock(&fs->icache_lock);
	inos = kmalloc((fs->nr_cached ? fs->nr_cached : 1) * sizeof(*inos));
	for (size_t i = 0; i < fs->ihash_size; i++)
		for (struct fs_inode *ip = fs->ihash[i]; ip; ip = ip->hash_next)
			if (ip->nlookup && !ip->freeing && n < fs->nr_cached)
				inos[n++] = ip->ino;
	pthread_mutex_unlock(&fs->icache_lock);
	*nr = n;
	return inos;
}

void fs_inode_open(struct fs_inode *ip)
{
	pthread_mutex_lock(&ip->fs->icache_lock);
	ip->nopen++;
	pthread_mutex_unlock(&ip->fs->icache_lock);
}

void fs_inode_release(struct fs_inode *ip)
{
	pthread_mutex_lock(&ip->fs->icache_lock);
	if (!WARN_ON_ONCE(!ip->nopen))
		ip->nopen--;
	ip->refcount++;
	pthread_mutex_unlock(&ip->fs->icache_lock);
	fs_iput(ip);
}

/* ---- attributes ---- */

/*
 * fdatasync(2) must make durable what is needed to find the data again:
 * the size and the extents, not the timestamps.  ip->last_data_txn notes
 * the transaction of the last such change: a new on-disk size here
 * (fs_inode_set_disk_size_locked), new extents in fs_extent_store().
 * ip->di.size is the on-disk size, not the mapping's: it moves only where
 * the data behind it is safe (see fs_internal.h).
 */
int fs_inode_write(struct fs_inode *ip)
{
	struct meta *m = ip->fs->meta;
	struct iomapfs_key key = meta_key(ip->ino, IOMAPFS_ITEM_INODE, 0);
	bool data_changed;
	int err;

	pthread_mutex_lock(&ip->lock);
	data_changed = ip->disk_size_changed;
	err = fs_extent_store(ip);
	ip->di.blocks = fs_extent_blocks(ip);
	if (!err)
		err = btree_insert(m, &key, &ip->di, sizeof(ip->di));
	if (!err) {
		ip->dirty = false;
		ip->disk_size_changed = false;
		ip->last_txn = meta_running_seq(m);
		if (data_changed)
			ip->last_data_txn = ip->last_txn;
	} else {
		/* Memory is ahead of the disk (say, extents that writeback
		 * allocated): stay dirty, so fsync, syncfs or eviction stores
		 * them, or the blocks would be allocated in the bitmap and
		 * owned by nobody on disk. */
		ip->dirty = true;
	}
	pthread_mutex_unlock(&ip->lock);
	return err;
}

void fs_inode_set_disk_size_locked(struct fs_inode *ip, uint64_t size)
{
	if (ip->di.size == size)
		return;
	ip->di.size = size;
	ip->disk_size_changed = true;
	ip->dirty = true;
}

/*
 * Whether a linked inode is dirty is read again inside the section: an
 * unlink may have made it an orphan meanwhile, whose INODE item the
 * eviction deletes, and a late write must not bring that item back.
 */
int fs_inode_write_if_dirty(struct fs_inode *ip)
{
	struct fs_section sect;
	struct fs *fs = ip->fs;
	bool dirty;
	int err = 0;

	if (fs_is_shutdown(fs) || fs_ro(fs) || !inode_is_dirty(ip))
		return 0;
	fs_section_begin1(&sect, ip);
	pthread_mutex_lock(&ip->lock);
	dirty = ip->dirty && ip->di.nlink;
	pthread_mutex_unlock(&ip->lock);
	if (dirty)
		err = fs_inode_write(ip);
	fs_section_end(&sect);
	return err;
}

int fs_inode_mark_dirty(struct fs_inode *ip)
{
	struct fs_section sect;
	struct fs *fs = ip->fs;
	int err;

	if (fs_is_shutdown(fs))
		return -EIO;
	if (fs_ro(fs))
		return -EROFS;
	pthread_mutex_lock(&ip->lock);
	ip->dirty = true;
	pthread_mutex_unlock(&ip->lock);
	fs_section_begin1(&sect, ip);
	err = fs_inode_write(ip);
	fs_section_end(&sect);
	return err;
}

void fs_inode_touch(struct fs_inode *ip, unsigned which)
{
	struct timespec ts = now_ts();

	pthread_mutex_lock(&ip->lock);
	if (which & FS_TOUCH_ATIME) {
		ip->di.atime_sec = ts.tv_sec;
		ip->di.atime_nsec = ts.tv_nsec;
	}
	if (which & FS_TOUCH_MTIME) {
		ip->di.mtime_sec = ts.tv_sec;
		ip->di.mtime_nsec = ts.tv_nsec;
	}
	if (which & FS_TOUCH_CTIME) {
		ip->di.ctime_sec = ts.tv_sec;
		ip->di.ctime_nsec = ts.tv_nsec;
	}
	ip->dirty = true;
	pthread_mutex_unlock(&ip->lock);
}

int fs_set_inode_flags(struct fs_inode *ip, uint32_t set, uint32_t clear,
		       uint32_t *old)
{
	uint32_t was;

	if (fs_is_shutdown(ip->fs))
		return -EIO;
	pthread_mutex_lock(&ip->lock);
	was = ip->di.flags;
	ip->di.flags = (was & ~clear) | set;
	pthread_mutex_unlock(&ip->lock);
	if (old)
		*old = was;
	if (((was & ~clear) | set) == was)
		return 0;
	fs_inode_touch(ip, FS_TOUCH_CTIME);
	return fs_inode_mark_dirty(ip);
}

unsigned fs_mode_to_dtype(mode_t mode)
{
	return IFTODT(mode);
}

void fs_fill_stat(struct fs_inode *ip, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&ip->lock);
	st->st_ino = ip->ino;
	st->st_mode = ip->di.mode;
	st->st_nlink = ip->di.nlink;
	st->st_uid = ip->di.uid;
	st->st_gid = ip->di.gid;
	st->st_rdev = ip->di.rdev;
	st->st_size = ip->mapping ? cache_mapping_size(ip->mapping) : ip->di.size;
	/* delalloc blocks count, as on ext4/xfs: du sees data not yet written */
	st->st_blocks = (fs_extent_blocks(ip) + ip->delalloc_blocks) *
			(IOMAPFS_BLOCK_SIZE / 512);
	st->st_blksize = IOMAPFS_BLOCK_SIZE;
	st->st_atim.tv_sec = ip->di.atime_sec;
	st->st_atim.tv_nsec = ip->di.atime_nsec;
	st->st_mtim.tv_sec = ip->di.mtime_sec;
	st->st_mtim.tv_nsec = ip->di.mtime_nsec;
	st->st_ctim.tv_sec = ip->di.ctime_sec;
	st->st_ctim.tv_nsec = ip->di.ctime_nsec;
	pthread_mutex_unlock(&ip->lock);
}

/* ---- creation and links ---- */

static void dinode_init(struct iomapfs_dinode *di, uint64_t ino,
			const struct fs_inode *parent,
			const struct fs_create_args *args)
{
	struct timespec ts = now_ts();

	memset(di, 0, sizeof(*di));
	di->ino = ino;
	di->generation = ktime_get_ns();
	di->mode = args->mode;
	di->uid = args->uid;
	di->gid = args->gid;
	di->nlink = S_ISDIR(args->mode) ? 2 : 1;
	di->rdev = args->rdev;
	di->atime_sec = di->mtime_sec = di->ctime_sec = di->btime_sec = ts.tv_sec;
	di->atime_nsec = di->mtime_nsec = di->ctime_nsec = di->btime_nsec = ts.tv_nsec;
	if (parent && (parent->di.flags & IOMAPFS_INODE_DONTCACHE))
		di->flags |= IOMAPFS_INODE_DONTCACHE;
	if (S_ISDIR(args->mode))
		di->parent = parent ? parent->ino : ino;
	if (S_ISLNK(args->mode) && args->symlink)
		di->size = strlen(args->symlink);
}

int fs_inode_alloc(struct fs *fs, const struct fs_inode *parent,
		   const struct fs_create_args *args, struct fs_inode **out)
{
	uint64_t ino = meta_alloc_ino(fs->meta);
	struct fs_inode *ip;
	int err;

	if (!ino)
		return -ENOSPC;
	ip = inode_new(fs, ino);
	if (!ip)
		return -ENOMEM;
	if (parent)
		pthread_mutex_lock((pthread_mutex_t *)&parent->lock);
	dinode_init(&ip->di, ino, parent, args);
	if (parent)
		pthread_mutex_unlock((pthread_mutex_t *)&parent->lock);
	err = inode_setup_mapping(ip);
	if (!err)
		err = fs_inode_write(ip);
	if (err) {
		inode_destroy(ip);
		return err;
	}
	meta_inodes_changed(fs->meta, 1);
	pthread_mutex_lock(&fs->icache_lock);
	ihash_insert_locked(fs, ip);
	pthread_mutex_unlock(&fs->icache_lock);
	*out = ip;
	return 0;
}

static struct iomapfs_key orphan_key(uint64_t ino)
{
	return meta_key(0, IOMAPFS_ITEM_ORPHAN, ino);
}

/*
 * In a section: nlink += @delta (one up or down) and ctime now.  An inode
 * losing its last link gets an ORPHAN item, one getting a link back loses
 * it; that item goes first, being the only step that can fail.  The inode
 * is freed by the last fs_iput once nlookup and nopen are 0 too.
 */
static int inode_change_nlink(struct fs_inode *ip, int delta)
{
	struct timespec ts = now_ts();
	struct iomapfs_key key = orphan_key(ip->ino);
	uint32_t nlink;
	int err = 0;

	pthread_mutex_lock(&ip->lock);
	nlink = ip->di.nlink;
	pthread_mutex_unlock(&ip->lock);
	if (WARN_ON_ONCE(delta < 0 && !nlink))
		return -EIO;
	if (delta < 0 && nlink == 1)
		err = btree_insert(ip->fs->meta, &key, &ip->ino, sizeof(ip->ino));
	else if (delta > 0 && !nlink)
		err = btree_delete(ip->fs->meta, &key);
	if (err && err != -ENOENT)
		return err;
	pthread_mutex_lock(&ip->lock);
	ip->di.nlink += delta;
	ip->di.ctime_sec = ts.tv_sec;
	ip->di.ctime_nsec = ts.tv_nsec;
	ip->dirty = true;
	pthread_mutex_unlock(&ip->lock);
	return fs_inode_write(ip);
}

int fs_inode_drop_link(struct fs_inode *ip)
{
	return inode_change_nlink(ip, -1);
}

int fs_inode_add_link(struct fs_inode *ip)
{
	return inode_change_nlink(ip, 1);
}

/* ---- freeing ---- */

/* One section: a bounded step of freeing the blocks from the end, with
 * the inode.  Returns 1 when none are left, 0 to be called again, or
 * -errno. */
static int inode_free_extents_step(struct fs_inode *ip)
{
	struct fs_section sect;
	uint64_t end = UINT64_MAX;
	int err;

	fs_section_begin1(&sect, ip);
	err = fs_extent_punch_step(ip, 0, &end);
	if (!err)
		err = fs_inode_write(ip);
	fs_section_end(&sect);
	if (err)
		return err;
	return end == 0;
}

/* The last section: every item of the inode. */
static int inode_free_items(struct fs_inode *ip)
{
	struct fs_section sect;
	struct meta *m = ip->fs->meta;
	struct iomapfs_key lo = meta_key(ip->ino, IOMAPFS_ITEM_SYMLINK, 0);
	struct iomapfs_key hi = meta_key(ip->ino, IOMAPFS_ITEM_SYMLINK, UINT64_MAX);
	struct iomapfs_key ikey = meta_key(ip->ino, IOMAPFS_ITEM_INODE, 0);
	struct iomapfs_key okey = orphan_key(ip->ino);
	long n;
	int err;

	fs_section_begin1(&sect, ip);
	err = fs_xattr_remove_all(ip->fs, ip->ino);
	if (!err) {
		n = btree_delete_range(m, &lo, &hi);
		err = n < 0 ? (int)n : 0;
	}
	if (!err)
		err = btree_delete(m, &ikey);
	if (!err) {
		err = btree_delete(m, &okey);
		if (err == -ENOENT)
			err = 0;
		meta_inodes_changed(m, -1);
	}
	fs_section_end(&sect);
	return err;
}

/* Does @ip map no block at all, not even a delayed allocation?  The
 * whole map is in memory (fs_iget loads it). */
static bool inode_has_no_extents(struct fs_inode *ip)
{
	bool none;

	pthread_mutex_lock(&ip->lock);
	none = !ip->nr_ext;
	pthread_mutex_unlock(&ip->lock);
	return none;
}

/*
 * Drop the cached folios (nobody can read them again) and free every
 * block, in sections of FREE_CHUNK extents from the end.  An inode without
 * extents (every empty file: the unlink of a create-and-close) needs no
 * section: there is nothing to free, and its items go in
 * inode_free_items() anyway.
 */
static int inode_free_data(struct fs_inode *ip)
{
	int err;

	if (!ip->mapping)
		return 0;
	if (fs_is_shutdown(ip->fs) || fs_ro(ip->fs))
		return 0;
	cache_truncate_range(ip->mapping, 0, UINT64_MAX);
	if (inode_has_no_extents(ip))
		return 0;
	while (!(err = inode_free_extents_step(ip)))
		;
	return err < 0 ? err : 0;
}

static int inode_free_disk(struct fs_inode *ip)
{
	int err = inode_free_data(ip);

	return err ? err : inode_free_items(ip);
}

/* ---- the whole cache: syncfs, unmount, mount ---- */

/* Every cached inode not being evicted, referenced, in an array. */
static struct fs_inode **icache_grab_all(struct fs *fs, size_t *nr)
{
	struct fs_inode **v;
	size_t n = 0;

	pthread_mutex_lock(&fs->icache_lock);
	v = kmalloc((fs->nr_cached + 1) * sizeof(*v));
	for (size_t s = 0; v && s < fs->ihash_size; s++) {
		for (struct fs_inode *ip = fs->ihash[s]; ip; ip = ip->hash_next) {
			if (ip->freeing || ip->loading)
				continue;
			ip->refcount++;
			v[n++] = ip;
		}
	}
	pthread_mutex_unlock(&fs->icache_lock);
	*nr = n;
	return v;
}

void fs_for_each_inode(struct fs *fs, void (*fn)(void *ctx, struct fs_inode *ip),
		       void *ctx)
{
	size_t nr;
	struct fs_inode **v = icache_grab_all(fs, &nr);

	for (size_t i = 0; v && i < nr; i++) {
		fn(ctx, v[i]);
		fs_iput(v[i]);
	}
	kfree(v);
}

int fs_inode_write_dirty_all(struct fs *fs)
{
	size_t nr;
	struct fs_inode **v = icache_grab_all(fs, &nr);
	int err = v ? 0 : -ENOMEM;

	for (size_t i = 0; v && i < nr; i++) {
		struct fs_inode *ip = v[i];
		struct fs_section sect;

		if (!err && !fs_is_shutdown(fs) && inode_is_dirty(ip)) {
			fs_section_begin1(&sect, ip);
			err = fs_inode_write(ip);
			fs_section_end(&sect);
		}
		fs_iput(ip);
	}
	kfree(v);
	return err;
}

int fs_inode_evict_all(struct fs *fs)
{
	size_t nr;
	struct fs_inode **v = icache_grab_all(fs, &nr);
	int err = v ? 0 : -ENOMEM, err2;

	for (size_t i = 0; v && i < nr; i++) {
		struct fs_inode *ip = v[i];

		/* The kernel is gone: its lookups and opens go with it, and
		 * so do the references of files it never released. */
		pthread_mutex_lock(&fs->icache_lock);
		ip->nlookup = 0;
		ip->nopen = 0;
		ip->refcount = 1;
		pthread_mutex_unlock(&fs->icache_lock);
		err2 = inode_put(ip);
		if (!err)
			err = err2;
	}
	kfree(v);
	return err;
}

#define ORPHAN_BATCH	64

/* One section: up to ORPHAN_BATCH orphan inode numbers from *next on. */
static int orphan_batch(struct fs *fs, uint64_t *next, uint64_t *inos, unsigned *nr)
{
	struct iomapfs_key key = orphan_key(*next), max = orphan_key(UINT64_MAX);
	int err = 0;

	*nr = 0;
	meta_begin_read(fs->meta);
	while (*nr < ORPHAN_BATCH) {
		uint64_t val;
		uint32_t len = sizeof(val);

		err = btree_next(fs->meta, &key, &max, &val, &len);
		if (err)
			break;
		inos[(*nr)++] = key.offset;
		*next = key.offset + 1;
		if (key.offset == UINT64_MAX)
			break;
		meta_key_next(&key);
	}
	meta_end_read(fs->meta);
	return err == -ENOENT ? 0 : err;
}

/* An ORPHAN item left by a crash: free the inode, or drop a stale item. */
static int orphan_free(struct fs *fs, uint64_t ino)
{
	struct iomapfs_key key = orphan_key(ino);
	struct fs_inode *ip;
	int err = fs_iget(fs, ino, &ip);

	if (err == -ENOENT || (!err && ip->di.nlink)) {
		struct fs_section sect;

		fs_section_begin(&sect, fs, &ip, err ? 0 : 1);
		btree_delete(fs->meta, &key);
		fs_section_end(&sect);
		if (!err)
			fs_iput(ip);
		return 0;
	}
	if (err)
		return err;
	return inode_put(ip);	/* unused and unlinked: freed now */
}

int fs_free_orphans(struct fs *fs)
{
	uint64_t inos[ORPHAN_BATCH], next = 0;
	unsigned nr;
	int err;

	do {
		err = orphan_batch(fs, &next, inos, &nr);
		for (unsigned i = 0; i < nr && !err; i++)
			err = orphan_free(fs, inos[i]);
	} while (!err && nr == ORPHAN_BATCH);
	return err;
}
