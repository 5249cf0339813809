// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fsck: check every structure of an unmounted iomapfs and repair what can
 * be repaired safely.  Works on the metadata engine alone (no cache, no
 * struct fs), single-threaded, in the caller's thread.
 *
 * Passes:
 *   1. scan      meta_check_tree() verifies every node and hands us every
 *                item in key order; we collect inodes, extents, directory
 *                entries, xattrs and their chunks, symlink chunks, orphans.
 *   2. analyze   cross-check what was collected: extents inside the device
 *                and claimed once (cross-links), dirents pointing at live
 *                inodes of the right type, link counts ("." and ".." rules
 *                for directories), parents, xattr chunks, symlink lengths;
 *                with repair on, fix what is safe in one section, commit,
 *                and scan again to prove the fixes took.
 *   3. bitmap    the blocks the last scan saw in use against the on-disk
 *                free-space bitmap (leaks, used-but-free); repaired by
 *                rewriting the bitmap from the scan.
 *
 * Repairs: wrong link counts, directory sizes and parents are rewritten;
 * dangling or malformed directory entries are removed; stray items
 * (belonging to no inode) and orphaned xattr chunks are deleted; an inode
 * no entry refers to is moved to /lost+found as "#<ino>" (never freed:
 * its data may matter).  A corrupt B+tree node, a cross-linked block, an
 * extent outside the device, a hard-linked directory or a bad mode are
 * reported and left alone: we know no repair that cannot lose data, and
 * with a damaged tree we do not trust the rest enough to change anything.
 */
#include <dirent.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "fs_internal.h"

struct fsck_inode {
	uint64_t	ino, size, parent, symlink_bytes, nentries, ext_blocks, blocks;
	uint32_t	mode, nlink, nr_extents, ext_items, refs, subdirs;
	uint64_t	ref_dir;	/* a directory holding an entry for it */
	bool		orphan;
};

struct fsck_dirent {
	uint64_t	dir, cookie, ino;
	uint8_t		type;
	bool		malformed;	/* bad name or misplaced (hash) */
};

struct fsck_extent {
	uint64_t	ino, fblk, pblk, len;
};

struct fsck_xattr {
	uint64_t	ino, key_off, cookie;
	uint32_t	value_len, chunks;
};

struct fsck_xdata {
	uint64_t	ino, key_off;
	uint32_t	len;
	bool		claimed;
};

struct fsck_deferred {
	char		msg[200];
	bool		fixable;
};

#define VEC(type, name)	type *name; size_t nr_##name, cap_##name

struct fsck {
	const char		*dev_path;
	const struct fsck_opts	*opts;
	FILE			*log;
	struct meta		*m;
	uint64_t		nr_blocks;
	uint8_t			*used;
	bool			repair;		/* -y / default, not -n */
	bool			quiet;		/* the re-scan after repairs */

	VEC(struct fsck_inode, inodes);
	VEC(struct fsck_dirent, dirents);
	VEC(struct fsck_extent, extents);
	VEC(struct fsck_xattr, xattrs);
	VEC(struct fsck_xdata, xdata);
	VEC(struct iomapfs_key, strays);	/* items to delete */
	VEC(uint64_t, orphans);
	VEC(struct fsck_deferred, deferred);	/* problems seen mid-walk */
	bool			scanning;

	long			tree_problems, found, to_fix, unfixable;
	bool			alloc_failed;
};

static void *vec_slot(void **v, size_t *nr, size_t *cap, size_t size, bool *failed)
{
	if (*nr == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		void *p = krealloc(*v, ncap * size);

		if (!p) {
			*failed = true;
			return NULL;
		}
		*v = p;
		*cap = ncap;
	}
	return (char *)*v + (*nr)++ * size;
}
#define VEC_ADD(fc, name)						\
	((__typeof__((fc)->name))vec_slot((void **)&(fc)->name, &(fc)->nr_##name, \
					  &(fc)->cap_##name, sizeof(*(fc)->name), \
					  &(fc)->alloc_failed))

/* One problem, one line.  @fixable: a repair run can fix it safely. */
static void report(struct fsck *fc, bool fixable, const char *msg)
{
	bool fixing = fixable && fc->repair && !fc->tree_problems;

	fc->found++;
	if (fixing)
		fc->to_fix++;
	else
		fc->unfixable++;
	if (fc->quiet)
		return;
	fprintf(fc->log, "%s: %s%s\n", fc->dev_path, msg,
		!fixable ? " (cannot repair)" : fixing ? " (repairing)" :
		fc->repair ? " (not repaired: the B+tree is damaged)" :
		" (not repaired: -n)");
}

/*
 * Problems seen while the tree is being walked are held back until the
 * walk has said whether the tree itself is sound: only then do we know
 * whether this run may repair them.
 */
__attribute__((format(printf, 3, 4)))
static void problem(struct fsck *fc, bool fixable, const char *fmt, ...)
{
	struct fsck_deferred *d;
	char msg[sizeof(d->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!fc->scanning) {
		report(fc, fixable, msg);
		return;
	}
	d = VEC_ADD(fc, deferred);
	if (d) {
		memcpy(d->msg, msg, sizeof(msg));
		d->fixable = fixable;
	}
}

static struct fsck_inode *inode_find(struct fsck *fc, uint64_t ino)
{
	size_t lo = 0, hi = fc->nr_inodes;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (fc->inodes[mid].ino == ino)
			return &fc->inodes[mid];
		if (fc->inodes[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The inode an item of @objectid belongs to: items follow their INODE item. */
static struct fsck_inode *item_owner(struct fsck *fc, uint64_t objectid)
{
	struct fsck_inode *fi = fc->nr_inodes ? &fc->inodes[fc->nr_inodes - 1] : NULL;

	return fi && fi->ino == objectid ? fi : NULL;
}

static bool mode_is_valid(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		return true;
	}
	return false;
}

/* ---- pass 1: scan ---- */

static void add_extent(struct fsck *fc, uint64_t ino, const struct iomapfs_extent *e)
{
	struct fsck_extent *fe = VEC_ADD(fc, extents);

	if (fe)
		*fe = (struct fsck_extent){ ino, e->fblk, e->pblk, e->len };
}

static void scan_inode(struct fsck *fc, const struct iomapfs_key *key,
		       const void *val, uint32_t len)
{
	const struct iomapfs_dinode *di = val;
	struct fsck_inode *fi;

	if (len != sizeof(*di) || di->ino != key->objectid || key->offset) {
		problem(fc, false, "inode %llu: malformed inode item",
			(unsigned long long)key->objectid);
		return;
	}
	fi = VEC_ADD(fc, inodes);
	if (!fi)
		return;
	*fi = (struct fsck_inode){ .ino = di->ino, .size = di->size,
				   .parent = di->parent, .blocks = di->blocks,
				   .mode = di->mode,
				   .nlink = di->nlink, .nr_extents = di->nr_extents };
	if (!mode_is_valid(di->mode))
		problem(fc, false, "inode %llu: invalid mode 0%o",
			(unsigned long long)di->ino, di->mode);
	if (di->nr_extents <= IOMAPFS_INLINE_EXTENTS)
		for (uint32_t i = 0; i < di->nr_extents; i++)
			add_extent(fc, di->ino, &di->ext[i]);
}

static void scan_dirent(struct fsck *fc, const struct iomapfs_key *key,
			const void *val, uint32_t len)
{
	const struct iomapfs_dirent *de = val;
	const char *name = (const char *)(de + 1);
	struct fsck_inode *dir = item_owner(fc, key->objectid);
	struct fsck_dirent *fd;

	if (!dir || !S_ISDIR(dir->mode)) {
		struct iomapfs_key *k = VEC_ADD(fc, strays);

		if (k)
			*k = *key;
		problem(fc, true, "directory entry in %llu, which is not a directory",
			(unsigned long long)key->objectid);
		return;
	}
	dir->nentries++;
	fd = VEC_ADD(fc, dirents);
	if (!fd)
		return;
	*fd = (struct fsck_dirent){ .dir = key->objectid, .cookie = key->offset };
	if (len < sizeof(*de) || de->name_len != len - sizeof(*de) || !de->name_len ||
	    memchr(name, '/', de->name_len) || memchr(name, '\0', de->name_len)) {
		fd->malformed = true;
		return;
	}
	fd->ino = de->ino;
	fd->type = de->type;
	fd->malformed = fs_name_hash56(name, de->name_len) != key->offset >> 8;
}

static void scan_xattr(struct fsck *fc, const struct iomapfs_key *key,
		       const void *val, uint32_t len)
{
	const struct iomapfs_xattr *x = val;
	struct fsck_xattr *fx;
	bool ok = len >= sizeof(*x) && x->name_len &&
		  len == sizeof(*x) + x->name_len + (x->inline_value ? x->value_len : 0) &&
		  x->value_len <= IOMAPFS_XATTR_SIZE_MAX &&
		  fs_name_hash56((const char *)(x + 1), x->name_len) == key->offset >> 8;

	if (!ok) {
		struct iomapfs_key *k = VEC_ADD(fc, strays);

		if (k)
			*k = *key;
		problem(fc, true, "inode %llu: malformed xattr item",
			(unsigned long long)key->objectid);
		return;
	}
	if (x->inline_value)
		return;
	fx = VEC_ADD(fc, xattrs);
	if (fx)
		*fx = (struct fsck_xattr){ .ino = key->objectid, .key_off = key->offset,
					   .cookie = x->cookie, .value_len = x->value_len };
}

static void scan_item(void *ctx, const struct iomapfs_key *key,
		      const void *raw, uint32_t len)
{
	struct fsck *fc = ctx;
	struct fsck_inode *owner = item_owner(fc, key->objectid);
	_Alignas(8) uint8_t val[IOMAPFS_ITEM_MAX];	/* raw may be unaligned */
	struct fsck_xdata *xd;

	if (len > sizeof(val)) {
		problem(fc, false, "item (%llu, %u, %llu) larger than an item can be",
			(unsigned long long)key->objectid, key->type,
			(unsigned long long)key->offset);
		return;
	}
	memcpy(val, raw, len);
	if (key->type == IOMAPFS_ITEM_INODE) {
		scan_inode(fc, key, val, len);
		return;
	}
	if (key->type == IOMAPFS_ITEM_ORPHAN && !key->objectid) {
		uint64_t *o = VEC_ADD(fc, orphans);

		if (o)
			*o = key->offset;
		return;
	}
	if (!owner && key->type != IOMAPFS_ITEM_DIRENT) {
		struct iomapfs_key *k = VEC_ADD(fc, strays);

		if (k)
			*k = *key;
		problem(fc, true, "item (%llu, %u, %llu) belongs to no inode",
			(unsigned long long)key->objectid, key->type,
			(unsigned long long)key->offset);
		return;
	}
	switch (key->type) {
	case IOMAPFS_ITEM_EXTENT:
		owner->ext_items++;
		if (len == sizeof(struct iomapfs_extent))
			add_extent(fc, key->objectid, (const void *)val);
		else
			problem(fc, false, "inode %llu: malformed extent item",
				(unsigned long long)key->objectid);
		break;
	case IOMAPFS_ITEM_DIRENT:
		scan_dirent(fc, key, val, len);
		break;
	case IOMAPFS_ITEM_XATTR:
		scan_xattr(fc, key, val, len);
		break;
	case IOMAPFS_ITEM_XATTR_DATA:
		xd = VEC_ADD(fc, xdata);
		if (xd)
			*xd = (struct fsck_xdata){ key->objectid, key->offset, len, false };
		break;
	case IOMAPFS_ITEM_SYMLINK:
		owner->symlink_bytes += len;
		break;
	default:
		problem(fc, false, "item (%llu, %u, %llu) of unknown type",
			(unsigned long long)key->objectid, key->type,
			(unsigned long long)key->offset);
	}
}

static void fsck_reset(struct fsck *fc)
{
	fc->nr_inodes = fc->nr_dirents = fc->nr_extents = 0;
	fc->nr_xattrs = fc->nr_xdata = fc->nr_strays = fc->nr_orphans = 0;
	fc->nr_deferred = 0;
	fc->tree_problems = 0;
	memset(fc->used, 0, DIV_ROUND_UP(fc->nr_blocks, 8));
}

static int fsck_scan(struct fsck *fc)
{
	fsck_reset(fc);
	meta_mark_static(fc->m, fc->used);
	fc->scanning = true;
	meta_begin(fc->m);
	fc->tree_problems = meta_check_tree(fc->m, fc->used, scan_item, fc);
	meta_end(fc->m);
	fc->scanning = false;
	if (fc->alloc_failed)
		return -ENOMEM;
	if (fc->tree_problems) {
		fc->found += fc->tree_problems;
		fc->unfixable += fc->tree_problems;
		if (!fc->quiet)
			fprintf(fc->log, "%s: B+tree: %ld problems (cannot repair)\n",
				fc->dev_path, fc->tree_problems);
	}
	for (size_t i = 0; i < fc->nr_deferred; i++)
		report(fc, fc->deferred[i].fixable, fc->deferred[i].msg);
	return 0;
}

/* ---- pass 2: analyze ---- */

/*
 * Repairs collected by the analysis, applied in one section.  Inode field
 * fixes are kept on the side (struct fsck_ifix) so several checks can set
 * fields of one dinode.
 */
enum fix_kind { FIX_DELETE, FIX_DTYPE, FIX_LOST };

struct fsck_fix {
	struct iomapfs_key	key;
	enum fix_kind		kind;
	uint64_t		arg;	/* DTYPE: the type; LOST: the inode */
};

struct fsck_ifix {
	uint64_t	ino;
	uint32_t	nlink;
	uint64_t	size, parent, blocks;
	unsigned	what;	/* IFIX_* */
};
enum { IFIX_NLINK = 1, IFIX_SIZE = 2, IFIX_PARENT = 4, IFIX_BLOCKS = 8 };

struct fsck_plan {
	VEC(struct fsck_fix, fixes);
	VEC(struct fsck_ifix, ifixes);
	bool	alloc_failed;
};

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
		problem(fc, false, "inode %llu: extent %llu+%llu outside the device",
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
		problem(fc, false, "inode %llu: extent %llu+%llu claims blocks already in use (cross-linked)",
			(unsigned long long)e->ino, (unsigned long long)e->pblk,
			(unsigned long long)e->len);
}

static void check_extents(struct fsck *fc)
{
	const uint64_t max_fblk = IOMAPFS_MAX_FILE_SIZE >> IOMAPFS_BLOCK_SHIFT;

	for (size_t i = 0; i < fc->nr_extents; i++) {
		const struct fsck_extent *e = &fc->extents[i];
		struct fsck_inode *fi = inode_find(fc, e->ino);

		mark_extent(fc, e);
		if (fi)
			fi->ext_blocks += e->len;
		if (fi && !S_ISREG(fi->mode))
			problem(fc, false, "inode %llu: extents on a file that is not regular",
				(unsigned long long)e->ino);
		if (e->fblk > max_fblk || e->len > max_fblk - e->fblk)
			problem(fc, false, "inode %llu: extent beyond the largest file size",
				(unsigned long long)e->ino);
		if (i && e[-1].ino == e->ino && e[-1].fblk + e[-1].len > e->fblk)
			problem(fc, false, "inode %llu: extents overlap at file block %llu",
				(unsigned long long)e->ino, (unsigned long long)e->fblk);
	}
	for (size_t i = 0; i < fc->nr_inodes; i++) {
		const struct fsck_inode *fi = &fc->inodes[i];
		bool in_tree = fi->nr_extents > IOMAPFS_INLINE_EXTENTS;

		if (fi->ext_items != (in_tree ? fi->nr_extents : 0))
			problem(fc, false, "inode %llu: %u extents recorded, %u extent items",
				(unsigned long long)fi->ino, fi->nr_extents, fi->ext_items);
	}
}

static void check_dirents(struct fsck *fc, struct fsck_plan *p)
{
	for (size_t i = 0; i < fc->nr_dirents; i++) {
		const struct fsck_dirent *d = &fc->dirents[i];
		struct iomapfs_key key = meta_key(d->dir, IOMAPFS_ITEM_DIRENT, d->cookie);
		struct fsck_inode *t = d->malformed ? NULL : inode_find(fc, d->ino);
		struct fsck_inode *dir = inode_find(fc, d->dir);

		if (!t || d->ino == IOMAPFS_ROOT_INO) {
			problem(fc, true, "directory %llu: entry %llu %s: removing",
				(unsigned long long)d->dir, (unsigned long long)d->cookie,
				d->malformed ? "is malformed" :
				t ? "points at the root" : "points at a missing inode");
			plan_fix(p, key, FIX_DELETE, 0);
			dir->nentries--;
			continue;
		}
		if (d->type != fs_mode_to_dtype(t->mode)) {
			problem(fc, true, "directory %llu: entry for inode %llu has type %u, inode has %u",
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
static void check_xattrs(struct fsck *fc, struct fsck_plan *p)
{
	size_t j = 0;

	for (size_t i = 0; i < fc->nr_xattrs; i++) {
		const struct fsck_xattr *x = &fc->xattrs[i];
		uint64_t first = x->cookie << 8;
		uint32_t want = DIV_ROUND_UP(x->value_len, IOMAPFS_ITEM_MAX), c = 0;

		/* xdata is in key order; xattrs are in ino order, cookies not. */
		for (j = 0; j < fc->nr_xdata && (fc->xdata[j].ino < x->ino ||
		     (fc->xdata[j].ino == x->ino && fc->xdata[j].key_off < first)); j++)
			;
		for (; j < fc->nr_xdata && fc->xdata[j].ino == x->ino &&
		       fc->xdata[j].key_off == (first | c) && c < want; j++, c++) {
			uint32_t len = min_t(uint32_t, x->value_len - c * IOMAPFS_ITEM_MAX,
					     IOMAPFS_ITEM_MAX);

			if (fc->xdata[j].len != len)
				break;
			fc->xdata[j].claimed = true;
		}
		if (c != want) {
			problem(fc, true, "inode %llu: xattr value is missing chunks: removing the xattr",
				(unsigned long long)x->ino);
			plan_fix(p, meta_key(x->ino, IOMAPFS_ITEM_XATTR, x->key_off), FIX_DELETE, 0);
		}
	}
	for (j = 0; j < fc->nr_xdata; j++) {
		if (fc->xdata[j].claimed)
			continue;
		problem(fc, true, "inode %llu: xattr value chunk %llu belongs to no xattr",
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
		struct fsck_inode *fi = inode_find(fc, ino);

		if (fi) {
			fi->orphan = true;
			continue;
		}
		problem(fc, true, "orphan record for missing inode %llu",
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
		problem(fc, false, "directory %llu has %u entries referring to it",
			(unsigned long long)fi->ino, fi->refs);
	if (fi->nlink != want) {
		problem(fc, true, "inode %llu: link count %u, should be %u",
			(unsigned long long)fi->ino, fi->nlink, want);
		f = plan_ifix(p, fi->ino);
		if (f) {
			f->what |= IFIX_NLINK;
			f->nlink = want;
		}
	}
	if (isdir && fi->size != fi->nentries * FS_DIRENT_SIZE) {
		problem(fc, true, "directory %llu: size %llu, should be %llu",
			(unsigned long long)fi->ino, (unsigned long long)fi->size,
			(unsigned long long)(fi->nentries * FS_DIRENT_SIZE));
		f = plan_ifix(p, fi->ino);
		if (f) {
			f->what |= IFIX_SIZE;
			f->size = fi->nentries * FS_DIRENT_SIZE;
		}
	}
	if (isdir && fi->parent != want_parent && !(root && !fi->parent)) {
		problem(fc, true, "directory %llu: parent %llu, should be %llu",
			(unsigned long long)fi->ino, (unsigned long long)fi->parent,
			(unsigned long long)want_parent);
		f = plan_ifix(p, fi->ino);
		if (f) {
			f->what |= IFIX_PARENT;
			f->parent = want_parent;
		}
	}
	if (fi->blocks != fi->ext_blocks) {
		problem(fc, true, "inode %llu: %llu blocks recorded, extents hold %llu",
			(unsigned long long)fi->ino, (unsigned long long)fi->blocks,
			(unsigned long long)fi->ext_blocks);
		f = plan_ifix(p, fi->ino);
		if (f) {
			f->what |= IFIX_BLOCKS;
			f->blocks = fi->ext_blocks;
		}
	}
	if (S_ISLNK(fi->mode) && (!fi->size || fi->size != fi->symlink_bytes))
		problem(fc, false, "symlink %llu: size %llu, target chunks hold %llu bytes",
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
			problem(fc, true, "inode %llu: orphan record for a linked inode: removing it",
				(unsigned long long)fi->ino);
			plan_fix(p, meta_key(0, IOMAPFS_ITEM_ORPHAN, fi->ino), FIX_DELETE, 0);
		} else if (!fi->refs && !fi->orphan && mode_is_valid(fi->mode)) {
			problem(fc, true, "inode %llu: no directory entry refers to it: moving it to /lost+found",
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
		problem(fc, false, "the root directory is missing or not a directory");
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
	struct fsck_inode *fi = inode_find(fc, ino);
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

static int plan_apply(struct fsck *fc, struct fsck_plan *p)
{
	int err = 0;

	meta_begin(fc->m);
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

static void fsck_analyze(struct fsck *fc, struct fsck_plan *p)
{
	check_extents(fc);
	check_dirents(fc, p);
	check_xattrs(fc, p);
	check_orphans(fc, p);
	check_links(fc, p);
	if (p->alloc_failed)
		fc->alloc_failed = true;
}

static void plan_free(struct fsck_plan *p)
{
	kfree(p->fixes);
	kfree(p->ifixes);
	memset(p, 0, sizeof(*p));
}

/* ---- the driver ---- */

/*
 * The superblock as it is on the device, before mount replays anything:
 * a state other than CLEAN means the journal may hold transactions.
 */
static int super_peek(struct blk_dev *dev, struct iomapfs_super *sb)
{
	void *buf = aligned_alloc(IOMAPFS_BLOCK_SIZE, IOMAPFS_BLOCK_SIZE);
	int err;

	if (!buf)
		return -ENOMEM;
	err = blk_rw_sync(dev, REQ_OP_READ, buf, IOMAPFS_BLOCK_SIZE, 0);
	if (!err)
		memcpy(sb, buf, sizeof(*sb));
	free(buf);
	if (!err && sb->magic != IOMAPFS_SB_MAGIC)
		err = -EINVAL;
	return err;
}

static int fsck_open(struct fsck *fc, struct blk_dev **dev)
{
	struct blk_dev_config cfg = { .readonly = !fc->repair, .nr_workers = 1 };
	struct meta_mount_opts mo = { .readonly = !fc->repair,
				      .no_replay = !fc->repair };
	struct iomapfs_super sb;
	int err = blk_dev_open(fc->dev_path, &cfg, dev);

	if (err) {
		fprintf(fc->log, "%s: cannot open: %s\n", fc->dev_path, strerror(-err));
		return err;
	}
	err = super_peek(*dev, &sb);
	if (err == -EINVAL)
		fprintf(fc->log, "%s: not an iomapfs filesystem\n", fc->dev_path);
	if (!err && sb.state != IOMAPFS_STATE_CLEAN)
		problem(fc, true, "not cleanly unmounted: the journal may need replay");
	if (!err)
		err = meta_mount(*dev, &mo, &fc->m);
	if (err) {
		if (err != -EINVAL)
			fprintf(fc->log, "%s: cannot mount: %s\n", fc->dev_path,
				strerror(-err));
		blk_dev_close(*dev);
		return err;
	}
	fc->nr_blocks = meta_super(fc->m)->nr_blocks;
	fc->used = kzalloc(DIV_ROUND_UP(fc->nr_blocks, 8));
	if (fc->used)
		return 0;
	fprintf(fc->log, "%s: out of memory for the block map\n", fc->dev_path);
	meta_unmount(fc->m);
	fc->m = NULL;
	blk_dev_close(*dev);
	return -ENOMEM;
}

static uint64_t used_blocks(const struct fsck *fc)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < DIV_ROUND_UP(fc->nr_blocks, 8); i++)
		n += __builtin_popcount(fc->used[i]);
	return n;
}

/*
 * Scan and analyze; with repair on, apply the plan and scan again to see
 * that nothing is left.  Returns 0 or -errno; counts in @fc.
 */
static int fsck_run(struct fsck *fc, long *found, long *fixed, long *left)
{
	struct fsck_plan plan = { 0 };
	int err = fsck_scan(fc);

	if (!err)
		fsck_analyze(fc, &plan);
	if (!err && fc->alloc_failed)
		err = -ENOMEM;
	*found = fc->found;
	*fixed = fc->to_fix;
	*left = fc->unfixable;
	if (err || !fc->repair || fc->tree_problems || !(plan.nr_fixes + plan.nr_ifixes))
		goto out;
	err = plan_apply(fc, &plan);
	if (err) {
		*left += *fixed;
		*fixed = 0;
		goto out;
	}
	/* Prove it: a fresh scan must find only what we could not fix. */
	fc->quiet = true;
	fc->found = fc->to_fix = fc->unfixable = 0;
	plan_free(&plan);
	err = fsck_scan(fc);
	if (!err)
		fsck_analyze(fc, &plan);
	fc->quiet = false;
	if (!err && fc->to_fix) {
		fprintf(fc->log, "%s: %ld problems still present after repair\n",
			fc->dev_path, fc->to_fix);
		*fixed -= min_t(long, *fixed, fc->to_fix);
		*left += fc->to_fix;
	}
out:
	plan_free(&plan);
	return err;
}

static int fsck_bitmap(struct fsck *fc, long *fixed, long *left)
{
	bool fix = fc->repair && !fc->tree_problems;
	long n = meta_check_bitmap(fc->m, fc->used, fix, fc->log);

	if (n < 0)
		return n;
	if (fix)
		*fixed += n;
	else
		*left += n;
	if (n && !fix && !fc->repair)
		fprintf(fc->log, "%s: %ld free-space bitmap problems (not repaired: -n)\n",
			fc->dev_path, n);
	return 0;
}

static void fsck_free(struct fsck *fc)
{
	kfree(fc->inodes);
	kfree(fc->dirents);
	kfree(fc->extents);
	kfree(fc->xattrs);
	kfree(fc->xdata);
	kfree(fc->strays);
	kfree(fc->orphans);
	kfree(fc->deferred);
	kfree(fc->used);
}

/* -v: what the walk saw, so a user can tell an empty check from a full one. */
static void fsck_verbose(const struct fsck *fc)
{
	size_t dirs = 0, regs = 0, links = 0, other = 0;

	for (size_t i = 0; i < fc->nr_inodes; i++) {
		uint32_t mode = fc->inodes[i].mode;

		if (S_ISDIR(mode))
			dirs++;
		else if (S_ISREG(mode))
			regs++;
		else if (S_ISLNK(mode))
			links++;
		else
			other++;
	}
	fprintf(fc->log, "%s: %zu directories, %zu regular files, %zu symlinks, "
		"%zu other; %zu entries, %zu extents, %zu out-of-line xattrs in "
		"%zu chunks; %zu orphans awaiting the next mount\n", fc->dev_path,
		dirs, regs, links, other, fc->nr_dirents, fc->nr_extents,
		fc->nr_xattrs, fc->nr_xdata, fc->nr_orphans);
}

static void fsck_summary(const struct fsck *fc, long fixed, long left)
{
	if (fc->opts->verbose)
		fsck_verbose(fc);
	if (!left && !fixed)
		fprintf(fc->log, "%s: clean, %zu inodes, %llu/%llu blocks\n",
			fc->dev_path, fc->nr_inodes,
			(unsigned long long)used_blocks(fc),
			(unsigned long long)fc->nr_blocks);
	else
		fprintf(fc->log, "%s: %ld problems repaired, %ld left; %zu inodes, "
			"%llu/%llu blocks\n", fc->dev_path, fixed, left,
			fc->nr_inodes, (unsigned long long)used_blocks(fc),
			(unsigned long long)fc->nr_blocks);
}

int fs_fsck(const char *dev_path, const struct fsck_opts *opts, FILE *log)
{
	struct fsck fc = { .dev_path = dev_path, .opts = opts, .log = log,
			   .repair = !opts->no_change };
	struct blk_dev *dev = NULL;
	long found = 0, fixed = 0, left = 0;
	int err, ret;

	if (opts->no_change && opts->yes) {
		fprintf(log, "%s: -n and -y together make no sense\n", dev_path);
		return FSCK_USAGE;
	}
	err = fsck_open(&fc, &dev);	/* says itself why it failed */
	if (err) {
		fsck_free(&fc);
		return FSCK_ERROR;
	}
	err = fsck_run(&fc, &found, &fixed, &left);
	if (!err)
		err = fsck_bitmap(&fc, &fixed, &left);
	if (!err)
		fsck_summary(&fc, fixed, left);
	ret = meta_unmount(fc.m);
	if (!err && ret && fc.repair)
		err = ret;
	blk_dev_close(dev);
	fsck_free(&fc);
	if (err) {
		fprintf(log, "%s: fsck failed: %s\n", dev_path, strerror(-err));
		return FSCK_ERROR;
	}
	return left ? FSCK_UNCORRECTED : fixed ? FSCK_CORRECTED : FSCK_OK;
}
