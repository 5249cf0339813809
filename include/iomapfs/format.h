/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The iomapfs on-disk format, version 1.  The only header that describes
 * bytes on the device; the daemon, mkfs and fsck all use it.  All integers
 * are little-endian (we only build on little-endian hosts; see the
 * static_assert at the bottom).
 *
 * Layout (4 KiB blocks):
 *
 *   block 0                 superblock (copy at block 1)
 *   [journal_start, +journal_blocks)      write-ahead metadata journal
 *   [bitmap_start, +bitmap_blocks)        free-space bitmap, 1 bit per block
 *   everything else         allocated on demand: B+tree nodes, data extents
 *
 * Metadata is one B+tree of items keyed by (objectid, type, offset), as in
 * btrfs: inodes, directory entries (hashed, so large directories need no
 * linear scan), extents that do not fit inline in the inode, and xattrs.
 * Every metadata block starts with struct iomapfs_blkhdr: magic, CRC32C,
 * its own block number and the filesystem UUID, so fsck can tell a
 * misdirected or foreign write from a torn one.
 *
 * docs/on-disk-format.md describes every structure with byte offsets.
 *
 * CRC convention: crc32c (Castagnoli, seed ~0, final ~) over the whole
 * block with the crc field taken as zero.
 */
#ifndef IOMAPFS_FORMAT_H
#define IOMAPFS_FORMAT_H

#include <assert.h>
#include <stdint.h>

#define IOMAPFS_BLOCK_SHIFT	12
#define IOMAPFS_BLOCK_SIZE	(1u << IOMAPFS_BLOCK_SHIFT)
#define IOMAPFS_VERSION		1
#define IOMAPFS_NAME_MAX	255
#define IOMAPFS_SYMLINK_MAX	4095
#define IOMAPFS_XATTR_NAME_MAX	255
#define IOMAPFS_XATTR_SIZE_MAX	65536
#define IOMAPFS_ROOT_INO	1
#define IOMAPFS_FIRST_INO	16	/* ino < 16 reserved */
#define IOMAPFS_MAX_FILE_SIZE	(1ull << 50)	/* 1 PiB: EFBIG beyond */

/* Magics: ASCII tags, readable in a hex dump. */
#define IOMAPFS_SB_MAGIC	0x3153464d414f4d49ull	/* "IMOAMFS1" */
#define IOMAPFS_BTREE_MAGIC	0x45455254u		/* "TREE" */
#define IOMAPFS_BITMAP_MAGIC	0x50414d42u		/* "BMAP" */
#define IOMAPFS_JSB_MAGIC	0x4253524au		/* "JRSB" journal superblock */
#define IOMAPFS_JDESC_MAGIC	0x4353444au		/* "JDSC" descriptor */
#define IOMAPFS_JCOMMIT_MAGIC	0x4d4d434au		/* "JCMM" commit */

/* Feature flags.  A reader refuses an image with an unknown incompat bit,
 * and mounts read-only with an unknown ro_compat bit. */
#define IOMAPFS_FEAT_COMPAT_SUPPORTED		0ull
#define IOMAPFS_FEAT_INCOMPAT_JOURNAL		(1ull << 0)
#define IOMAPFS_FEAT_INCOMPAT_SUPPORTED		IOMAPFS_FEAT_INCOMPAT_JOURNAL
#define IOMAPFS_FEAT_RO_COMPAT_SUPPORTED	0ull

/* Common header of every metadata block except data and journal payload. */
struct iomapfs_blkhdr {
	uint32_t	magic;
	uint32_t	crc;		/* crc32c of the block with crc = 0 */
	uint64_t	blkno;		/* where this block belongs */
	uint8_t		uuid[16];	/* filesystem UUID */
	uint64_t	owner;		/* btree: tree id; bitmap: index; else 0 */
	uint64_t	seq;		/* journal sequence that last wrote it */
};
static_assert(sizeof(struct iomapfs_blkhdr) == 48, "blkhdr size");

struct iomapfs_super {
	uint64_t	magic;		/* IOMAPFS_SB_MAGIC */
	uint32_t	crc;		/* crc32c of the 4 KiB block with crc = 0 */
	uint32_t	version;	/* IOMAPFS_VERSION */
	uint64_t	feat_compat, feat_incompat, feat_ro_compat;
	uint8_t		uuid[16];
	char		label[64];
	uint32_t	block_size;	/* IOMAPFS_BLOCK_SIZE */
	uint32_t	pad0;
	uint64_t	nr_blocks;	/* device size in blocks at mkfs */
	uint64_t	journal_start, journal_blocks;
	uint64_t	bitmap_start, bitmap_blocks;
	uint64_t	root_node;	/* B+tree root block */
	uint32_t	tree_height;	/* 1 = the root is a leaf */
	uint32_t	pad1;
	uint64_t	free_blocks;	/* as of the last checkpoint; the bitmap is the truth */
	uint64_t	next_ino;	/* next inode number to hand out */
	uint64_t	nr_inodes;
	uint64_t	mkfs_time_ns, mount_time_ns, write_time_ns;
	uint64_t	mount_count;
	uint32_t	state;		/* IOMAPFS_STATE_* */
	uint32_t	pad2;
	uint64_t	journal_seq;	/* first sequence not yet checkpointed */
	uint64_t	reserved[32];
};
#define IOMAPFS_STATE_CLEAN	1	/* unmounted cleanly */
#define IOMAPFS_STATE_ERROR	2	/* an error was seen: run fsck */
static_assert(sizeof(struct iomapfs_super) == 512, "super size");

/* ---- B+tree ---- */

/* Item types, the middle part of a key. */
enum iomapfs_item_type {
	IOMAPFS_ITEM_INODE	= 1,	/* (ino, INODE, 0) -> struct iomapfs_dinode */
	IOMAPFS_ITEM_EXTENT	= 2,	/* (ino, EXTENT, file block) -> struct iomapfs_extent */
	IOMAPFS_ITEM_DIRENT	= 3,	/* (dir ino, DIRENT, cookie) -> struct iomapfs_dirent + name */
	IOMAPFS_ITEM_XATTR	= 4,	/* (ino, XATTR, hash<<8|idx) -> struct iomapfs_xattr + name + value */
	IOMAPFS_ITEM_XATTR_DATA	= 5,	/* (ino, XATTR_DATA, (cookie<<8)|chunk) -> value chunk */
	IOMAPFS_ITEM_SYMLINK	= 6,	/* (ino, SYMLINK, chunk) -> target chunk */
	IOMAPFS_ITEM_ORPHAN	= 7,	/* (0, ORPHAN, ino): unlinked but open; freed at mount */
};

struct iomapfs_key {
	uint64_t	objectid;
	uint64_t	offset;
	uint8_t		type;
	uint8_t		pad[7];
};
static_assert(sizeof(struct iomapfs_key) == 24, "key size");

/* Largest item value; larger things (xattr values, symlink targets) are
 * split into chunks of this size. */
#define IOMAPFS_ITEM_MAX	1024

struct iomapfs_node_hdr {
	struct iomapfs_blkhdr	hdr;	/* magic IOMAPFS_BTREE_MAGIC */
	uint16_t	level;		/* 0 = leaf */
	uint16_t	nritems;
	uint16_t	free_end;	/* leaf: start of the value area (values grow down) */
	uint16_t	pad;
	uint64_t	pad2;
};
static_assert(sizeof(struct iomapfs_node_hdr) == 64, "node header size");

/* Leaf: items grow up after the header, values grow down from the end. */
struct iomapfs_leaf_item {
	struct iomapfs_key key;
	uint16_t	val_off;	/* from the start of the block */
	uint16_t	val_len;
	uint32_t	pad;
};
static_assert(sizeof(struct iomapfs_leaf_item) == 32, "leaf item size");

/* Interior node: (key, child) pairs; key[i] is the smallest key of child i. */
struct iomapfs_node_ptr {
	struct iomapfs_key key;
	uint64_t	blkno;
};
static_assert(sizeof(struct iomapfs_node_ptr) == 32, "node ptr size");

/* ---- items ---- */

/* An extent: file block range -> device block range. */
struct iomapfs_extent {
	uint64_t	fblk;		/* file offset in blocks */
	uint64_t	pblk;		/* device block */
	uint32_t	len;		/* blocks */
	uint32_t	flags;		/* IOMAPFS_EXT_* */
};
#define IOMAPFS_EXT_UNWRITTEN	1u
static_assert(sizeof(struct iomapfs_extent) == 24, "extent size");

#define IOMAPFS_INLINE_EXTENTS	8	/* more than this: EXTENT items in the tree */

struct iomapfs_dinode {
	uint64_t	ino;
	uint64_t	generation;
	uint32_t	mode, uid, gid, nlink;
	uint64_t	size;
	uint64_t	blocks;		/* allocated blocks, data + xattr */
	int64_t		atime_sec, mtime_sec, ctime_sec, btime_sec;
	uint32_t	atime_nsec, mtime_nsec, ctime_nsec, btime_nsec;
	uint64_t	rdev;
	uint32_t	flags;		/* IOMAPFS_INODE_* */
	uint32_t	nr_extents;	/* total; <= INLINE_EXTENTS: all in ext[] */
	uint64_t	xattr_cookie;	/* next cookie for XATTR_DATA chunks */
	uint64_t	parent;		/* directories: the parent's ino (".." and
					 * rename loop checks); root: itself */
	uint64_t	reserved[3];
	struct iomapfs_extent ext[IOMAPFS_INLINE_EXTENTS];
};
#define IOMAPFS_INODE_DONTCACHE	1u	/* user.iomapfs.dontcache=1 */
static_assert(sizeof(struct iomapfs_dinode) == 344, "dinode size");
static_assert(sizeof(struct iomapfs_dinode) <= IOMAPFS_ITEM_MAX, "dinode fits an item");

struct iomapfs_dirent {
	uint64_t	ino;
	uint8_t		type;		/* DT_* */
	uint8_t		name_len;
	uint8_t		pad[6];
	/* name follows, not NUL-terminated */
};
static_assert(sizeof(struct iomapfs_dirent) == 16, "dirent size");

struct iomapfs_xattr {
	uint32_t	value_len;	/* total value size */
	uint8_t		name_len;	/* full name including the namespace prefix */
	uint8_t		inline_value;	/* 1: value follows the name; 0: in XATTR_DATA chunks */
	uint16_t	pad;
	uint64_t	cookie;		/* XATTR_DATA key prefix when !inline_value */
	/* name follows, then the value if inline */
};
static_assert(sizeof(struct iomapfs_xattr) == 16, "xattr size");

/* ---- free-space bitmap ---- */

struct iomapfs_bitmap_hdr {
	struct iomapfs_blkhdr	hdr;	/* magic IOMAPFS_BITMAP_MAGIC, owner = index */
	uint64_t	first_block;	/* device block of bit 0 */
	uint32_t	nr_bits;
	uint32_t	nr_free;
};
#define IOMAPFS_BITMAP_BITS	((IOMAPFS_BLOCK_SIZE - sizeof(struct iomapfs_bitmap_hdr)) * 8)
static_assert(sizeof(struct iomapfs_bitmap_hdr) == 64, "bitmap header size");

/* ---- journal ----
 *
 * A circular log of transactions in [journal_start, +journal_blocks):
 * block 0 of the area is the journal superblock; each transaction is a
 * descriptor block listing home block numbers, the block images, and a
 * commit block whose CRC covers the descriptor and every image.  Replay
 * walks from jsb.tail_seq at jsb.tail_block and re-applies every
 * transaction whose commit block is intact and whose sequence follows;
 * the first torn or missing one ends the log.
 */
struct iomapfs_jsb {
	struct iomapfs_blkhdr	hdr;	/* magic IOMAPFS_JSB_MAGIC */
	uint64_t	tail_seq;	/* oldest transaction not checkpointed */
	uint64_t	tail_block;	/* its descriptor, relative to journal_start */
};
static_assert(sizeof(struct iomapfs_jsb) == 64, "jsb size");

#define IOMAPFS_JDESC_MAX	((IOMAPFS_BLOCK_SIZE - 64) / 8)
struct iomapfs_jdesc {
	struct iomapfs_blkhdr	hdr;	/* magic IOMAPFS_JDESC_MAGIC, seq = txn */
	uint32_t	nr_blocks;	/* images that follow */
	uint32_t	more;		/* 1: another descriptor follows the images */
	uint64_t	pad;
	uint64_t	blocks[IOMAPFS_JDESC_MAX];	/* home block numbers */
};
static_assert(sizeof(struct iomapfs_jdesc) == IOMAPFS_BLOCK_SIZE, "jdesc size");

struct iomapfs_jcommit {
	struct iomapfs_blkhdr	hdr;	/* magic IOMAPFS_JCOMMIT_MAGIC, seq = txn */
	uint32_t	nr_blocks;	/* images in the transaction */
	uint32_t	data_crc;	/* crc32c over descriptors and images, in order */
	uint64_t	commit_time_ns;
};
static_assert(sizeof(struct iomapfs_jcommit) == 64, "jcommit size");

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian hosts only");

#endif /* IOMAPFS_FORMAT_H */
