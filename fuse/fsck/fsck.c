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
 *                for directories), parents, every directory reaching the
 *                root, xattr chunks, symlink lengths, inode numbers and
 *                the superblock's inode count; with repair on, fix what is
 *                safe in one section, commit, and scan again to prove the
 *                fixes took.
 *   0. journal   before any of this: a superblock not marked clean means
 *                the journal may hold transactions.  -n reports it (and
 *                checks the unreplayed image); otherwise mount replays it.
 *                A corrupt journal superblock: -n reports it; otherwise
 *                mount ignores the log and rewrites it empty (a repair).
 *   3. bitmap    the blocks the last scan saw in use against the on-disk
 *                free-space bitmap (leaks, used-but-free); repaired by
 *                rewriting the bitmap from the scan.
 *
 * Repairs: wrong link counts, directory sizes, parents, block counts and
 * the superblock's inode count are rewritten;
 * dangling or malformed directory entries are removed; stray items
 * (belonging to no inode) and orphaned xattr chunks are deleted; an inode
 * no entry refers to is moved to /lost+found as "#<ino>" (never freed:
 * its data may matter).  A corrupt B+tree node, a cross-linked block, an
 * extent outside the device, a hard-linked directory, a directory loop or
 * a bad mode are reported and left alone: we know no repair that cannot lose data, and
 * with a damaged tree we do not trust the rest enough to change anything.
 * Orphans (unlinked files that were open at a crash) are valid: the next
 * mount frees them.
 *
 * This file: the walk (pass 1) and the driver; fsck_check.c: passes 2
 * and the repairs.
 */
#include <dirent.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include "fsck_internal.h"

void *fsck_vec_slot(void **v, size_t *nr, size_t *cap, size_t size, bool *failed)
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
	progress_clear(&fc->opts->progress);
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
void fsck_problem(struct fsck *fc, bool fixable, const char *fmt, ...)
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

struct fsck_inode *fsck_inode_find(struct fsck *fc, uint64_t ino)
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

/* ---- pass 1: scan ---- */

#define SCAN_PHASE	"scanning inodes"

/* Inodes seen against the superblock's count (a damaged count is only an
 * estimate: never report more than 100%). */
static void scan_progress(struct fsck *fc)
{
	uint64_t total = meta_super(fc->m)->nr_inodes;

	progress_report(&fc->opts->progress, SCAN_PHASE, fc->nr_inodes,
			max_t(uint64_t, total, fc->nr_inodes + 1));
}

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
		fsck_problem(fc, false, "inode %llu: malformed inode item",
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
	if (!fs_mode_is_valid(di->mode))
		fsck_problem(fc, false, "inode %llu: invalid mode 0%o",
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
		fsck_problem(fc, true, "directory entry in %llu, which is not a directory",
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
		fsck_problem(fc, true, "inode %llu: malformed xattr item",
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
		fsck_problem(fc, false, "item (%llu, %u, %llu) larger than an item can be",
			(unsigned long long)key->objectid, key->type,
			(unsigned long long)key->offset);
		return;
	}
	memcpy(val, raw, len);
	if (key->type == IOMAPFS_ITEM_INODE) {
		scan_inode(fc, key, val, len);
		if (!(fc->nr_inodes & 1023))
			scan_progress(fc);
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
		fsck_problem(fc, true, "item (%llu, %u, %llu) belongs to no inode",
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
			fsck_problem(fc, false, "inode %llu: malformed extent item",
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
		fsck_problem(fc, false, "item (%llu, %u, %llu) of unknown type",
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
	scan_progress(fc);
	meta_begin(fc->m);
	fc->tree_problems = meta_check_tree(fc->m, fc->used, scan_item, fc);
	meta_end(fc->m);
	fc->scanning = false;
	progress_report(&fc->opts->progress, SCAN_PHASE, fc->nr_inodes, fc->nr_inodes);
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

/*
 * Mount the metadata engine on @dev (open already) and size the block map.
 * Says itself why it failed.
 */
static int fsck_mount(struct fsck *fc, struct blk_dev *dev)
{
	struct meta_mount_opts mo = { .readonly = !fc->repair,
				      .no_replay = !fc->repair, .salvage_journal = true };
	struct iomapfs_super sb;
	int err = super_peek(dev, &sb);

	if (err == -EINVAL)
		fprintf(fc->log, "%s: not an iomapfs filesystem\n", fc->dev_path);
	if (!err && sb.state != IOMAPFS_STATE_CLEAN)
		fsck_problem(fc, true, "not cleanly unmounted: the journal may need replay");
	if (!err)
		err = meta_mount(dev, &mo, &fc->m);
	if (err) {
		if (err != -EINVAL)
			fprintf(fc->log, "%s: cannot mount: %s\n", fc->dev_path,
				strerror(-err));
		return err;
	}
	if (meta_journal_was_salvaged(fc->m))
		fsck_problem(fc, true, "journal superblock corrupt: %s", fc->repair ?
			     "rewritten as an empty log" : "the log would be ignored");
	fc->nr_blocks = meta_super(fc->m)->nr_blocks;
	fc->used = kzalloc(DIV_ROUND_UP(fc->nr_blocks, 8));
	if (fc->used)
		return 0;
	fprintf(fc->log, "%s: out of memory for the block map\n", fc->dev_path);
	meta_unmount(fc->m);
	fc->m = NULL;
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

	if (!err) {
		progress_report(&fc->opts->progress, "checking links and references", 0, 0);
		fsck_analyze(fc, &plan);
	}
	if (!err && fc->alloc_failed)
		err = -ENOMEM;
	*found = fc->found;
	*fixed = fc->to_fix;
	*left = fc->unfixable;
	if (err || !fc->repair || fc->tree_problems || fsck_plan_empty(&plan))
		goto out;
	err = fsck_plan_apply(fc, &plan);
	if (err) {
		*left += *fixed;
		*fixed = 0;
		goto out;
	}
	/* Prove it: a fresh scan must find only what we could not fix. */
	fc->quiet = true;
	fc->found = fc->to_fix = fc->unfixable = 0;
	fsck_plan_free(&plan);
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
	fsck_plan_free(&plan);
	return err;
}

static int fsck_bitmap(struct fsck *fc, long *fixed, long *left)
{
	bool fix = fc->repair && !fc->tree_problems;
	long n;

	progress_report(&fc->opts->progress, "checking the free-space bitmap", 0, 0);
	n = meta_check_bitmap(fc->m, fc->used, fix, fc->log);

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

int fs_fsck_dev(struct blk_dev *dev, const char *name, const struct fsck_opts *opts,
		FILE *log)
{
	struct fsck fc = { .dev_path = name, .opts = opts, .log = log,
			   .repair = !opts->no_change };
	long found = 0, fixed = 0, left = 0;
	int err, ret;

	if (opts->no_change && opts->yes) {
		fprintf(log, "%s: -n and -y together make no sense\n", name);
		return FSCK_USAGE;
	}
	err = fsck_mount(&fc, dev);	/* says itself why it failed */
	if (err) {
		fsck_free(&fc);
		return FSCK_ERROR;
	}
	err = fsck_run(&fc, &found, &fixed, &left);
	if (!err)
		err = fsck_bitmap(&fc, &fixed, &left);
	progress_clear(&opts->progress);
	if (!err)
		fsck_summary(&fc, fixed, left);
	/* Everything checked and nothing left: the ERROR mark has done its job. */
	if (!err && fc.repair && !left)
		meta_clear_error(fc.m);
	ret = meta_unmount(fc.m);
	if (!err && ret && fc.repair)
		err = ret;
	fsck_free(&fc);
	if (err) {
		fprintf(log, "%s: fsck failed: %s\n", name, strerror(-err));
		return FSCK_ERROR;
	}
	return left ? FSCK_UNCORRECTED : fixed ? FSCK_CORRECTED : FSCK_OK;
}

int fs_fsck(const char *dev_path, const struct fsck_opts *opts, FILE *log)
{
	struct blk_dev_config cfg = { .readonly = opts->no_change, .nr_workers = 1 };
	struct blk_dev *dev;
	int err, ret;

	if (opts->no_change && opts->yes) {
		fprintf(log, "%s: -n and -y together make no sense\n", dev_path);
		return FSCK_USAGE;
	}
	err = blk_dev_open(dev_path, &cfg, &dev);
	if (err) {
		fprintf(log, "%s: cannot open: %s\n", dev_path, strerror(-err));
		return FSCK_ERROR;
	}
	ret = fs_fsck_dev(dev, dev_path, opts, log);
	blk_dev_close(dev);
	return ret;
}

