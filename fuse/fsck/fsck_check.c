// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fsck pass 2: cross-check what the walk collected (extents against the
 * device and each other, entries against inodes, link counts, parents,
 * directory sizes, xattr chunks, orphans) and plan the repairs that are
 * safe; then apply a plan in one metadata section.  The rules for what is
 * repaired and what is only reported are in fsck.c's header.
 *
 * Single-threaded, in fs_fsck()'s caller.
 */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "fsck_internal.h"

static void plan_fix(struct fsck_plan *p, struct iomapfs_key key,
		     enum fix_kind kind, uint64_t arg)
{
	struct fsck_fix *f = VEC_ADD(p, fixes);

	if (f)
		*f = (struct fsck_fix){ key, kind, arg };
}

static struct fsck_ifix *plan_ifix(struct fsck_plan *p, uint64_t ino)
{
	struct fsck_ifix *f;

	if (p->nr_ifixes && p->ifixes[p->nr_ifixes - 1].ino == ino)
		return &p->ifixes[p->nr_ifixes - 1];
	f = VEC_ADD(p, ifixes);
	if (f)
		*f = (struct fsck_ifix){ .ino = ino };
	return f;
}

static void mark_extent(struct fsck *fc, const struct fsck_extent *e)
{
	bool crossed = false;

	if (!e->len || e->pblk >= fc->nr_blocks || e->len > fc->nr_blocks - e->pblk) {
		fsck_problem(fc, false, "inode %llu: extent %llu+%llu outside the device",
			(unsigned long long)e->ino, (unsigned long long)e->pblk,
			(unsigned long long)e->len);
		return;
	}
	for (uint64_t b = e->pblk; b < e->pblk + e->len; b++) {
		if (fc->used[b / 8] & (1u << (b % 8)))
			crossed = true;
		fc->used[b / 8] |= 1u << (b % 8);
	}
	if (crossed)
		fsck_problem(fc, false, "inode %llu: extent %llu+%llu claims blocks already in use (cross-linked)",
			(unsigned long long)e->ino, (unsigned long long)e->pblk,
			(unsigned long long)e->len);
}

static void check_extents(struct fsck *fc)
{
	const uint64_t max_fblk = IOMAPFS_MAX_FILE_SIZE >> IOMAPFS_BLOCK_SHIFT;

	for (size_t i = 0; i < fc->nr_extents; i++) {
		const struct fsck_extent *e = &fc->extents[i];
		struct fsck_inode *fi = fsck_inode_find(fc, e->ino);

		mark_extent(fc, e);
		if (fi)
			fi->ext_blocks += e->len;
		if (fi && !S_ISREG(fi->mode))
			fsck_problem(fc, false, "inode %llu: extents on a file that is not regular",
				(unsigned long long)e->ino);
		if (e->fblk > max_fblk || e->len > max_fblk - e->fblk)
			fsck_problem(fc, false, "inode %llu: extent beyond the largest file size",
				(unsigned long long)e->ino);
		if (i && e[-1].ino == e->ino && e[-1].fblk + e[-1].len > e->fblk)
			fsck_problem(fc, false, "inode %llu: extents overlap at file block %llu",
				(unsigned long long)e->ino, (unsigned long long)e->fblk);
	}
	for (size_t i = 0; i < fc->nr_inodes; i++) {
		const struct fsck_inode *fi = &fc->inodes[i];
		bool in_tree = fi->nr_extents > IOMAPFS_INLINE_EXTENTS;

		if (fi->ext_items != (in_tree ? fi->nr_extents : 0))
			fsck_problem(fc, false, "inode %llu: %u extents recorded, %u extent items",
				(unsigned long long)fi->ino, fi->nr_extents, fi->ext_items);
	}
}

static void check_dirents(struct fsck *fc, struct fsck_plan *p)
{
	for (size_t i = 0; i < fc->nr_dirents; i++) {
		const struct fsck_dirent *d = &fc->dirents[i];
		struct iomapfs_key key = meta_key(d->dir, IOMAPFS_ITEM_DIRENT, d->cookie);
		struct fsck_inode *t = d->malformed ? NULL : fsck_inode_find(fc, d->ino);
		struct fsck_inode *dir = fsck_inode_find(fc, d->dir);

		if (!t || d->ino == IOMAPFS_ROOT_INO) {
			fsck_problem(fc, true, "directory %llu: entry %llu %s: removing",
				(unsigned long long)d->dir, (unsigned long long)d->cookie,
				d->malformed ? "is malformed" :
				t ? "points at the root" : "points at a missing inode");
			plan_fix(p, key, FIX_DELETE, 0);
			dir->nentries--;
			continue;
		}
		if (d->type != fs_mode_to_dtype(t->mode)) {
			fsck_problem(fc, true, "directory %llu: entry for inode %llu has type %u, inode has %u",
				(unsigned long long)d->dir, (unsigned long long)d->ino,
				d->type, fs_mode_to_dtype(t->mode));
			plan_fix(p, key, FIX_DTYPE, fs_mode_to_dtype(t->mode));
		}
		t->refs++;
		t->ref_dir = d->dir;
		if (S_ISDIR(t->mode))
			dir->subdirs++;
	}
}

/* Chunks of out-of-line xattr values: complete, and each claimed once. */
/* First chunk at or after (@ino, @off): xdata is in key order. */
static size_t xdata_lower_bound(const struct fsck *fc, uint64_t ino, uint64_t off)
{
	size_t lo = 0, hi = fc->nr_xdata;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct fsck_xdata *d = &fc->xdata[mid];

		if (d->ino < ino || (d->ino == ino && d->key_off < off))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void check_xattrs(struct fsck *fc, struct fsck_plan *p)
{
	size_t j;

	for (size_t i = 0; i < fc->nr_xattrs; i++) {
		const struct fsck_xattr *x = &fc->xattrs[i];
		uint64_t first = x->cookie << 8;
		uint32_t want = DIV_ROUND_UP(x->value_len, IOMAPFS_ITEM_MAX), c = 0;

		for (j = xdata_lower_bound(fc, x->ino, first); j < fc->nr_xdata && fc->xdata[j].ino == x->ino &&
		       fc->xdata[j].key_off == (first | c) && c < want; j++, c++) {
			uint32_t len = min_t(uint32_t, x->value_len - c * IOMAPFS_ITEM_MAX,
					     IOMAPFS_ITEM_MAX);

			if (fc->xdata[j].len != len)
				break;
			fc->xdata[j].claimed = true;
		}
		if (c != want) {
			fsck_problem(fc, true, "inode %llu: xattr value is missing chunks: removing the xattr",
				(unsigned long long)x->ino);
			plan_fix(p, meta_key(x->ino, IOMAPFS_ITEM_XATTR, x->key_off), FIX_DELETE, 0);
		}
	}
	for (j = 0; j < fc->nr_xdata; j++) {
		if (fc->xdata[j].claimed)
			continue;
		fsck_problem(fc, true, "inode %llu: xattr value chunk %llu belongs to no xattr",
			(unsigned long long)fc->xdata[j].ino,
			(unsigned long long)fc->xdata[j].key_off);
		plan_fix(p, meta_key(fc->xdata[j].ino, IOMAPFS_ITEM_XATTR_DATA,
				     fc->xdata[j].key_off), FIX_DELETE, 0);
	}
}

static void check_orphans(struct fsck *fc, struct fsck_plan *p)
{
	for (size_t i = 0; i < fc->nr_orphans; i++) {
		uint64_t ino = fc->orphans[i];
		struct fsck_inode *fi = fsck_inode_find(fc, ino);

		if (fi) {
			fi->orphan = true;
			continue;
		}
		fsck_problem(fc, true, "orphan record for missing inode %llu",
			(unsigned long long)ino);
		plan_fix(p, meta_key(0, IOMAPFS_ITEM_ORPHAN, ino), FIX_DELETE, 0);
	}
	for (size_t i = 0; i < fc->nr_strays; i++)
		plan_fix(p, fc->strays[i], FIX_DELETE, 0);
}

/* What an inode's entries say its link count, size and parent must be. */
static void check_inode_links(struct fsck *fc, struct fsck_plan *p,
			      struct fsck_inode *fi)
{
	bool isdir = S_ISDIR(fi->mode), root = fi->ino == IOMAPFS_ROOT_INO;
	uint32_t want = isdir ? 2 + fi->subdirs : fi->refs;
	uint64_t want_parent = root ? IOMAPFS_ROOT_INO : fi->ref_dir;
	struct fsck_ifix *f;

	if (isdir && fi->refs > 1)
		fsck_problem(fc, false, "directory %llu has %u entries referring to it",
			(unsigned long long)fi->ino, fi->refs);
	if (fi->nlink != want) {
		fsck_problem(fc, true, "inode %llu: link count %u, should be %u",
			(unsigned long long)fi->ino, fi->nlink, want);
		f = plan_ifix(p, fi->ino);
		if (f) {
			f->what |= IFIX_NLINK;
			f->nlink = want;
		}
	}
	if (isdir && fi->size != fi->nentries * FS_DIRENT_SIZE) {
		fsck_problem(fc, true, "directory %llu: size %llu, should be %llu",
			(unsigned long long)fi->ino, (unsigned long long)fi->size,
			(unsigned long long)(fi->nentries * FS_DIRENT_SIZE));
		f = plan_ifix(p, fi->ino);
		if (f) {
			f->what |= IFIX_SIZE;
			f->size = fi->nentries * FS_DIRENT_SIZE;
		}
	}
	if (isdir && fi->parent != want_parent && !(root && !fi->parent)) {
		fsck_problem(fc, true, "directory %llu: parent %llu, should be %llu",
			(unsigned long long)fi->ino, (unsigned long long)fi->parent,
			(unsigned long long)want_parent);
		f = plan_ifix(p, fi->ino);
		if (f) {
			f->what |= IFIX_PARENT;
			f->parent = want_parent;
		}
	}
	if (fi->blocks != fi->ext_blocks) {
		fsck_problem(fc, true, "inode %llu: %llu blocks recorded, extents hold %llu",
			(unsigned long long)fi->ino, (unsigned long long)fi->blocks,
			(unsigned long long)fi->ext_blocks);
		f = plan_ifix(p, fi->ino);
		if (f) {
			f->what |= IFIX_BLOCKS;
			f->blocks = fi->ext_blocks;
		}
	}
	if (S_ISLNK(fi->mode) && (!fi->size || fi->size != fi->symlink_bytes))
		fsck_problem(fc, false, "symlink %llu: size %llu, target chunks hold %llu bytes",
			(unsigned long long)fi->ino, (unsigned long long)fi->size,
			(unsigned long long)fi->symlink_bytes);
}

/*
 * Inodes no entry refers to go to /lost+found (FIX_LOST); their expected
 * links then count that entry.  An orphan (nlink 0, ORPHAN item) is an
 * unlinked file that was still open: the next mount frees it.
 */
static void check_links(struct fsck *fc, struct fsck_plan *p)
{
	bool have_root = false;

	for (size_t i = 0; i < fc->nr_inodes; i++) {
		struct fsck_inode *fi = &fc->inodes[i];

		if (fi->ino == IOMAPFS_ROOT_INO) {
			have_root = S_ISDIR(fi->mode);
		} else if (fi->orphan && (fi->refs || fi->nlink)) {
			fsck_problem(fc, true, "inode %llu: orphan record for a linked inode: removing it",
				(unsigned long long)fi->ino);
			plan_fix(p, meta_key(0, IOMAPFS_ITEM_ORPHAN, fi->ino), FIX_DELETE, 0);
		} else if (!fi->refs && !fi->orphan && fs_mode_is_valid(fi->mode)) {
			fsck_problem(fc, true, "inode %llu: no directory entry refers to it: moving it to /lost+found",
				(unsigned long long)fi->ino);
			plan_fix(p, meta_key(0, 0, 0), FIX_LOST, fi->ino);
			fi->refs = 1;
			fi->ref_dir = 0;	/* set when lost+found is known */
			if (S_ISDIR(fi->mode))
				continue;	/* parent and nlink fixed at the move */
		}
		if (fi->refs || fi->ino == IOMAPFS_ROOT_INO)
			check_inode_links(fc, p, fi);
	}
	if (!have_root)
		fsck_problem(fc, false, "the root directory is missing or not a directory");
}

/*
 * Every directory's chain of entries must lead to the root.  Link counts
 * cannot see a loop (a and b holding each other, each referenced once),
 * so follow ref_dir upwards, marking what has been decided, O(n).
 * Reported, not repaired: which entry to cut is a guess.
 */
enum { REACH_UNSEEN, REACH_ON_PATH, REACH_ROOTED, REACH_LOOP };

static uint8_t reach_walk(struct fsck *fc, struct fsck_inode *fi)
{
	struct fsck_inode *cur = fi;

	while (cur && cur->reach == REACH_UNSEEN) {
		cur->reach = REACH_ON_PATH;
		if (cur->ino == IOMAPFS_ROOT_INO || !cur->ref_dir)
			return REACH_ROOTED;	/* the root, or bound for lost+found */
		cur = fsck_inode_find(fc, cur->ref_dir);
	}
	if (!cur)
		return REACH_ROOTED;	/* a dangling parent: reported elsewhere */
	return cur->reach == REACH_ON_PATH ? REACH_LOOP : cur->reach;
}

static void check_connected(struct fsck *fc)
{
	for (size_t i = 0; i < fc->nr_inodes; i++) {
		struct fsck_inode *fi = &fc->inodes[i], *cur;
		uint8_t res;

		if (!S_ISDIR(fi->mode) || fi->reach != REACH_UNSEEN)
			continue;
		res = reach_walk(fc, fi);
		for (cur = fi; cur && cur->reach == REACH_ON_PATH;
		     cur = cur->ref_dir ? fsck_inode_find(fc, cur->ref_dir) : NULL)
			cur->reach = res;
		if (res == REACH_LOOP)
			fsck_problem(fc, false, "directory %llu is not connected to the root (its ancestors form a loop)",
				     (unsigned long long)fi->ino);
	}
}

/* Inode numbers against the superblock's allocator and count. */
static void check_super_counts(struct fsck *fc, struct fsck_plan *p)
{
	const struct iomapfs_super *sb = meta_super(fc->m);

	for (size_t i = 0; i < fc->nr_inodes; i++) {
		uint64_t ino = fc->inodes[i].ino;

		if (ino >= sb->next_ino)
			fsck_problem(fc, false, "inode %llu is not below the next inode number %llu (would be handed out again)",
				     (unsigned long long)ino,
				     (unsigned long long)sb->next_ino);
		else if (ino < IOMAPFS_FIRST_INO && ino != IOMAPFS_ROOT_INO)
			fsck_problem(fc, false, "inode %llu has a reserved number",
				     (unsigned long long)ino);
	}
	if (sb->nr_inodes != fc->nr_inodes) {
		fsck_problem(fc, true, "superblock counts %llu inodes, the tree holds %zu",
			     (unsigned long long)sb->nr_inodes, fc->nr_inodes);
		p->inodes_delta = (int64_t)fc->nr_inodes - (int64_t)sb->nr_inodes;
	}
}

/* ---- repairs (one section) ---- */

static int dinode_update(struct meta *m, uint64_t ino,
			 void (*fn)(struct iomapfs_dinode *di, const void *arg),
			 const void *arg)
{
	struct iomapfs_key key = meta_key(ino, IOMAPFS_ITEM_INODE, 0);
	struct iomapfs_dinode di;
	uint32_t len = sizeof(di);
	int err = btree_lookup(m, &key, &di, &len);

	if (err)
		return err;
	fn(&di, arg);
	return btree_insert(m, &key, &di, sizeof(di));
}

static void ifix_apply(struct iomapfs_dinode *di, const void *arg)
{
	const struct fsck_ifix *f = arg;

	if (f->what & IFIX_NLINK)
		di->nlink = f->nlink;
	if (f->what & IFIX_SIZE)
		di->size = f->size;
	if (f->what & IFIX_PARENT)
		di->parent = f->parent;
	if (f->what & IFIX_BLOCKS)
		di->blocks = f->blocks;
}

static void lf_add_entry(struct iomapfs_dinode *di, const void *arg)
{
	const bool *isdir = arg;

	di->size += FS_DIRENT_SIZE;
	di->nlink += *isdir;
}

/* /lost+found, created (mode 0700, like e2fsck's) when missing. */
static int lost_found_get(struct meta *m, uint64_t *out)
{
	struct iomapfs_dinode di = { 0 };
	struct timespec now;
	bool isdir = true;
	unsigned dtype;
	int err = __fs_dir_find(m, IOMAPFS_ROOT_INO, "lost+found", out, &dtype);

	if (!err)
		return dtype == DT_DIR ? 0 : -ENOTDIR;
	if (err != -ENOENT)
		return err;
	clock_gettime(CLOCK_REALTIME, &now);
	di.ino = meta_alloc_ino(m);
	di.mode = S_IFDIR | 0700;
	di.nlink = 2;
	di.parent = IOMAPFS_ROOT_INO;
	di.atime_sec = di.mtime_sec = di.ctime_sec = di.btime_sec = now.tv_sec;
	di.atime_nsec = di.mtime_nsec = di.ctime_nsec = di.btime_nsec = now.tv_nsec;
	struct iomapfs_key key = meta_key(di.ino, IOMAPFS_ITEM_INODE, 0);

	err = btree_insert(m, &key, &di, sizeof(di));
	if (!err)
		err = __fs_dir_add(m, IOMAPFS_ROOT_INO, "lost+found", di.ino, DT_DIR);
	if (!err)
		err = dinode_update(m, IOMAPFS_ROOT_INO, lf_add_entry, &isdir);
	if (err)
		return err;
	meta_inodes_changed(m, 1);
	*out = di.ino;
	return 0;
}

struct lost_move {
	uint64_t	lf;
	uint32_t	subdirs;	/* the moved directory's own */
	bool		isdir;
};

static void lost_fix_inode(struct iomapfs_dinode *di, const void *arg)
{
	const struct lost_move *lm = arg;

	di->nlink = lm->isdir ? 2 + lm->subdirs : 1;
	if (lm->isdir)
		di->parent = lm->lf;
}

static int lost_move(struct fsck *fc, uint64_t ino)
{
	struct fsck_inode *fi = fsck_inode_find(fc, ino);
	struct lost_move lm = { .isdir = S_ISDIR(fi->mode), .subdirs = fi->subdirs };
	char name[32];
	int err = lost_found_get(fc->m, &lm.lf);

	if (err)
		return err;
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)ino);
	err = __fs_dir_add(fc->m, lm.lf, name, ino, fs_mode_to_dtype(fi->mode));
	if (!err)
		err = dinode_update(fc->m, lm.lf, lf_add_entry, &lm.isdir);
	if (!err)
		err = dinode_update(fc->m, ino, lost_fix_inode, &lm);
	return err;
}

static int fix_dtype(struct meta *m, const struct fsck_fix *f)
{
	_Alignas(8) uint8_t val[IOMAPFS_ITEM_MAX];
	struct iomapfs_dirent *de = (void *)val;
	uint32_t len = sizeof(val);
	int err = btree_lookup(m, &f->key, val, &len);

	if (err)
		return err;
	de->type = f->arg;
	return btree_insert(m, &f->key, val, len);
}

static int fix_one(struct fsck *fc, const struct fsck_fix *f)
{
	const struct iomapfs_xattr *x;
	_Alignas(8) uint8_t val[IOMAPFS_ITEM_MAX];
	uint32_t len = sizeof(val);
	int err;

	switch (f->kind) {
	case FIX_DTYPE:
		return fix_dtype(fc->m, f);
	case FIX_LOST:
		return lost_move(fc, f->arg);
	case FIX_DELETE:
		break;
	}
	if (f->key.type == IOMAPFS_ITEM_XATTR &&
	    !btree_lookup(fc->m, &f->key, val, &len) && len >= sizeof(*x)) {
		x = (const void *)val;
		if (!x->inline_value) {	/* its remaining chunks go too */
			struct iomapfs_key lo = meta_key(f->key.objectid,
				IOMAPFS_ITEM_XATTR_DATA, x->cookie << 8);
			struct iomapfs_key hi = meta_key(f->key.objectid,
				IOMAPFS_ITEM_XATTR_DATA, x->cookie << 8 | 255);
			long n = btree_delete_range(fc->m, &lo, &hi);

			if (n < 0)
				return n;
		}
	}
	err = btree_delete(fc->m, &f->key);
	return err == -ENOENT ? 0 : err;
}

int fsck_plan_apply(struct fsck *fc, struct fsck_plan *p)
{
	int err = 0;

	meta_begin(fc->m);
	if (p->inodes_delta)
		meta_inodes_changed(fc->m, p->inodes_delta);
	for (size_t i = 0; i < p->nr_ifixes && !err; i++)
		err = dinode_update(fc->m, p->ifixes[i].ino, ifix_apply, &p->ifixes[i]);
	for (size_t i = 0; i < p->nr_fixes && !err; i++)
		err = fix_one(fc, &p->fixes[i]);
	meta_end(fc->m);
	if (!err)
		err = meta_commit(fc->m);
	if (err)
		fprintf(fc->log, "%s: repair failed: %s\n", fc->dev_path, strerror(-err));
	return err;
}

void fsck_analyze(struct fsck *fc, struct fsck_plan *p)
{
	check_extents(fc);
	check_dirents(fc, p);
	check_xattrs(fc, p);
	check_orphans(fc, p);
	check_links(fc, p);
	check_connected(fc);
	check_super_counts(fc, p);
	if (p->alloc_failed)
		fc->alloc_failed = true;
}

void fsck_plan_free(struct fsck_plan *p)
{
	kfree(p->fixes);
	kfree(p->ifixes);
	memset(p, 0, sizeof(*p));
}

