/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to fsck (fsck.c: the walk and the driver; fsck_check.c: the
 * cross-checks and the repairs they plan).  See fsck.c for the passes.
 */
#ifndef IOMAPFS_FSCK_INTERNAL_H
#define IOMAPFS_FSCK_INTERNAL_H

#include "fsck.h"
#include "fs_internal.h"

/* What the walk collects, one record per item of interest. */
struct fsck_inode {
	uint64_t	ino, size, parent, symlink_bytes, nentries, ext_blocks, blocks;
	uint32_t	mode, nlink, nr_extents, ext_items, refs, subdirs;
	uint64_t	ref_dir;	/* a directory holding an entry for it */
	bool		orphan;
	uint8_t		reach;		/* check_connected() state */
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

void *fsck_vec_slot(void **v, size_t *nr, size_t *cap, size_t size, bool *failed);
#define VEC_ADD(fc, name)						\
	((__typeof__((fc)->name))fsck_vec_slot((void **)&(fc)->name, &(fc)->nr_##name, \
					  &(fc)->cap_##name, sizeof(*(fc)->name), \
					  &(fc)->alloc_failed))

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
	int64_t	inodes_delta;	/* correction to the superblock's inode count */
	bool	alloc_failed;
};
static inline bool fsck_plan_empty(const struct fsck_plan *p)
{
	return !p->nr_fixes && !p->nr_ifixes && !p->inodes_delta;
}

/* fsck.c */
/* One problem, one line (held back while the tree is being walked).
 * @fixable: a repair run can fix it safely. */
__attribute__((format(printf, 3, 4)))
void fsck_problem(struct fsck *fc, bool fixable, const char *fmt, ...);
struct fsck_inode *fsck_inode_find(struct fsck *fc, uint64_t ino);

/* fsck_check.c */
/* Pass 2: cross-check what the walk collected; plan the safe repairs. */
void fsck_analyze(struct fsck *fc, struct fsck_plan *p);
/* Apply @p in one section and commit.  0 or -errno. */
int fsck_plan_apply(struct fsck *fc, struct fsck_plan *p);
void fsck_plan_free(struct fsck_plan *p);

#endif /* IOMAPFS_FSCK_INTERNAL_H */
