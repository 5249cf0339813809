// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: directories and names on a real image (metadata engine,
 * data side, cache, block layer): create/lookup/unlink and their error
 * codes, 100,000 entries in one directory (each found, each listed once,
 * all removed, fsck clean), readdir cookies that survive inserts and
 * deletes between two readdir calls, every rename variant with its error
 * codes, directory link counts, symlinks, and persistence over a remount.
 */
#include <dirent.h>
#include <stdatomic.h>
#include <time.h>
#include <linux/fs.h>
#include "test_fs_dir_util.h"

#define ROOT	IOMAPFS_ROOT_INO

/* ---- readdir collection ---- */

struct rd_ent {
	char		name[IOMAPFS_NAME_MAX + 1];
	uint64_t	ino, cookie;
	unsigned	dtype;
};

struct rd {
	struct rd_ent	*ents;
	size_t		nr, cap;
	size_t		stop_after;	/* 0: never stop */
};

static int rd_fill(void *ctx, const char *name, uint64_t ino, unsigned dtype,
		   uint64_t cookie)
{
	struct rd *r = ctx;

	if (r->stop_after && r->nr == r->stop_after)
		return 1;
	if (r->nr == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 1024;
		r->ents = realloc(r->ents, r->cap * sizeof(*r->ents));
		ck_assert_ptr_nonnull(r->ents);
	}
	snprintf(r->ents[r->nr].name, sizeof(r->ents[r->nr].name), "%s", name);
	r->ents[r->nr].ino = ino;
	r->ents[r->nr].cookie = cookie;
	r->ents[r->nr].dtype = dtype;
	r->nr++;
	return 0;
}

/* Read the whole directory, resuming from the last cookie like getdents. */
static void rd_all(struct fs *fs, uint64_t dir, struct rd *r)
{
	uint64_t pos = 0;

	for (;;) {
		size_t before = r->nr;

		r->stop_after = r->nr + 1000;
		ck_assert_int_eq(fs_readdir(fs, dir, pos, rd_fill, r), 0);
		if (r->nr == before)
			break;
		pos = r->ents[r->nr - 1].cookie;
	}
	r->stop_after = 0;
}

static const struct rd_ent *rd_find(const struct rd *r, const char *name)
{
	for (size_t i = 0; i < r->nr; i++)
		if (!strcmp(r->ents[i].name, name))
			return &r->ents[i];
	return NULL;
}

/* ---- basic names ---- */

static bool ino_in(const uint64_t *inos, size_t nr, uint64_t ino)
{
	for (size_t i = 0; i < nr; i++)
		if (inos[i] == ino)
			return true;
	return false;
}

static void lookup_inc(uint64_t ino)
{
	struct fs_inode *ip;

	ck_assert_int_eq(fs_iget(t.fs, ino, &ip), 0);
	fs_inode_lookup_inc(ip);
	fs_iput(ip);
}

/* The daemon invalidates, after a shutdown, exactly the inodes the kernel
 * holds a lookup on: cached inodes without one are not the kernel's. */
START_TEST(known_inodes_are_the_ones_the_kernel_looked_up)
{
	uint64_t a = tfs_create(t.fs, ROOT, "a", S_IFREG | 0644, NULL);
	uint64_t b = tfs_create(t.fs, ROOT, "b", S_IFDIR | 0755, NULL);
	uint64_t c = tfs_create(t.fs, ROOT, "c", S_IFREG | 0644, NULL);
	struct fs_inode *held;
	uint64_t *inos;
	size_t nr;

	ck_assert_int_eq(fs_iget(t.fs, c, &held), 0);	/* cached, not looked up */
	lookup_inc(a);
	lookup_inc(b);
	lookup_inc(b);
	inos = fs_inodes_known(t.fs, &nr);
	ck_assert(ino_in(inos, nr, a) && ino_in(inos, nr, b) && !ino_in(inos, nr, c));
	kfree(inos);
	fs_forget(t.fs, a, 1);
	fs_forget(t.fs, b, 1);
	inos = fs_inodes_known(t.fs, &nr);
	ck_assert(!ino_in(inos, nr, a) && ino_in(inos, nr, b));
	kfree(inos);
	fs_forget(t.fs, b, 1);
	fs_iput(held);
}
END_TEST

START_TEST(create_lookup_unlink_round_trip)
{
	uint64_t ino, found;

	ino = tfs_create(t.fs, ROOT, "a", S_IFREG | 0644, NULL);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "a", &found), 0);
	ck_assert_uint_eq(found, ino);
	ck_assert_int_eq(tfs_create_err(t.fs, ROOT, "a", S_IFREG | 0644), -EEXIST);
	ck_assert_int_eq(tfs_create_err(t.fs, ROOT, "a", S_IFDIR | 0755), -EEXIST);
	ck_assert_int_eq(fs_unlink(t.fs, ROOT, "a"), 0);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "a", NULL), -ENOENT);
	ck_assert_int_eq(fs_unlink(t.fs, ROOT, "a"), -ENOENT);
	ck_assert_int_eq(fs_iget(t.fs, ino, &(struct fs_inode *){ NULL }), -ENOENT);
}
END_TEST

static uint64_t sections_now(void)
{
	struct meta_stats st;

	meta_get_stats(fs_meta(t.fs), &st);
	return st.sections;
}

/*
 * The unlink of a create-and-close file, as the kernel sends it: UNLINK
 * while its lookup is held, FORGET later.  Each is one write section: an
 * empty file has no blocks to free, so no data-freeing section runs
 * between them (it used to, one more exclusive metadata lock per unlink).
 */
START_TEST(unlinking_an_empty_file_takes_one_section_and_its_forget_one)
{
	uint64_t ino = tfs_create(t.fs, ROOT, "empty", S_IFREG | 0644, NULL);
	uint64_t before;

	lookup_inc(ino);			/* the kernel's dentry */
	before = sections_now();
	ck_assert_int_eq(fs_unlink(t.fs, ROOT, "empty"), 0);
	ck_assert_uint_eq(sections_now() - before, 1);
	fs_forget(t.fs, ino, 1);		/* the inode's items go */
	ck_assert_uint_eq(sections_now() - before, 2);
	ck_assert_int_eq(fs_iget(t.fs, ino, &(struct fs_inode *){ NULL }), -ENOENT);
	tfs_unmount(&t);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_OK);
}
END_TEST

START_TEST(bad_names_are_rejected_with_the_right_errno)
{
	char name[300];

	memset(name, 'x', 256);
	name[256] = '\0';
	ck_assert_int_eq(tfs_create_err(t.fs, ROOT, name, S_IFREG | 0644), -ENAMETOOLONG);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, name, NULL), -ENAMETOOLONG);
	name[255] = '\0';
	tfs_create(t.fs, ROOT, name, S_IFREG | 0644, NULL);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, name, NULL), 0);
	ck_assert_int_eq(tfs_create_err(t.fs, ROOT, "", S_IFREG | 0644), -EINVAL);
	ck_assert_int_eq(tfs_create_err(t.fs, ROOT, "a/b", S_IFREG | 0644), -EINVAL);
	ck_assert_int_eq(fs_rename(t.fs, ROOT, name, ROOT, "c/d", 0), -EINVAL);
}
END_TEST

START_TEST(every_file_type_is_created_with_its_dtype)
{
	static const mode_t modes[] = { S_IFREG, S_IFDIR, S_IFCHR, S_IFBLK,
					S_IFIFO, S_IFSOCK, S_IFLNK };
	struct rd r = { 0 };

	for (unsigned i = 0; i < ARRAY_SIZE(modes); i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%u", i);
		tfs_create(t.fs, ROOT, name, modes[i] | 0644,
			   S_ISLNK(modes[i]) ? "target" : NULL);
	}
	rd_all(t.fs, ROOT, &r);
	ck_assert_uint_eq(r.nr, 2 + ARRAY_SIZE(modes));
	for (unsigned i = 0; i < ARRAY_SIZE(modes); i++) {
		char name[16];
		const struct rd_ent *e;

		snprintf(name, sizeof(name), "f%u", i);
		e = rd_find(&r, name);
		ck_assert_ptr_nonnull(e);
		ck_assert_uint_eq(e->dtype, IFTODT(modes[i]));
		ck_assert_uint_eq(tfs_stat(t.fs, e->ino).st_mode & S_IFMT, modes[i]);
	}
	free(r.ents);
}
END_TEST

START_TEST(dot_and_dotdot_carry_the_real_inode_numbers)
{
	uint64_t a = tfs_create(t.fs, ROOT, "a", S_IFDIR | 0755, NULL);
	uint64_t b = tfs_create(t.fs, a, "b", S_IFDIR | 0755, NULL);
	struct rd r = { 0 };

	rd_all(t.fs, b, &r);
	ck_assert_uint_eq(r.nr, 2);
	ck_assert_str_eq(r.ents[0].name, ".");
	ck_assert_uint_eq(r.ents[0].ino, b);
	ck_assert_str_eq(r.ents[1].name, "..");
	ck_assert_uint_eq(r.ents[1].ino, a);
	r.nr = 0;
	rd_all(t.fs, ROOT, &r);
	ck_assert_uint_eq(r.ents[1].ino, ROOT);
	free(r.ents);
}
END_TEST

/* ---- a large directory ---- */

#define BIG_N	100000

START_TEST(hundred_thousand_entries_found_listed_once_and_removed)
{
	uint64_t dir = tfs_create(t.fs, ROOT, "big", S_IFDIR | 0755, NULL);
	uint64_t *inos = calloc(BIG_N, sizeof(*inos));
	uint8_t *seen = calloc(BIG_N, 1);
	struct rd r = { 0 };
	char name[32];

	ck_assert_ptr_nonnull(inos);
	ck_assert_ptr_nonnull(seen);
	for (unsigned i = 0; i < BIG_N; i++) {
		snprintf(name, sizeof(name), "file-%07u", i);
		inos[i] = tfs_create(t.fs, dir, name, S_IFREG | 0644, NULL);
	}
	ck_assert_int_eq(tfs_create_err(t.fs, dir, "file-0050000", S_IFREG), -EEXIST);
	for (unsigned i = 0; i < BIG_N; i++) {
		uint64_t ino;

		snprintf(name, sizeof(name), "file-%07u", i);
		ck_assert_int_eq(tfs_lookup(t.fs, dir, name, &ino), 0);
		ck_assert_uint_eq(ino, inos[i]);
	}
	ck_assert_uint_eq(tfs_stat(t.fs, dir).st_size, (uint64_t)BIG_N * FS_DIRENT_SIZE);

	rd_all(t.fs, dir, &r);
	ck_assert_uint_eq(r.nr, BIG_N + 2);
	for (size_t i = 2; i < r.nr; i++) {
		unsigned n;

		ck_assert_int_eq(sscanf(r.ents[i].name, "file-%u", &n), 1);
		ck_assert_uint_lt(n, BIG_N);
		ck_assert_uint_eq(seen[n], 0);
		seen[n] = 1;
		ck_assert_uint_eq(r.ents[i].ino, inos[n]);
		ck_assert_uint_gt(r.ents[i].cookie, r.ents[i - 1].cookie);
	}

	for (unsigned i = 0; i < BIG_N; i++) {
		snprintf(name, sizeof(name), "file-%07u", i);
		ck_assert_int_eq(fs_unlink(t.fs, dir, name), 0);
	}
	r.nr = 0;
	rd_all(t.fs, dir, &r);
	ck_assert_uint_eq(r.nr, 2);
	ck_assert_uint_eq(tfs_stat(t.fs, dir).st_size, 0);
	ck_assert_int_eq(fs_rmdir(t.fs, ROOT, "big"), 0);
	tfs_unmount(&t);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_OK);
	free(r.ents);
	free(seen);
	free(inos);
}
END_TEST

/* ---- readdir cookies ---- */

START_TEST(readdir_resumed_after_changes_skips_and_repeats_nothing)
{
	enum { KEEP = 3000, CHURN = 1500 };
	uint8_t *seen = calloc(KEEP, 1);
	struct rd r = { .stop_after = 1000 };
	uint64_t pos;
	char name[32];

	for (unsigned i = 0; i < KEEP; i++) {
		snprintf(name, sizeof(name), "keep%u", i);
		tfs_create(t.fs, ROOT, name, S_IFREG | 0644, NULL);
	}
	for (unsigned i = 0; i < CHURN; i++) {
		snprintf(name, sizeof(name), "old%u", i);
		tfs_create(t.fs, ROOT, name, S_IFREG | 0644, NULL);
	}
	/* First getdents: 1000 entries, then the directory changes a lot. */
	ck_assert_int_eq(fs_readdir(t.fs, ROOT, 0, rd_fill, &r), 0);
	ck_assert_uint_eq(r.nr, 1000);
	pos = r.ents[r.nr - 1].cookie;
	for (unsigned i = 0; i < CHURN; i++) {
		snprintf(name, sizeof(name), "old%u", i);
		ck_assert_int_eq(fs_unlink(t.fs, ROOT, name), 0);
		snprintf(name, sizeof(name), "new%u", i);
		tfs_create(t.fs, ROOT, name, S_IFREG | 0644, NULL);
	}
	/* seekdir(pos) and read the rest. */
	for (;;) {
		size_t before = r.nr;

		r.stop_after = r.nr + 700;
		ck_assert_int_eq(fs_readdir(t.fs, ROOT, pos, rd_fill, &r), 0);
		if (r.nr == before)
			break;
		pos = r.ents[r.nr - 1].cookie;
	}
	for (size_t i = 0; i < r.nr; i++) {
		unsigned n;

		if (sscanf(r.ents[i].name, "keep%u", &n) != 1)
			continue;
		ck_assert_msg(!seen[n], "%s listed twice", r.ents[i].name);
		seen[n] = 1;
	}
	for (unsigned i = 0; i < KEEP; i++)
		ck_assert_msg(seen[i], "keep%u skipped", i);
	free(r.ents);
	free(seen);
}
END_TEST

/* ---- rename ---- */

START_TEST(rename_moves_and_replaces_files)
{
	uint64_t d = tfs_create(t.fs, ROOT, "d", S_IFDIR | 0755, NULL);
	uint64_t a = tfs_create(t.fs, ROOT, "a", S_IFREG | 0644, NULL);
	uint64_t b = tfs_create(t.fs, d, "b", S_IFREG | 0644, NULL);
	uint64_t ino;

	ck_assert_int_eq(fs_rename(t.fs, ROOT, "a", ROOT, "a2", 0), 0);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "a", NULL), -ENOENT);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "a2", &ino), 0);
	ck_assert_uint_eq(ino, a);
	/* Replace d/b: b loses its only link and goes away. */
	ck_assert_int_eq(fs_rename(t.fs, ROOT, "a2", d, "b", 0), 0);
	ck_assert_int_eq(tfs_lookup(t.fs, d, "b", &ino), 0);
	ck_assert_uint_eq(ino, a);
	ck_assert_int_eq(fs_iget(t.fs, b, &(struct fs_inode *){ NULL }), -ENOENT);
	ck_assert_uint_eq(tfs_stat(t.fs, ROOT).st_size, 1 * FS_DIRENT_SIZE);
	ck_assert_uint_eq(tfs_stat(t.fs, d).st_size, 1 * FS_DIRENT_SIZE);
	ck_assert_int_eq(fs_rename(t.fs, ROOT, "missing", ROOT, "x", 0), -ENOENT);
}
END_TEST

START_TEST(rename_noreplace_and_bad_flags)
{
	tfs_create(t.fs, ROOT, "a", S_IFREG | 0644, NULL);
	tfs_create(t.fs, ROOT, "b", S_IFREG | 0644, NULL);
	ck_assert_int_eq(fs_rename(t.fs, ROOT, "a", ROOT, "b", RENAME_NOREPLACE), -EEXIST);
	ck_assert_int_eq(fs_rename(t.fs, ROOT, "a", ROOT, "c", RENAME_NOREPLACE), 0);
	ck_assert_int_eq(fs_rename(t.fs, ROOT, "c", ROOT, "d", RENAME_WHITEOUT), -EINVAL);
	ck_assert_int_eq(fs_rename(t.fs, ROOT, "c", ROOT, "d",
				   RENAME_NOREPLACE | RENAME_EXCHANGE), -EINVAL);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "c", NULL), 0);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "b", NULL), 0);
}
END_TEST

START_TEST(rename_exchange_swaps_a_file_and_a_directory_across_parents)
{
	uint64_t p1 = tfs_create(t.fs, ROOT, "p1", S_IFDIR | 0755, NULL);
	uint64_t p2 = tfs_create(t.fs, ROOT, "p2", S_IFDIR | 0755, NULL);
	uint64_t f = tfs_create(t.fs, p1, "x", S_IFREG | 0644, NULL);
	uint64_t d = tfs_create(t.fs, p2, "y", S_IFDIR | 0755, NULL);
	struct rd r = { 0 };
	uint64_t ino;

	ck_assert_uint_eq(tfs_stat(t.fs, p1).st_nlink, 2);
	ck_assert_uint_eq(tfs_stat(t.fs, p2).st_nlink, 3);
	ck_assert_int_eq(fs_rename(t.fs, p1, "x", p2, "y", RENAME_EXCHANGE), 0);
	ck_assert_int_eq(tfs_lookup(t.fs, p1, "x", &ino), 0);
	ck_assert_uint_eq(ino, d);
	ck_assert_int_eq(tfs_lookup(t.fs, p2, "y", &ino), 0);
	ck_assert_uint_eq(ino, f);
	/* The directory's ".." follows it; the parents' link counts swap. */
	ck_assert_int_eq(tfs_lookup(t.fs, d, "..", &ino), 0);
	ck_assert_uint_eq(ino, p1);
	rd_all(t.fs, d, &r);
	ck_assert_uint_eq(r.ents[1].ino, p1);
	ck_assert_uint_eq(tfs_stat(t.fs, p1).st_nlink, 3);
	ck_assert_uint_eq(tfs_stat(t.fs, p2).st_nlink, 2);
	ck_assert_int_eq(fs_rename(t.fs, p1, "x", p2, "nope", RENAME_EXCHANGE), -ENOENT);
	ck_assert_int_eq(fs_rename(t.fs, p1, "nope", p2, "y", RENAME_EXCHANGE), -ENOENT);
	free(r.ents);
}
END_TEST

START_TEST(rename_type_mismatch_and_nonempty_target_fail)
{
	uint64_t d1 = tfs_create(t.fs, ROOT, "d1", S_IFDIR | 0755, NULL);

	tfs_create(t.fs, ROOT, "d2", S_IFDIR | 0755, NULL);
	tfs_create(t.fs, ROOT, "f", S_IFREG | 0644, NULL);
	tfs_create(t.fs, d1, "inside", S_IFREG | 0644, NULL);
	ck_assert_int_eq(fs_rename(t.fs, ROOT, "d2", ROOT, "f", 0), -ENOTDIR);
	ck_assert_int_eq(fs_rename(t.fs, ROOT, "f", ROOT, "d2", 0), -EISDIR);
	ck_assert_int_eq(fs_rename(t.fs, ROOT, "d2", ROOT, "d1", 0), -ENOTEMPTY);
	/* An empty directory target is replaced. */
	ck_assert_int_eq(fs_rename(t.fs, ROOT, "d1", ROOT, "d2", 0), 0);
	ck_assert_int_eq(tfs_lookup(t.fs, d1, "inside", NULL), 0);
	ck_assert_uint_eq(tfs_stat(t.fs, ROOT).st_nlink, 3);
}
END_TEST

START_TEST(rename_directory_into_its_own_subtree_is_einval)
{
	uint64_t a = tfs_create(t.fs, ROOT, "a", S_IFDIR | 0755, NULL);
	uint64_t b = tfs_create(t.fs, a, "b", S_IFDIR | 0755, NULL);
	uint64_t c = tfs_create(t.fs, b, "c", S_IFDIR | 0755, NULL);

	ck_assert_int_eq(fs_rename(t.fs, ROOT, "a", c, "a", 0), -EINVAL);
	ck_assert_int_eq(fs_rename(t.fs, ROOT, "a", a, "a", 0), -EINVAL);
	ck_assert_int_eq(fs_rename(t.fs, a, "b", c, "x", 0), -EINVAL);
	/* Exchange where the other side would land inside its own subtree. */
	ck_assert_int_eq(fs_rename(t.fs, b, "c", ROOT, "a", RENAME_EXCHANGE), -EINVAL);
	/* Moving c up is fine, and the tree is unchanged by the failures. */
	ck_assert_int_eq(fs_rename(t.fs, b, "c", ROOT, "c", 0), 0);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "a", NULL), 0);
	ck_assert_uint_eq(tfs_stat(t.fs, ROOT).st_nlink, 4);
	ck_assert_uint_eq(tfs_stat(t.fs, b).st_nlink, 2);
}
END_TEST

START_TEST(rename_between_two_links_of_one_inode_changes_nothing)
{
	uint64_t a = tfs_create(t.fs, ROOT, "a", S_IFREG | 0644, NULL);
	struct fs_inode *ip;
	uint64_t ino;

	ck_assert_int_eq(fs_link(t.fs, a, ROOT, "b", &ip), 0);
	fs_iput(ip);
	ck_assert_int_eq(fs_rename(t.fs, ROOT, "a", ROOT, "b", 0), 0);
	ck_assert_int_eq(fs_rename(t.fs, ROOT, "a", ROOT, "a", 0), 0);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "a", &ino), 0);
	ck_assert_uint_eq(ino, a);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "b", &ino), 0);
	ck_assert_uint_eq(ino, a);
	ck_assert_uint_eq(tfs_stat(t.fs, a).st_nlink, 2);
}
END_TEST

/* ---- link counts ---- */

START_TEST(directory_link_counts_follow_mkdir_rmdir_and_rename)
{
	uint64_t p = tfs_create(t.fs, ROOT, "p", S_IFDIR | 0755, NULL);
	uint64_t q = tfs_create(t.fs, ROOT, "q", S_IFDIR | 0755, NULL);

	ck_assert_uint_eq(tfs_stat(t.fs, ROOT).st_nlink, 4);
	tfs_create(t.fs, p, "s1", S_IFDIR | 0755, NULL);
	tfs_create(t.fs, p, "s2", S_IFDIR | 0755, NULL);
	tfs_create(t.fs, p, "file", S_IFREG | 0644, NULL);
	ck_assert_uint_eq(tfs_stat(t.fs, p).st_nlink, 4);
	ck_assert_int_eq(fs_rename(t.fs, p, "s1", q, "s1", 0), 0);
	ck_assert_uint_eq(tfs_stat(t.fs, p).st_nlink, 3);
	ck_assert_uint_eq(tfs_stat(t.fs, q).st_nlink, 3);
	ck_assert_int_eq(fs_rmdir(t.fs, p, "s2"), 0);
	ck_assert_uint_eq(tfs_stat(t.fs, p).st_nlink, 2);
	ck_assert_int_eq(fs_rmdir(t.fs, ROOT, "p"), -ENOTEMPTY);
	ck_assert_int_eq(fs_rmdir(t.fs, p, "file"), -ENOTDIR);
	ck_assert_int_eq(fs_unlink(t.fs, ROOT, "q"), -EISDIR);
	ck_assert_int_eq(fs_unlink(t.fs, p, "file"), 0);
	ck_assert_int_eq(fs_rmdir(t.fs, ROOT, "p"), 0);
	ck_assert_uint_eq(tfs_stat(t.fs, ROOT).st_nlink, 3);
	tfs_unmount(&t);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_OK);
}
END_TEST

START_TEST(hard_links_count_and_directories_cannot_be_linked)
{
	uint64_t f = tfs_create(t.fs, ROOT, "f", S_IFREG | 0644, NULL);
	uint64_t d = tfs_create(t.fs, ROOT, "d", S_IFDIR | 0755, NULL);
	struct fs_inode *ip;

	ck_assert_int_eq(fs_link(t.fs, f, d, "f2", &ip), 0);
	ck_assert_uint_eq(ip->ino, f);
	fs_iput(ip);
	ck_assert_uint_eq(tfs_stat(t.fs, f).st_nlink, 2);
	ck_assert_int_eq(fs_link(t.fs, f, d, "f2", &ip), -EEXIST);
	ck_assert_int_eq(fs_link(t.fs, d, ROOT, "d2", &ip), -EPERM);
	ck_assert_int_eq(fs_unlink(t.fs, ROOT, "f"), 0);
	ck_assert_uint_eq(tfs_stat(t.fs, f).st_nlink, 1);
	ck_assert_int_eq(tfs_lookup(t.fs, d, "f2", NULL), 0);
}
END_TEST

/* ---- symlinks and persistence ---- */

START_TEST(symlink_targets_round_trip_across_chunks_and_remount)
{
	char target[IOMAPFS_SYMLINK_MAX + 2], buf[IOMAPFS_SYMLINK_MAX + 1];
	uint64_t s;

	for (unsigned i = 0; i < sizeof(target); i++)
		target[i] = 'a' + i % 26;
	target[3000] = '\0';
	s = tfs_create(t.fs, ROOT, "s", S_IFLNK | 0777, target);
	target[3000] = 'x';
	target[IOMAPFS_SYMLINK_MAX + 1] = '\0';
	ck_assert_int_eq(fs_create(t.fs, ROOT, "long",
				   &(struct fs_create_args){ .mode = S_IFLNK | 0777,
							     .symlink = target },
				   &(struct fs_inode *){ NULL }), -ENAMETOOLONG);
	for (unsigned i = 0; i < sizeof(target); i++)
		target[i] = 'a' + i % 26;
	tfs_remount(&t);
	ck_assert_int_eq(fs_readlink(t.fs, s, buf, sizeof(buf)), 3000);
	ck_assert_mem_eq(buf, target, 3000);
	ck_assert_uint_eq(tfs_stat(t.fs, s).st_size, 3000);
	ck_assert_int_eq(fs_readlink(t.fs, s, buf, 10), 10);
	ck_assert_int_eq(fs_readlink(t.fs, ROOT, buf, sizeof(buf)), -EINVAL);
	tfs_unmount(&t);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_OK);
}
END_TEST

START_TEST(names_survive_remount)
{
	uint64_t d = tfs_create(t.fs, ROOT, "d", S_IFDIR | 0755, NULL);
	uint64_t f = tfs_create(t.fs, d, "f", S_IFREG | 0644, NULL);
	uint64_t ino;

	ck_assert_int_eq(fs_rename(t.fs, d, "f", ROOT, "g", 0), 0);
	tfs_remount(&t);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "g", &ino), 0);
	ck_assert_uint_eq(ino, f);
	ck_assert_int_eq(tfs_lookup(t.fs, d, "f", NULL), -ENOENT);
	ck_assert_int_eq(tfs_lookup(t.fs, d, "..", &ino), 0);
	ck_assert_uint_eq(ino, ROOT);
	ck_assert_uint_eq(tfs_stat(t.fs, ROOT).st_nlink, 3);
}
END_TEST

/* ---- hash buckets ---- */

/* Put an entry for @ino named @name into @bucket_of's hash bucket at
 * @idx: what a 56-bit hash collision would look like on disk. */
static void plant_collision(uint64_t dir, const char *bucket_of, unsigned idx,
			    const char *name, uint64_t ino)
{
	uint8_t val[sizeof(struct iomapfs_dirent) + IOMAPFS_NAME_MAX];
	struct iomapfs_dirent *de = (void *)val;
	uint64_t h = fs_name_hash56(bucket_of, strlen(bucket_of));
	struct iomapfs_key key = meta_key(dir, IOMAPFS_ITEM_DIRENT, h << 8 | idx);

	*de = (struct iomapfs_dirent){ .ino = ino, .type = DT_REG,
				       .name_len = strlen(name) };
	memcpy(de + 1, name, strlen(name));
	meta_begin(fs_meta(t.fs));
	ck_assert_int_eq(btree_insert(fs_meta(t.fs), &key, val,
				      sizeof(*de) + strlen(name)), 0);
	meta_end(fs_meta(t.fs));
}

/*
 * Every readdir offset is a valid lseek offset (a non-negative loff_t) and
 * resuming from it continues right after its entry.  Guards the 64-bit
 * cookies of which about half were >= 2^63, which lseek() refused.
 */
START_TEST(readdir_offsets_fit_a_signed_loff_t_and_resume_after_their_entry)
{
	struct rd r = { 0 }, rest = { 0 };
	char name[32];

	for (unsigned i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		tfs_create(t.fs, ROOT, name, S_IFREG | 0644, NULL);
	}
	rd_all(t.fs, ROOT, &r);
	ck_assert_uint_eq(r.nr, 302);
	for (size_t i = 0; i + 1 < r.nr; i++) {
		ck_assert_uint_le(r.ents[i].cookie, INT64_MAX);
		ck_assert_uint_lt(r.ents[i].cookie, r.ents[i + 1].cookie);
		rest.nr = 0;
		rest.stop_after = 1;
		ck_assert_int_eq(fs_readdir(t.fs, ROOT, r.ents[i].cookie, rd_fill, &rest), 0);
		ck_assert_uint_eq(rest.nr, 1);
		ck_assert_str_eq(rest.ents[0].name, r.ents[i + 1].name);
	}
	free(r.ents);
	free(rest.ents);
}
END_TEST

START_TEST(colliding_names_take_separate_slots_and_a_full_bucket_is_enospc)
{
	uint64_t other = tfs_create(t.fs, ROOT, "other", S_IFREG | 0644, NULL);
	uint64_t b, ino;
	struct rd r = { 0 };
	char name[32];

	plant_collision(ROOT, "b", 0, "not-b", other);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "b", NULL), -ENOENT);
	b = tfs_create(t.fs, ROOT, "b", S_IFREG | 0644, NULL);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "b", &ino), 0);
	ck_assert_uint_eq(ino, b);
	rd_all(t.fs, ROOT, &r);
	/* The offset is hash << 7 | slot. */
	ck_assert_uint_eq(rd_find(&r, "b")->cookie & 127, 1);
	ck_assert_uint_eq(rd_find(&r, "b")->cookie >> 7,
			  rd_find(&r, "not-b")->cookie >> 7);
	/* Removing b frees slot 1 only; "not-b" stays listed. */
	ck_assert_int_eq(fs_unlink(t.fs, ROOT, "b"), 0);
	r.nr = 0;
	rd_all(t.fs, ROOT, &r);
	ck_assert_ptr_nonnull(rd_find(&r, "not-b"));
	ck_assert_ptr_null(rd_find(&r, "b"));
	for (unsigned idx = 1; idx < 128; idx++) {
		snprintf(name, sizeof(name), "not-b-%u", idx);
		plant_collision(ROOT, "b", idx, name, other);
	}
	ck_assert_int_eq(tfs_create_err(t.fs, ROOT, "b", S_IFREG | 0644), -ENOSPC);
	free(r.ents);
}
END_TEST

START_TEST(name_changes_update_the_directory_mtime)
{
	uint64_t d = tfs_create(t.fs, ROOT, "d", S_IFDIR | 0755, NULL);
	struct fs_setattr old = { .valid = FS_SET_MTIME, .mtime = { 1000, 0 } };
	struct fs_inode *ip;

	ck_assert_int_eq(fs_setattr(t.fs, d, &old), 0);
	tfs_create(t.fs, d, "f", S_IFREG | 0644, NULL);
	ck_assert_int_gt(tfs_stat(t.fs, d).st_mtime, 1000);

	ck_assert_int_eq(fs_setattr(t.fs, d, &old), 0);
	ck_assert_int_eq(fs_rename(t.fs, d, "f", d, "g", 0), 0);
	ck_assert_int_gt(tfs_stat(t.fs, d).st_mtime, 1000);

	ck_assert_int_eq(fs_setattr(t.fs, d, &old), 0);
	ck_assert_int_eq(tfs_lookup(t.fs, d, "g", &(uint64_t){ 0 }), 0);
	ck_assert_int_eq(fs_lookup(t.fs, d, "g", &ip), 0);
	ck_assert_int_eq(fs_link(t.fs, ip->ino, d, "h", &(struct fs_inode *){ NULL }), 0);
	fs_iput(ip);
	ck_assert_int_gt(tfs_stat(t.fs, d).st_mtime, 1000);

	ck_assert_int_eq(fs_setattr(t.fs, d, &old), 0);
	ck_assert_int_eq(fs_unlink(t.fs, d, "g"), 0);
	ck_assert_int_gt(tfs_stat(t.fs, d).st_mtime, 1000);
}
END_TEST

/* ---- concurrency ---- */

struct race {
	uint64_t	x, y;
	unsigned	id;
	int		bad;	/* an errno no interleaving explains */
};

/* Names that other threads create, move and delete under us. */
static void *race_files(void *arg)
{
	struct race *r = arg;
	char a[32], b[32];

	for (unsigned i = 0; i < 1500; i++) {
		struct fs_create_args ca = { .mode = S_IFREG | 0644 };
		struct fs_inode *ip;
		int err;

		snprintf(a, sizeof(a), "shared%u", i % 7);
		snprintf(b, sizeof(b), "moved%u", i % 5);
		err = fs_create(t.fs, r->x, a, &ca, &ip);
		if (!err)
			fs_iput(ip);
		else if (err != -EEXIST)
			r->bad = err;
		err = fs_rename(t.fs, r->x, a, r->y, b, r->id ? RENAME_EXCHANGE : 0);
		if (err && err != -ENOENT)
			r->bad = err;
		err = fs_unlink(t.fs, r->y, b);
		if (err && err != -ENOENT)
			r->bad = err;
	}
	return NULL;
}

/* A directory that moves between x and y while files churn. */
static void *race_dirs(void *arg)
{
	struct race *r = arg;

	for (unsigned i = 0; i < 1500; i++) {
		int err = fs_rename(t.fs, i % 2 ? r->x : r->y, "sub",
				    i % 2 ? r->y : r->x, "sub", 0);

		if (err)
			r->bad = err;
	}
	return NULL;
}

START_TEST(concurrent_creates_renames_and_unlinks_leave_a_consistent_tree)
{
	uint64_t x = tfs_create(t.fs, ROOT, "x", S_IFDIR | 0755, NULL);
	uint64_t y = tfs_create(t.fs, ROOT, "y", S_IFDIR | 0755, NULL);
	struct race r[3] = { { x, y, 0, 0 }, { x, y, 1, 0 }, { x, y, 2, 0 } };
	struct fs_inode *pin[2];
	pthread_t th[3];

	tfs_create(t.fs, y, "sub", S_IFDIR | 0755, NULL);
	/* Pinned here; the unpinned case is the one below. */
	ck_assert_int_eq(fs_iget(t.fs, x, &pin[0]), 0);
	ck_assert_int_eq(fs_iget(t.fs, y, &pin[1]), 0);
	ck_assert_int_eq(pthread_create(&th[0], NULL, race_files, &r[0]), 0);
	ck_assert_int_eq(pthread_create(&th[1], NULL, race_files, &r[1]), 0);
	ck_assert_int_eq(pthread_create(&th[2], NULL, race_dirs, &r[2]), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	fs_iput(pin[0]);
	fs_iput(pin[1]);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(!r[i].bad, "thread %d saw %d", i, r[i].bad);
	/* "sub" made 1500 moves and ends where it started; counts follow. */
	ck_assert_int_eq(tfs_lookup(t.fs, y, "sub", NULL), 0);
	ck_assert_uint_eq(tfs_stat(t.fs, y).st_nlink, 3);
	ck_assert_uint_eq(tfs_stat(t.fs, x).st_nlink, 2);
	tfs_unmount(&t);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_OK);
}
END_TEST

struct creator {
	uint64_t	dir;
	unsigned	id;
	int		bad;
};

static void *create_many(void *arg)
{
	struct creator *c = arg;
	char name[32];

	for (unsigned i = 0; i < 4000; i++) {
		struct fs_create_args ca = { .mode = S_IFREG | 0644 };
		struct fs_inode *ip;
		int err;

		snprintf(name, sizeof(name), "t%u-%u", c->id, i);
		err = fs_create(t.fs, c->dir, name, &ca, &ip);
		if (err)
			c->bad = err;
		else
			fs_iput(ip);
	}
	return NULL;
}

/*
 * Nobody holds the directory, so creates keep loading and evicting it while
 * others change it: the path where fs_iget() once could cache a stale
 * dinode (see inode.c).  That race is rare; this case checks the outcome
 * (size and fsck), it does not reproduce the race on demand.
 */
START_TEST(concurrent_creates_in_an_unheld_directory_lose_no_update)
{
	uint64_t d = tfs_create(t.fs, ROOT, "d", S_IFDIR | 0755, NULL);
	struct creator c[3] = { { d, 0, 0 }, { d, 1, 0 }, { d, 2, 0 } };
	pthread_t th[3];

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, create_many, &c[i]), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(!c[i].bad, "creator %d saw %d", i, c[i].bad);
	ck_assert_uint_eq(tfs_stat(t.fs, d).st_size, 3 * 4000 * FS_DIRENT_SIZE);
	tfs_unmount(&t);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_OK);
}
END_TEST

/* ---- read sections beside writers ---- */

#define STABLE_FILES	20

struct churn {
	uint64_t	dir, other;	/* churned directories */
	uint64_t	stable_ino;	/* linked into @dir and @other as it goes */
	unsigned	id;
	atomic_bool	*stop;
	int		bad;
	unsigned	passes;		/* reader: full checks made */
};

/* Creates, hard links and unlinks in the shared directory and in one of
 * its own, until the readers are done. */
static void *churn_writer(void *arg)
{
	struct churn *c = arg;
	char name[32];

	for (unsigned i = 0; !atomic_load(c->stop); i++) {
		struct fs_create_args ca = { .mode = S_IFREG | 0644 };
		struct fs_inode *ip;
		uint64_t d = i % 2 ? c->dir : c->other;
		int err;

		snprintf(name, sizeof(name), "w%u-%u", c->id, i % 50);
		err = fs_create(t.fs, d, name, &ca, &ip);
		if (!err)
			fs_iput(ip);
		else if (err != -EEXIST)
			c->bad = err;
		snprintf(name, sizeof(name), "l%u-%u", c->id, i % 30);
		err = fs_link(t.fs, c->stable_ino, d, name, &ip);
		if (!err)
			fs_iput(ip);
		else if (err != -EEXIST)
			c->bad = err;
		snprintf(name, sizeof(name), "w%u-%u", c->id, (i + 25) % 50);
		err = fs_unlink(t.fs, d, name);
		if (err && err != -ENOENT)
			c->bad = err;
		snprintf(name, sizeof(name), "l%u-%u", c->id, (i + 15) % 30);
		err = fs_unlink(t.fs, d, name);
		if (err && err != -ENOENT)
			c->bad = err;
	}
	return NULL;
}

static int count_stable(void *ctx, const char *name, uint64_t ino, unsigned dtype,
			uint64_t cookie)
{
	unsigned *n = ctx;

	(void)ino, (void)dtype, (void)cookie;
	*n += !strncmp(name, "stable", 6);
	return 0;
}

/* Lookups, readdir and getxattr of files nobody changes, all the time
 * while writers change the same directory. */
static void *churn_reader(void *arg)
{
	struct churn *c = arg;
	char name[32], val[16];

	for (unsigned pass = 0; pass < 60; pass++) {
		unsigned seen = 0;
		uint64_t ino;

		for (unsigned i = 0; i < STABLE_FILES; i++) {
			snprintf(name, sizeof(name), "stable%u", i);
			if (tfs_lookup(t.fs, c->dir, name, &ino))
				c->bad = -ENOENT;
			else if (fs_getxattr(t.fs, ino, "user.k", val, sizeof(val)) != 1 ||
				 val[0] != 'a' + (char)i)
				c->bad = -EBADE;
		}
		if (fs_readdir(t.fs, c->dir, 0, count_stable, &seen) || seen != STABLE_FILES)
			c->bad = -EBADE;
		c->passes++;
	}
	return NULL;
}

/*
 * Lookups, readdir and getxattr now run in read sections beside write
 * sections and commits: they must see every name and value that nobody
 * changes, whatever the writers do next to them (and TSan must find no
 * race in the buffer cache they share).
 */
START_TEST(lookups_and_readdir_beside_creates_links_and_unlinks)
{
	uint64_t d = tfs_create(t.fs, ROOT, "d", S_IFDIR | 0755, NULL);
	uint64_t e[2] = { tfs_create(t.fs, ROOT, "e0", S_IFDIR | 0755, NULL),
			  tfs_create(t.fs, ROOT, "e1", S_IFDIR | 0755, NULL) };
	uint64_t target = tfs_create(t.fs, ROOT, "target", S_IFREG | 0644, NULL);
	atomic_bool stop = false;
	struct churn c[4];
	pthread_t th[4];
	char name[32];

	for (unsigned i = 0; i < STABLE_FILES; i++) {
		char v = 'a' + (char)i;

		snprintf(name, sizeof(name), "stable%u", i);
		uint64_t ino = tfs_create(t.fs, d, name, S_IFREG | 0644, NULL);

		ck_assert_int_eq(fs_setxattr(t.fs, ino, "user.k", &v, 1, 0), 0);
	}
	for (int i = 0; i < 4; i++) {
		c[i] = (struct churn){ .dir = d, .other = e[i % 2], .stable_ino = target,
				       .id = i, .stop = &stop };
		ck_assert_int_eq(pthread_create(&th[i], NULL,
						i < 2 ? churn_writer : churn_reader, &c[i]), 0);
	}
	for (int i = 2; i < 4; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_msg(!c[i].bad, "thread %d saw %d", i, c[i].bad);
	ck_assert_uint_eq(c[2].passes + c[3].passes, 120);
	tfs_unmount(&t);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_OK);
}
END_TEST

/* ---- concurrent handles: per-inode section locks ---- */

struct linker {
	uint64_t	own, shared;	/* its own directory, everyone's */
	uint64_t	target;		/* the file every thread links to */
	unsigned	id;
	int		bad;
};

/* Links to one file, in its own directory and the shared one, moved
 * between them by rename and removed again; ends with 10 of its own. */
static void *link_churn(void *arg)
{
	struct linker *l = arg;
	char a[32], b[32];

	for (unsigned i = 0; i < 1200; i++) {
		struct fs_inode *ip;
		int err;

		snprintf(a, sizeof(a), "k%u-%u", l->id, i % 10);
		snprintf(b, sizeof(b), "m%u-%u", l->id, i % 10);
		err = fs_link(t.fs, l->target, l->own, a, &ip);
		if (!err)
			fs_iput(ip);
		else if (err != -EEXIST)
			l->bad = err;
		err = fs_rename(t.fs, l->own, a, l->shared, b, 0);
		if (err && err != -ENOENT)
			l->bad = err;
		if (i % 3 == 0)
			continue;	/* some stay in the shared directory */
		err = fs_rename(t.fs, l->shared, b, l->own, a, RENAME_NOREPLACE);
		if (err && err != -ENOENT && err != -EEXIST)
			l->bad = err;
		if (i % 3 == 1 && (err = fs_unlink(t.fs, l->own, a)) && err != -ENOENT)
			l->bad = err;
	}
	/* Settle: exactly names k<id>-0..9 in its own directory, none shared. */
	for (unsigned j = 0; j < 10; j++) {
		struct fs_inode *ip;
		int err;

		snprintf(a, sizeof(a), "k%u-%u", l->id, j);
		snprintf(b, sizeof(b), "m%u-%u", l->id, j);
		if ((err = fs_unlink(t.fs, l->shared, b)) && err != -ENOENT)
			l->bad = err;
		err = fs_link(t.fs, l->target, l->own, a, &ip);
		if (!err)
			fs_iput(ip);
		else if (err != -EEXIST)
			l->bad = err;
	}
	return NULL;
}

/*
 * Issue 11: write sections run concurrently, each holding the section
 * locks of the inodes it changes.  Four threads link one file under many
 * names, rename the links between their own directories and a shared one
 * and unlink them: every section changes the target's link count, so a
 * lost update (two sections on one inode without its lock) leaves a count
 * that differs from its names.  Run under TSan in the sanitizer builds.
 */
START_TEST(parallel_links_renames_and_unlinks_keep_the_link_count_exact)
{
	uint64_t shared = tfs_create(t.fs, ROOT, "shared", S_IFDIR | 0755, NULL);
	uint64_t target = tfs_create(t.fs, ROOT, "target", S_IFREG | 0644, NULL);
	struct linker l[4];
	pthread_t th[4];
	char name[32];

	for (unsigned i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "own%u", i);
		l[i] = (struct linker){ .own = tfs_create(t.fs, ROOT, name, S_IFDIR | 0755, NULL),
					.shared = shared, .target = target, .id = i };
	}
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, link_churn, &l[i]), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_msg(!l[i].bad, "thread %d saw %d", i, l[i].bad);
	ck_assert_uint_eq(tfs_stat(t.fs, target).st_nlink, 1 + 4 * 10);
	ck_assert_uint_eq(tfs_stat(t.fs, shared).st_size, 0);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_uint_eq(tfs_stat(t.fs, l[i].own).st_size, 10 * FS_DIRENT_SIZE);
	tfs_unmount(&t);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_OK);
}
END_TEST

struct same_names {
	uint64_t	dir;
	unsigned	created, exists;
	int		bad;
};

/* Every thread creates the same names, then removes half of them. */
static void *create_same_names(void *arg)
{
	struct same_names *c = arg;
	char name[32];

	for (unsigned i = 0; i < 400; i++) {
		struct fs_create_args ca = { .mode = (i % 4 ? S_IFREG : S_IFDIR) | 0755 };
		struct fs_inode *ip;
		int err;

		snprintf(name, sizeof(name), "n%u", i);
		err = fs_create(t.fs, c->dir, name, &ca, &ip);
		if (!err) {
			c->created++;
			fs_iput(ip);
		} else if (err == -EEXIST) {
			c->exists++;
		} else {
			c->bad = err;
		}
	}
	return NULL;
}

/*
 * The check and the change of a create are one section over the
 * directory's lock: of four threads creating the same 400 names at once,
 * exactly one wins each name and the others get EEXIST; the directory
 * lists each name once and its size and link count agree.
 */
START_TEST(racing_creates_of_one_name_make_exactly_one_entry)
{
	uint64_t d = tfs_create(t.fs, ROOT, "d", S_IFDIR | 0755, NULL);
	struct same_names c[4];
	pthread_t th[4];
	unsigned created = 0, exists = 0;
	struct rd r = { 0 };

	for (int i = 0; i < 4; i++) {
		c[i] = (struct same_names){ .dir = d };
		ck_assert_int_eq(pthread_create(&th[i], NULL, create_same_names, &c[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < 4; i++) {
		ck_assert_msg(!c[i].bad, "thread %d saw %d", i, c[i].bad);
		created += c[i].created;
		exists += c[i].exists;
	}
	ck_assert_uint_eq(created, 400);
	ck_assert_uint_eq(exists, 3 * 400);
	rd_all(t.fs, d, &r);
	ck_assert_uint_eq(r.nr, 2 + 400);	/* with "." and ".." */
	free(r.ents);
	ck_assert_uint_eq(tfs_stat(t.fs, d).st_size, 400 * FS_DIRENT_SIZE);
	ck_assert_uint_eq(tfs_stat(t.fs, d).st_nlink, 2 + 100);
	tfs_unmount(&t);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_OK);
}
END_TEST

struct held_section {
	struct fs_inode	*ip;
	pthread_mutex_t	lock;
	pthread_cond_t	cond;
	bool		held, release;
	pthread_t	tid;
};

/* Hold a write section over one inode until released. */
static void *hold_section(void *arg)
{
	struct held_section *h = arg;
	struct fs_section sect;

	fs_section_begin1(&sect, h->ip);
	pthread_mutex_lock(&h->lock);
	h->held = true;
	pthread_cond_broadcast(&h->cond);
	while (!h->release)
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
	fs_section_end(&sect);
	return NULL;
}

struct create_one {
	uint64_t	dir;
	const char	*name;
	int		err;
	atomic_bool	done;
	pthread_t	tid;
};

static void *create_one_thread(void *arg)
{
	struct create_one *c = arg;
	struct fs_create_args ca = { .mode = S_IFREG | 0644 };
	struct fs_inode *ip;

	c->err = fs_create(t.fs, c->dir, c->name, &ca, &ip);
	if (!c->err)
		fs_iput(ip);
	atomic_store(&c->done, true);
	return NULL;
}

static bool joined_within_a_minute(pthread_t tid)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 60;
	return pthread_timedjoin_np(tid, NULL, &ts) == 0;
}

/*
 * Issue 11: the per-object locks of concurrent write sections.  While a
 * section holds directory x, a create in directory y completes (it once
 * waited: every write section was exclusive), and a create in x waits
 * for x's section to end and then succeeds.
 */
START_TEST(a_section_on_one_directory_does_not_hold_up_another)
{
	uint64_t x = tfs_create(t.fs, ROOT, "x", S_IFDIR | 0755, NULL);
	uint64_t y = tfs_create(t.fs, ROOT, "y", S_IFDIR | 0755, NULL);
	struct held_section h = { 0 };
	struct create_one cy = { .dir = y, .name = "in-y" };
	struct create_one cx = { .dir = x, .name = "in-x" };
	bool y_done;

	ck_assert_int_eq(fs_iget(t.fs, x, &h.ip), 0);
	pthread_mutex_init(&h.lock, NULL);
	pthread_cond_init(&h.cond, NULL);
	ck_assert_int_eq(pthread_create(&h.tid, NULL, hold_section, &h), 0);
	pthread_mutex_lock(&h.lock);
	while (!h.held)
		pthread_cond_wait(&h.cond, &h.lock);
	pthread_mutex_unlock(&h.lock);

	ck_assert_int_eq(pthread_create(&cx.tid, NULL, create_one_thread, &cx), 0);
	ck_assert_int_eq(pthread_create(&cy.tid, NULL, create_one_thread, &cy), 0);
	y_done = joined_within_a_minute(cy.tid);
	/* x's section is still held: its create cannot have finished. */
	ck_assert(!atomic_load(&cx.done));

	pthread_mutex_lock(&h.lock);
	h.release = true;
	pthread_cond_broadcast(&h.cond);
	pthread_mutex_unlock(&h.lock);
	pthread_join(h.tid, NULL);
	pthread_join(cx.tid, NULL);
	if (!y_done)
		pthread_join(cy.tid, NULL);
	fs_iput(h.ip);
	pthread_cond_destroy(&h.cond);
	pthread_mutex_destroy(&h.lock);
	ck_assert_msg(y_done, "a create in y waited for a section on x");
	ck_assert_int_eq(cy.err, 0);
	ck_assert_int_eq(cx.err, 0);
	ck_assert_int_eq(tfs_lookup(t.fs, x, "in-x", NULL), 0);
	ck_assert_int_eq(tfs_lookup(t.fs, y, "in-y", NULL), 0);
}
END_TEST

struct mover {
	uint64_t	root;
	const char	*mine, *other;	/* move "mine" into "other" and back */
	unsigned	moved, refused;
	int		bad;
};

static void *move_into_other(void *arg)
{
	struct mover *mv = arg;

	for (unsigned i = 0; i < 1500; i++) {
		uint64_t other;
		int err = tfs_lookup(t.fs, mv->root, mv->other, &other);

		if (err)
			continue;	/* the other is inside mine right now */
		err = fs_rename(t.fs, mv->root, mv->mine, other, mv->mine, 0);
		if (err == -EINVAL || err == -ENOENT) {
			mv->refused++;	/* would be a loop, or moved meanwhile */
			continue;
		}
		if (err) {
			mv->bad = err;
			continue;
		}
		mv->moved++;
		err = fs_rename(t.fs, other, mv->mine, mv->root, mv->mine, 0);
		if (err)
			mv->bad = err;
	}
	return NULL;
}

/*
 * Two threads each move their directory into the other's and back.  Each
 * move alone passes the loop check; both at once would make a cycle that
 * no path from the root reaches.  Renames between directories take
 * fs.rename_lock, so one of them sees the other's move and is refused.
 */
START_TEST(crossing_directory_moves_never_make_a_cycle)
{
	struct mover mv[2] = {
		{ .root = ROOT, .mine = "a", .other = "b" },
		{ .root = ROOT, .mine = "b", .other = "a" },
	};
	pthread_t th[2];

	tfs_create(t.fs, ROOT, "a", S_IFDIR | 0755, NULL);
	tfs_create(t.fs, ROOT, "b", S_IFDIR | 0755, NULL);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, move_into_other, &mv[i]), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_msg(!mv[i].bad, "mover %d saw %d", i, mv[i].bad);
	ck_assert_uint_gt(mv[0].moved + mv[1].moved, 0);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "a", NULL), 0);
	ck_assert_int_eq(tfs_lookup(t.fs, ROOT, "b", NULL), 0);
	ck_assert_uint_eq(tfs_stat(t.fs, ROOT).st_nlink, 2 + 2);
	tfs_unmount(&t);
	ck_assert_int_eq(tfs_fsck(&t, false, NULL), FSCK_OK);
}
END_TEST

static Suite *dir_suite(void)
{
	Suite *s = suite_create("fs_dir");
	TCase *tc = tcase_create("names");

	tcase_add_unchecked_fixture(tc, tfs_dir_create, tfs_dir_remove);
	tcase_add_checked_fixture(tc, tfs_setup, tfs_teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, create_lookup_unlink_round_trip);
	tcase_add_test(tc, known_inodes_are_the_ones_the_kernel_looked_up);
	tcase_add_test(tc, unlinking_an_empty_file_takes_one_section_and_its_forget_one);
	tcase_add_test(tc, bad_names_are_rejected_with_the_right_errno);
	tcase_add_test(tc, every_file_type_is_created_with_its_dtype);
	tcase_add_test(tc, dot_and_dotdot_carry_the_real_inode_numbers);
	tcase_add_test(tc, hundred_thousand_entries_found_listed_once_and_removed);
	tcase_add_test(tc, readdir_resumed_after_changes_skips_and_repeats_nothing);
	tcase_add_test(tc, rename_moves_and_replaces_files);
	tcase_add_test(tc, rename_noreplace_and_bad_flags);
	tcase_add_test(tc, rename_exchange_swaps_a_file_and_a_directory_across_parents);
	tcase_add_test(tc, rename_type_mismatch_and_nonempty_target_fail);
	tcase_add_test(tc, rename_directory_into_its_own_subtree_is_einval);
	tcase_add_test(tc, rename_between_two_links_of_one_inode_changes_nothing);
	tcase_add_test(tc, directory_link_counts_follow_mkdir_rmdir_and_rename);
	tcase_add_test(tc, hard_links_count_and_directories_cannot_be_linked);
	tcase_add_test(tc, symlink_targets_round_trip_across_chunks_and_remount);
	tcase_add_test(tc, names_survive_remount);
	tcase_add_test(tc, readdir_offsets_fit_a_signed_loff_t_and_resume_after_their_entry);
	tcase_add_test(tc, colliding_names_take_separate_slots_and_a_full_bucket_is_enospc);
	tcase_add_test(tc, name_changes_update_the_directory_mtime);
	suite_add_tcase(s, tc);
	tc = tcase_create("concurrency");
	tcase_add_unchecked_fixture(tc, tfs_dir_create, tfs_dir_remove);
	tcase_add_checked_fixture(tc, tfs_setup, tfs_teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, concurrent_creates_renames_and_unlinks_leave_a_consistent_tree);
	tcase_add_test(tc, concurrent_creates_in_an_unheld_directory_lose_no_update);
	tcase_add_test(tc, lookups_and_readdir_beside_creates_links_and_unlinks);
	tcase_add_test(tc, parallel_links_renames_and_unlinks_keep_the_link_count_exact);
	tcase_add_test(tc, crossing_directory_moves_never_make_a_cycle);
	tcase_add_test(tc, racing_creates_of_one_name_make_exactly_one_entry);
	tcase_add_test(tc, a_section_on_one_directory_does_not_hold_up_another);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tfs_run(dir_suite());
}
