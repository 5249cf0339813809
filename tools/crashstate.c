// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iomapfs-crashstate: check many crash states of a write log in one
 * process, without FUSE, for tools/crashcheck.py.
 *
 *   iomapfs-crashstate --base IMG --log LOG --states FILE [--hash] [--pattern]
 *                      [--profile]
 *
 * FILE has one crash state a line, in the order of their epochs:
 *   "<id> <epoch_start> <w>[,<w>...]"   or   "<id> <epoch_start> -"
 * meaning: every write entry numbered below epoch_start (entries are
 * numbered as iomapfs-replay --list numbers them) reached the media, and
 * of the later ones only the listed writes did.
 *
 * The image lives in memory twice: as of the current epoch start (the
 * durable image, advanced as the states' epochs move on) and as the state
 * being checked, which starts as the durable image plus the state's
 * writes.  The device under the filesystem is the real block layer with an
 * in-memory backend in place of io_uring (as the fuzz targets do), so the
 * mount, the walk, the unmount and fsck all run the same fuse/libfs,
 * fuse/fs and fuse/fsck code as the daemon and fsck.iomapfs, on this
 * state's blocks.  After the state, the blocks it or its mount changed are
 * copied back from the durable image: a state costs what it touches.
 *
 * Per state: mount (journal replay, orphans), walk the tree from the root
 * (readdir, lookup, stat, every xattr of every entry, every regular file
 * read to its end through the page cache), unmount, then fsck -n on the
 * image the unmount left, as the mount path of crashcheck.py does with the
 * daemon and fsck.iomapfs.  One JSON line a state goes to stdout:
 *
 *   {"id": N, "problems": [...], "fsck": RC, "fsck_out": "...",
 *    "entries": [{"p": PATH, "t": "d"|"f"|"l"|"o", "m": MODE, "s": SIZE,
 *                 "h": SHA256 (files, --hash), "x": {NAME: HEX, ...},
 *                 "r": RECORDS (files, --pattern)}, ...]}
 *
 * RECORDS summarises the 16-byte pattern records of crashcheck.py's
 * pattern files ("<id>:<offset hex>\n"): {"ids": {ID: first offset},
 * "bad": [offset, HEX] (the first full record that is neither zeros nor a
 * record naming its own offset) or null, "tail": [offset, HEX] (a last,
 * partial record) or null}; the oracle in crashcheck.py judges them.
 * --profile adds "ms": {PHASE: milliseconds} for the phases build, mount,
 * walk, unmount, fsck and reset (the latter of the state before).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <iomapfs/bio.h>
#include <iomapfs/common.h>
#include "fs.h"
#include "fsck.h"

#define BLK		IOMAPFS_BLOCK_SIZE
#define REC		16
#define READ_CHUNK	(128u << 10)	/* what the kernel's FUSE reads ask */
#define MAX_IDS		16

struct log_ent {
	uint64_t	sector, nr_sectors;
	uint64_t	data_off;	/* of the data in the log */
	bool		write;
};

/*
 * The two images and the blocks the current state changed.  The backend
 * writes into @state; @touched/@list name the blocks that differ from
 * @durable, so that state_reset() copies back only those.
 */
struct images {
	uint64_t	size, nr_blocks;
	uint8_t		*durable, *state;
	uint8_t		*touched;
	uint32_t	*list;
	uint32_t	nr;
	pthread_mutex_t	lock;		/* touched/list/nr during I/O */
	int		fd;		/* memfd the block layer opens */
	char		path[32];
};

struct crashlog {
	const uint8_t	*map;
	size_t		len;
	struct log_ent	*ents;
	uint64_t	nr;
	uint64_t	applied;	/* entries below this are in @durable */
};

/* --profile: how long each phase of the current state took */
enum phase { PH_BUILD, PH_MOUNT, PH_WALK, PH_UNMOUNT, PH_FSCK, PH_RESET, NR_PHASES };
static const char *const phase_names[NR_PHASES] = {
	"build", "mount", "walk", "unmount", "fsck", "reset",
};
static bool profile;
static double phase_ms[NR_PHASES];
static struct timespec phase_t0;

/* The phase that just ended: the time since the previous call. */
static void phase_end(enum phase ph)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	phase_ms[ph] = (now.tv_sec - phase_t0.tv_sec) * 1e3 +
		       (now.tv_nsec - phase_t0.tv_nsec) / 1e6;
	phase_t0 = now;
}

static void die(const char *msg)
{
	fprintf(stderr, "iomapfs-crashstate: %s\n", msg);
	exit(2);
}

/* ---------------------------------------------------------------- images */

static void images_touch(struct images *im, uint64_t b)
{
	if (im->touched[b])
		return;
	im->touched[b] = 1;
	im->list[im->nr++] = b;
}

static void images_write_state(struct images *im, uint64_t off, const void *p, uint64_t len)
{
	pthread_mutex_lock(&im->lock);
	for (uint64_t b = off / BLK; len && b <= (off + len - 1) / BLK; b++)
		images_touch(im, b);
	pthread_mutex_unlock(&im->lock);
	memcpy(im->state + off, p, len);
}

/* The state is the durable image again. */
static void images_reset(struct images *im)
{
	for (uint32_t i = 0; i < im->nr; i++) {
		uint64_t off = (uint64_t)im->list[i] * BLK;

		memcpy(im->state + off, im->durable + off, BLK);
		im->touched[im->list[i]] = 0;
	}
	im->nr = 0;
}

/* The block layer's medium: bios copy to and from the state image and end
 * in the submitting thread, as on a device that finished at once. */
static void mem_submit(struct blk_dev *dev, struct bio *bio)
{
	struct images *im = blk_dev_ops_private(dev);
	uint64_t off = bio->bi_sector * 512;

	for (unsigned i = 0; bio->bi_op != REQ_OP_FLUSH && i < bio->bi_vcnt; i++) {
		const struct iovec *v = &bio->bi_io_vec[i];

		if (bio->bi_op == REQ_OP_WRITE)
			images_write_state(im, off, v->iov_base, v->iov_len);
		else
			memcpy(v->iov_base, im->state + off, v->iov_len);
		off += v->iov_len;
	}
	bio_endio(bio);
}

static const struct blk_dev_ops mem_ops = { .submit = mem_submit };

static void images_load(struct images *im, const char *base)
{
	int fd = open(base, O_RDONLY);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) || st.st_size % BLK || !st.st_size)
		die("cannot read the base image (or its size is not whole blocks)");
	im->size = st.st_size;
	im->nr_blocks = im->size / BLK;
	im->durable = aligned_alloc(BLK, im->size);
	im->state = aligned_alloc(BLK, im->size);
	im->touched = calloc(im->nr_blocks, 1);
	im->list = calloc(im->nr_blocks, sizeof(*im->list));
	if (!im->durable || !im->state || !im->touched || !im->list)
		die("out of memory for the images");
	if (full_pread(fd, im->durable, im->size, 0))
		die("cannot read the base image");
	close(fd);
	memcpy(im->state, im->durable, im->size);
	pthread_mutex_init(&im->lock, NULL);
	im->fd = memfd_create("iomapfs-crashstate", MFD_CLOEXEC);
	if (im->fd < 0 || ftruncate(im->fd, im->size))
		die("memfd_create failed");
	snprintf(im->path, sizeof(im->path), "/proc/self/fd/%d", im->fd);
}

static void images_free(struct images *im)
{
	close(im->fd);
	free(im->durable);
	free(im->state);
	free(im->touched);
	free(im->list);
	pthread_mutex_destroy(&im->lock);
}

/* ---------------------------------------------------------------- the log */

static void log_load(struct crashlog *cl, const char *path)
{
	struct blk_log_super sb;
	uint64_t pos = BLK_LOG_SECTOR;
	struct stat st;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) || (size_t)st.st_size < BLK_LOG_SECTOR)
		die("cannot read the log");
	cl->len = st.st_size;
	cl->map = mmap(NULL, cl->len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (cl->map == MAP_FAILED)
		die("cannot map the log");
	memcpy(&sb, cl->map, sizeof(sb));
	if (le64toh(sb.magic) != BLK_LOG_MAGIC || le64toh(sb.version) != BLK_LOG_VERSION)
		die("not a write log");
	cl->nr = le64toh(sb.nr_entries);
	cl->ents = calloc(cl->nr + 1, sizeof(*cl->ents));
	for (uint64_t n = 0; n < cl->nr; n++) {
		struct blk_log_entry e;

		if (pos + BLK_LOG_SECTOR > cl->len)
			die("log cut short");
		memcpy(&e, cl->map + pos, sizeof(e));
		cl->ents[n].sector = le64toh(e.sector);
		cl->ents[n].nr_sectors = le64toh(e.nr_sectors);
		cl->ents[n].data_off = pos + BLK_LOG_SECTOR;
		cl->ents[n].write = !(le64toh(e.flags) & BLK_LOG_MARK) && cl->ents[n].nr_sectors;
		pos += (1 + cl->ents[n].nr_sectors) * BLK_LOG_SECTOR;
		if (pos > cl->len)
			die("log cut short");
	}
}

/* Copy write @n into the state image, and with @durable into both. */
static void log_apply(const struct crashlog *cl, uint64_t n, struct images *im, bool durable)
{
	const struct log_ent *e = &cl->ents[n];
	uint64_t off = e->sector * 512, len = e->nr_sectors * 512;

	if (n >= cl->nr || !e->write)
		die("a state names an entry that is not a write");
	if (off + len > im->size)
		die("a logged write lies past the end of the image");
	if (durable) {
		memcpy(im->durable + off, cl->map + e->data_off, len);
		memcpy(im->state + off, cl->map + e->data_off, len);
	} else {
		images_write_state(im, off, cl->map + e->data_off, len);
	}
}

/* Every write below @epoch_start is on the durable image. */
static void log_advance(struct crashlog *cl, struct images *im, uint64_t epoch_start)
{
	if (epoch_start < cl->applied)
		die("states must come in the order of their epochs");
	for (; cl->applied < epoch_start && cl->applied < cl->nr; cl->applied++)
		if (cl->ents[cl->applied].write)
			log_apply(cl, cl->applied, im, true);
}

/* ---------------------------------------------------------------- output */

static void put_json_str(FILE *out, const char *s, size_t len)
{
	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(out, "\\u%04x", c);	/* a byte, as Python's latin-1 */
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void put_hex(FILE *out, const void *p, size_t len)
{
	const uint8_t *b = p;

	fputc('"', out);
	for (size_t i = 0; i < len; i++)
		fprintf(out, "%02x", b[i]);
	fputc('"', out);
}

/* ---------------------------------------------------------------- the walk */

struct state_check {
	struct fs	*fs;
	FILE		*out;		/* the state's JSON, built in memory */
	FILE		*problems;	/* its "problems" list items */
	bool		pattern;	/* --pattern: summarise the records */
	bool		hash;		/* --hash: SHA-256 of every file */
	bool		first_entry, first_problem;
	uint64_t	*seen_dirs;	/* directories queued, against loops */
	size_t		nr_seen, cap_seen;
	struct dirq {
		uint64_t	ino;
		char		*path;
	}		*queue;
	size_t		head, tail, cap_queue;
	char		*data;		/* a file's contents */
	size_t		cap_data;
};

static void problem(struct state_check *sc, const char *path, int err)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "%s: %s", path, strerror(-err));

	fputs(sc->first_problem ? "" : ", ", sc->problems);
	put_json_str(sc->problems, msg, n < (int)sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	sc->first_problem = false;
}

struct names {
	char	**v;
	size_t	nr, cap;
};

static int collect(void *ctx, const char *name, uint64_t ino, unsigned dtype, uint64_t cookie)
{
	struct names *ns = ctx;

	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	if (ns->nr == ns->cap) {
		ns->cap = ns->cap ? 2 * ns->cap : 64;
		ns->v = realloc(ns->v, ns->cap * sizeof(*ns->v));
		if (!ns->v)
			die("out of memory");
	}
	ns->v[ns->nr++] = strdup(name);
	return 0;
}

static void put_xattrs(struct state_check *sc, uint64_t ino, const char *path)
{
	static char list[1 << 16], value[IOMAPFS_XATTR_SIZE_MAX];
	ssize_t n = fs_listxattr(sc->fs, ino, list, sizeof(list));
	bool first = true;

	if (n < 0)
		problem(sc, path, n);
	fputs(", \"x\": {", sc->out);
	for (ssize_t off = 0; n > 0 && off < n; off += strlen(list + off) + 1) {
		ssize_t v = fs_getxattr(sc->fs, ino, list + off, value, sizeof(value));

		if (v < 0) {
			problem(sc, path, v);
			continue;
		}
		fputs(first ? "" : ", ", sc->out);
		put_json_str(sc->out, list + off, strlen(list + off));
		fputs(": ", sc->out);
		put_hex(sc->out, value, v);
		first = false;
	}
	fputc('}', sc->out);
}

/*
 * Read @ip to its end through the page cache, as a read(2) loop would,
 * feeding @md (NULL: no hash) and, for the records check, keeping the
 * contents in sc->data; the length read, or -errno.
 */
static ssize_t read_all(struct state_check *sc, struct fs_inode *ip, EVP_MD_CTX *md)
{
	static struct cache_read_result res;
	size_t len = 0;
	ssize_t n;

	fs_inode_open(ip);
	do {
		if (sc->pattern && sc->cap_data < len + READ_CHUNK) {
			sc->cap_data = 2 * (len + READ_CHUNK);
			sc->data = realloc(sc->data, sc->cap_data);
			if (!sc->data)
				die("out of memory");
		}
		ip = fs_read_hold(ip);
		n = fs_read(ip, len, READ_CHUNK, &res);
		for (unsigned i = 0; n > 0 && i < res.nr_iov; i++) {
			const struct iovec *v = &res.iov[i];

			if (md && !EVP_DigestUpdate(md, v->iov_base, v->iov_len))
				die("sha256 failed");
			if (sc->pattern)
				memcpy(sc->data + len, v->iov_base, v->iov_len);
			len += v->iov_len;
		}
		if (n >= 0)
			cache_read_done(&res);
		fs_read_unhold(ip);
	} while (n > 0);
	fs_inode_release(ip);
	return n < 0 ? n : (ssize_t)len;
}

static bool is_zero(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* A full record "<id>:<offset, 10 hex digits>\n" naming offset @off. */
static bool record_names(const char *r, uint64_t off)
{
	char want[24];

	if (r[4] != ':' || r[15] != '\n')
		return false;
	snprintf(want, sizeof(want), "%010" PRIx64 "\n", off);
	return !memcmp(r + 5, want, 11);
}

/* The records summary (see the top of the file). */
static void put_records(struct state_check *sc, size_t len)
{
	char ids[MAX_IDS][4];
	uint64_t first[MAX_IDS];
	unsigned nr_ids = 0, i;
	size_t off, full = len - len % REC;
	bool bad = false;

	for (off = 0; off < full && !bad; off += REC) {
		const char *r = sc->data + off;

		if (is_zero(r, REC))
			continue;
		if (!record_names(r, off)) {
			bad = true;
			break;
		}
		for (i = 0; i < nr_ids && memcmp(ids[i], r, 4); i++)
			;
		if (i == nr_ids && nr_ids == MAX_IDS) {
			bad = true;	/* more files' records than any name held */
			break;
		}
		if (i == nr_ids) {
			memcpy(ids[nr_ids], r, 4);
			first[nr_ids++] = off;
		}
	}
	fputs(", \"r\": {\"ids\": {", sc->out);
	for (i = 0; i < nr_ids; i++) {
		fputs(i ? ", " : "", sc->out);
		put_json_str(sc->out, ids[i], 4);
		fprintf(sc->out, ": %" PRIu64, first[i]);
	}
	fputs("}, \"bad\": ", sc->out);
	if (bad) {
		fprintf(sc->out, "[%zu, ", off);
		put_hex(sc->out, sc->data + off, REC);
		fputc(']', sc->out);
	} else {
		fputs("null", sc->out);
	}
	fputs(", \"tail\": ", sc->out);
	if (full < len) {
		fprintf(sc->out, "[%zu, ", full);
		put_hex(sc->out, sc->data + full, len - full);
		fputc(']', sc->out);
	} else {
		fputs("null", sc->out);
	}
	fputc('}', sc->out);
}

/* A regular file: its size, the SHA-256 of its contents (--hash), its
 * records summary (--pattern). */
static void put_file(struct state_check *sc, struct fs_inode *ip, const char *path)
{
	unsigned char hash[EVP_MAX_MD_SIZE];
	unsigned int hlen;
	EVP_MD_CTX *md = NULL;
	ssize_t len;

	if (sc->hash) {
		md = EVP_MD_CTX_new();
		if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
			die("sha256 failed");
	}
	len = read_all(sc, ip, md);
	if (len < 0) {
		problem(sc, path, len);
	} else {
		fprintf(sc->out, ", \"s\": %zd", len);
		if (md) {
			if (!EVP_DigestFinal_ex(md, hash, &hlen))
				die("sha256 failed");
			fputs(", \"h\": ", sc->out);
			put_hex(sc->out, hash, hlen);
		}
		if (sc->pattern)
			put_records(sc, len);
	}
	EVP_MD_CTX_free(md);
}

static bool first_visit(struct state_check *sc, uint64_t ino)
{
	for (size_t i = 0; i < sc->nr_seen; i++)
		if (sc->seen_dirs[i] == ino)
			return false;
	if (sc->nr_seen == sc->cap_seen) {
		sc->cap_seen = sc->cap_seen ? 2 * sc->cap_seen : 64;
		sc->seen_dirs = realloc(sc->seen_dirs, sc->cap_seen * sizeof(uint64_t));
		if (!sc->seen_dirs)
			die("out of memory");
	}
	sc->seen_dirs[sc->nr_seen++] = ino;
	return true;
}

static void queue_dir(struct state_check *sc, uint64_t ino, const char *path)
{
	if (!first_visit(sc, ino))
		return;
	if (sc->tail == sc->cap_queue) {
		sc->cap_queue = sc->cap_queue ? 2 * sc->cap_queue : 64;
		sc->queue = realloc(sc->queue, sc->cap_queue * sizeof(*sc->queue));
		if (!sc->queue)
			die("out of memory");
	}
	sc->queue[sc->tail].ino = ino;
	sc->queue[sc->tail++].path = strdup(path);
}

static char entry_type(mode_t mode)
{
	return S_ISDIR(mode) ? 'd' : S_ISREG(mode) ? 'f' : S_ISLNK(mode) ? 'l' : 'o';
}

/* One entry: its line in "entries", its contents, its xattrs. */
static void put_entry(struct state_check *sc, struct fs_inode *ip, const char *path)
{
	struct stat st;

	fs_fill_stat(ip, &st);
	fputs(sc->first_entry ? "" : ", ", sc->out);
	sc->first_entry = false;
	fputs("{\"p\": ", sc->out);
	put_json_str(sc->out, path, strlen(path));
	fprintf(sc->out, ", \"t\": \"%c\", \"m\": %u", entry_type(st.st_mode),
		(unsigned)(st.st_mode & 07777));
	put_xattrs(sc, ip->ino, path);
	if (S_ISREG(st.st_mode))
		put_file(sc, ip, path);
	else if (S_ISDIR(st.st_mode))
		queue_dir(sc, ip->ino, path);
	fputc('}', sc->out);
}

static void walk_dir(struct state_check *sc, uint64_t dir, const char *dpath)
{
	struct names ns = { 0 };
	char path[4096];
	int err = fs_readdir(sc->fs, dir, 0, collect, &ns);

	if (err)
		problem(sc, *dpath ? dpath : "/", err);
	for (size_t i = 0; i < ns.nr; i++) {
		struct fs_inode *ip;

		snprintf(path, sizeof(path), "%s/%s", dpath, ns.v[i]);
		err = fs_lookup(sc->fs, dir, ns.v[i], &ip);
		if (err) {
			problem(sc, path, err);
		} else {
			put_entry(sc, ip, path);
			fs_iput(ip);
		}
		free(ns.v[i]);
	}
	free(ns.v);
}

static void walk(struct state_check *sc)
{
	struct fs_inode *root;
	int err = fs_iget(sc->fs, IOMAPFS_ROOT_INO, &root);

	if (err) {
		problem(sc, "/", err);
		return;
	}
	/* the root's own line, with "/" as its path; children get "" + "/name" */
	put_entry(sc, root, "/");
	fs_iput(root);
	if (sc->tail)
		sc->queue[0].path[0] = '\0';
	while (sc->head < sc->tail) {
		struct dirq *q = &sc->queue[sc->head++];

		walk_dir(sc, q->ino, q->path);
		free(q->path);
	}
}

/* ---------------------------------------------------------------- a state */

/* A crash state needs a few folios: a small arena, mapped at each mount. */
static void mount_opts(struct fs_mount_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cache.size_bytes = 1u << 20;
	o->meta.buf_cache_bytes = 4u << 20;
}

/* fsck -n of the image the unmount left; its status, its report in @out. */
static int state_fsck(struct blk_dev *dev, char **out, size_t *len)
{
	struct fsck_opts check = { .no_change = true };
	FILE *log = open_memstream(out, len);
	int rc;

	if (!log)
		die("out of memory");
	rc = fs_fsck_dev(dev, "image", &check, log);
	fclose(log);
	return rc;
}

static void check_state(struct blk_dev *dev, uint64_t id, bool pattern, bool hash)
{
	struct state_check sc = { .pattern = pattern, .hash = hash, .first_entry = true,
				  .first_problem = true };
	char *entries = NULL, *problems = NULL, *fsck_out = NULL;
	size_t elen = 0, plen = 0, flen = 0;
	struct fs_mount_opts opts;
	int mount_err, umount_err = 0, fsck_rc;

	sc.out = open_memstream(&entries, &elen);
	sc.problems = open_memstream(&problems, &plen);
	if (!sc.out || !sc.problems)
		die("out of memory");
	mount_opts(&opts);
	mount_err = fs_mount_dev(dev, &opts, &sc.fs);
	phase_end(PH_MOUNT);
	if (!mount_err) {
		walk(&sc);
		phase_end(PH_WALK);
		umount_err = fs_unmount(sc.fs);
		phase_end(PH_UNMOUNT);
	}
	fclose(sc.out);
	fclose(sc.problems);
	fsck_rc = state_fsck(dev, &fsck_out, &flen);
	phase_end(PH_FSCK);
	printf("{\"id\": %" PRIu64 ", \"mount\": %d, \"unmount\": %d, \"fsck\": %d, "
	       "\"fsck_out\": ", id, -mount_err, -umount_err, fsck_rc);
	put_json_str(stdout, fsck_out, flen);
	printf(", \"problems\": [%s], \"entries\": [%s]", problems, entries);
	if (profile) {
		fputs(", \"ms\": {", stdout);
		for (int i = 0; i < NR_PHASES; i++)
			printf("%s\"%s\": %.3f", i ? ", " : "", phase_names[i], phase_ms[i]);
		fputc('}', stdout);
	}
	fputs("}\n", stdout);
	fflush(stdout);
	free(entries);
	free(problems);
	free(fsck_out);
	free(sc.seen_dirs);
	free(sc.queue);
	free(sc.data);
}

/* Apply one line of the states file to the state image; its id. */
static uint64_t state_build(struct crashlog *cl, struct images *im, char *line)
{
	char *p = line, *end;
	uint64_t id, epoch;

	if (parse_u64(p, &end, &id) || *end != ' ' ||
	    parse_u64(end + 1, &end, &epoch) || *end != ' ')
		die("bad states line (want: ID EPOCH_START WRITES|-)");
	log_advance(cl, im, epoch);
	p = end + 1;
	if (*p == '-')
		return id;
	for (;;) {
		uint64_t w;

		if (parse_u64(p, &end, &w) || (*end != ',' && *end != '\n' && *end))
			die("bad write list in a states line");
		if (w < epoch)
			die("a state lists a write of an earlier epoch");
		log_apply(cl, w, im, false);
		if (*end != ',')
			return id;
		p = end + 1;
	}
}

static void usage(FILE *out)
{
	fprintf(out, "usage: iomapfs-crashstate --base IMG --log LOG --states FILE [--hash]"
		" [--pattern] [--profile]\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "base", required_argument, NULL, 'b' },
		{ "log", required_argument, NULL, 'l' },
		{ "states", required_argument, NULL, 's' },
		{ "pattern", no_argument, NULL, 'p' },
		{ "profile", no_argument, NULL, 't' },
		{ "hash", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *base = NULL, *logpath = NULL, *states = NULL;
	struct blk_dev_config cfg = { .nr_workers = 1 };
	struct crashlog cl = { 0 };
	struct images im = { 0 };
	struct blk_dev *dev;
	bool pattern = false, hash = false;
	char *line = NULL;
	size_t cap = 0;
	FILE *sf;
	int c;

	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'b': base = optarg; break;
		case 'l': logpath = optarg; break;
		case 's': states = optarg; break;
		case 'p': pattern = true; break;
		case 't': profile = true; break;
		case 'H': hash = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!base || !logpath || !states || optind != argc) {
		usage(stderr);
		return 2;
	}
	sf = fopen(states, "r");
	if (!sf)
		die("cannot open the states file");
	images_load(&im, base);
	log_load(&cl, logpath);
	if (blk_dev_open(im.path, &cfg, &dev))
		die("cannot open the in-memory device");
	blk_dev_set_ops(dev, &mem_ops, &im);
	clock_gettime(CLOCK_MONOTONIC, &phase_t0);
	while (getline(&line, &cap, sf) > 0) {
		uint64_t id = state_build(&cl, &im, line);

		phase_end(PH_BUILD);
		check_state(dev, id, pattern, hash);
		images_reset(&im);
		phase_end(PH_RESET);	/* reported with the next state */
	}
	free(line);
	fclose(sf);
	blk_dev_close(dev);
	images_free(&im);
	munmap((void *)cl.map, cl.len);
	free(cl.ents);
	return 0;
}
