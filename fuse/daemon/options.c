// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's command line: `iomapfs DEVICE MOUNTPOINT [-f] [-d] [-o opts]`.
 *
 * Each -o option is one of three kinds: ours (cache, offload, dirty limits,
 * journal, ro), FUSE's and the kernel's (passed on to fuse_session_new, which
 * hands mount flags to the kernel), or one that mount(8) and mount.fuse3 add
 * from fstab and that means nothing here (auto, nouser, defaults, _netdev,
 * and the rw/exec defaults).
 *
 * dev and suid: libfuse mounts nodev,nosuid unless told otherwise, unlike a
 * kernel filesystem.  Mounted by root, iomapfs passes dev,suid unless
 * nodev/nosuid were given, so device nodes and setuid programs work as on
 * ext4; an unprivileged mount (through fusermount3) stays nodev,nosuid,
 * and a dev or suid it asks for is ignored.  Anything else is an error, and so is
 * a bad value: the daemon refuses to start rather than guess.
 */
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <iomapfs/defaults.h>
#include "ops.h"

#define MIN_CACHE_SIZE	(4ull << 20)	/* a few folios per worker and then some */
#define MIN_META_CACHE	(1ull << 20)	/* buf.c keeps 64 buffers whatever we say */
/* A year: longer means "for ever" to the kernel anyway, and a larger double
 * would overflow its 64-bit seconds field. */
#define IOMAPFS_MAX_TIMEOUT	(366.0 * 86400)

/* Options from fstab/mount(8) that carry no meaning for this daemon. */
static const char *const ignored_opts[] = {
	"rw", "dev", "suid", "exec",	/* dev, suid: see add_fuse_defaults */ "auto", "noauto", "nouser", "user", "users",
	"defaults", "_netdev", "nofail", "owner", "group", "loop",
};
/* FUSE and kernel mount options that libfuse 3.14 passes on (bare or
 * name=); max_read would have to match what ->init negotiates.  The atime
 * flags are ours (parse_atime_opt). */
static const char *const fuse_flag_opts[] = {
	"allow_other", "allow_root", "default_permissions", "nosuid", "nodev",
	"noexec", "sync", "async", "dirsync", "auto_unmount",
};
static const char *const fuse_value_opts[] = {
	"fsname=", "subtype=", "context=", "fscontext=", "defcontext=", "rootcontext=",
};

static bool in_list(const char *opt, const char *const *list, size_t n, bool prefix)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(list[i]);

		if (prefix ? !strncmp(opt, list[i], len) : !strcmp(opt, list[i]))
			return true;
	}
	return false;
}

/* "123", "64k", "256m", "4g": bytes; -EINVAL on junk or overflow. */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned shift = 0;
	char *end;
	uint64_t v;

	if (parse_u64(s, &end, &v))
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	unsigned long v;
	char *end;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Seconds, as libfuse's timeouts: a non-negative decimal number. */
static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v >= 0 && v <= IOMAPFS_MAX_TIMEOUT))
		return -EINVAL;
	*out = v;
	return 0;
}

static int bad_value(const char *name, const char *val, const char *want)
{
	iomapfs_err("bad value '%s' for option %s (expected %s)",
		val, name, want);
	return -EINVAL;
}

static void fuse_opts_append(struct daemon_opts *o, const char *opt)
{
	size_t old = o->fuse_opts ? strlen(o->fuse_opts) : 0;

	o->fuse_opts = krealloc(o->fuse_opts, old + strlen(opt) + 2);
	if (old)
		o->fuse_opts[old++] = ',';
	strcpy(o->fuse_opts + old, opt);
}

static int parse_size_opt(const char *name, const char *val, uint64_t min,
			  uint64_t max, uint64_t *out)
{
	if (parse_size(val, out) || *out < min || *out > max)
		return bad_value(name, val, "a size with k/m/g suffix in range");
	return 0;
}

/*
 * The atime flags, 1 if @name is none.  FUSE inodes are S_NOATIME in the
 * kernel: atime is the daemon's to keep (fs_inode_accessed), so these are
 * ours.  libfuse 3.14 only knows noatime, which is also passed on so that
 * the mount shows it; it rejects the others after the mount.
 */
static int parse_atime_opt(struct daemon_opts *o, const char *name)
{
	struct fs_mount_opts *fo = &o->fs;

	if (!strcmp(name, "noatime")) {
		fo->atime = FS_ATIME_NOATIME;
		fuse_opts_append(o, "noatime");
	} else if (!strcmp(name, "relatime")) {
		fo->atime = FS_ATIME_RELATIME;
	} else if (!strcmp(name, "strictatime")) {
		fo->atime = FS_ATIME_STRICT;
	} else if (!strcmp(name, "atime")) {
		/* mount(8)'s default: changes nothing */
	} else if (!strcmp(name, "nodiratime") || !strcmp(name, "diratime")) {
		fo->nodiratime = name[0] == 'n';
	} else if (!strcmp(name, "lazytime") || !strcmp(name, "nolazytime")) {
		fo->lazytime = name[0] == 'l';
	} else {
		return 1;
	}
	return 0;
}

static int parse_timeout_opt(struct daemon_opts *o, const char *name,
			     const char *val)
{
	double *t = name[0] == 'e' ? &o->entry_timeout :
		    name[0] == 'a' ? &o->attr_timeout : &o->negative_timeout;

	if (parse_seconds(val, t))
		return bad_value(name, val, "seconds, 0 to a year");
	return 0;
}

/* One of our own options; 1 if @name is not ours. */
static int parse_own_opt(struct daemon_opts *o, const char *name, const char *val)
{
	struct cache_config *cc = &o->fs.cache;
	uint64_t v;

	if (!val && !parse_atime_opt(o, name)) {
		return 0;
	} else if (!strcmp(name, "dontcache") && !val) {
		cc->dontcache_all = true;
	} else if (!strcmp(name, "kernel_cache") && !val) {
		o->kernel_cache = true;
	} else if (!strcmp(name, "ro") && !val) {
		o->fs.readonly = o->fs.blk.readonly = true;
		fuse_opts_append(o, "ro");
	} else if (!val) {
		return 1;
	} else if (!strcmp(name, "cache_size")) {
		if (parse_size_opt(name, val, MIN_CACHE_SIZE, 1ull << 40, &cc->size_bytes))
			return -EINVAL;
	} else if (!strcmp(name, "offload")) {
		if (!strcmp(val, "delayed"))
			o->fs.blk.offload = BLK_OFFLOAD_DELAYED;
		else if (!strcmp(val, "thread"))
			o->fs.blk.offload = BLK_OFFLOAD_THREAD;
		else if (!strcmp(val, "adaptive"))
			o->fs.blk.offload = BLK_OFFLOAD_ADAPTIVE;
		else
			return bad_value(name, val, "delayed, thread or adaptive");
	} else if (!strcmp(name, "offload_delay_us")) {
		if (parse_uint(val, 1000000, &o->fs.blk.delay_us))
			return bad_value(name, val, "microseconds, 0..1000000");
	} else if (!strcmp(name, "dirty_background")) {
		if (parse_uint(val, 100, &cc->dirty_background_pct) || !cc->dirty_background_pct)
			return bad_value(name, val, "a percentage 1..100");
	} else if (!strcmp(name, "dirty_limit")) {
		if (parse_uint(val, 100, &cc->dirty_pct) || !cc->dirty_pct)
			return bad_value(name, val, "a percentage 1..100");
	} else if (!strcmp(name, "dirty_expire_ms")) {
		if (parse_uint(val, UINT_MAX, &cc->dirty_expire_ms))
			return bad_value(name, val, "milliseconds");
	} else if (!strcmp(name, "commit")) {
		if (strcmp(val, "each_section"))
			return bad_value(name, val, "each_section");
		o->fs.meta.commit_each_section = true;
	} else if (!strcmp(name, "log_writes")) {
		if (*val != '/')
			return bad_value(name, val, "an absolute path on another filesystem");
		free(o->log_writes);
		o->fs.blk.log_writes = o->log_writes = strdup(val);
	} else if (!strcmp(name, "commit_interval_ms")) {
		if (parse_uint(val, UINT_MAX, &o->fs.meta.commit_interval_ms))
			return bad_value(name, val, "milliseconds");
	} else if (!strcmp(name, "max_ioend")) {
		if (parse_size_opt(name, val, PAGE_SIZE, 1ull << 30, &v))
			return -EINVAL;
		cc->max_ioend_bytes = v;
	} else if (!strcmp(name, "readahead")) {
		if (parse_size_opt(name, val, 0, 1ull << 30, &v))
			return -EINVAL;
		cc->readahead_bytes = v;
	} else if (!strcmp(name, "max_threads")) {
		if (parse_uint(val, 100000, &o->max_threads) || !o->max_threads)
			return bad_value(name, val, "a thread count >= 1");
	} else if (!strcmp(name, "meta_cache")) {
		if (parse_size_opt(name, val, MIN_META_CACHE, 1ull << 40,
				   &o->fs.meta.buf_cache_bytes))
			return -EINVAL;
	} else if (!strcmp(name, "entry_timeout") || !strcmp(name, "attr_timeout") ||
		   !strcmp(name, "negative_timeout")) {
		return parse_timeout_opt(o, name, val);
	} else if (!strcmp(name, "logfile")) {
		if (!*val || o->logfile)
			return bad_value(name, val, "one file name");
		o->logfile = strdup(val);
	} else if (!strcmp(name, "max_idle_threads")) {
		if (parse_uint(val, 100000, &o->max_idle_threads))
			return bad_value(name, val, "a thread count");
	} else {
		return 1;
	}
	return 0;
}

static int parse_one_opt(struct daemon_opts *o, char *opt)
{
	char *eq = strchr(opt, '=');
	int ret;

	if (!*opt)
		return 0;
	if (in_list(opt, ignored_opts, ARRAY_SIZE(ignored_opts), false) ||
	    !strncmp(opt, "x-", 2) || !strncmp(opt, "comment=", 8))
		return 0;
	if (in_list(opt, fuse_flag_opts, ARRAY_SIZE(fuse_flag_opts), false) ||
	    in_list(opt, fuse_value_opts, ARRAY_SIZE(fuse_value_opts), true)) {
		fuse_opts_append(o, opt);
		return 0;
	}
	if (eq)
		*eq = '\0';
	ret = parse_own_opt(o, opt, eq ? eq + 1 : NULL);
	if (eq)
		*eq = '=';
	if (ret > 0) {
		iomapfs_err("unknown option '%s'", opt);
		return -EINVAL;
	}
	return ret;
}

/* Split a -o list on commas ("\," escapes one, as libfuse's parser). */
static int parse_opt_list(struct daemon_opts *o, const char *list)
{
	char *buf = kmalloc(strlen(list) + 1), *w = buf;
	int err = 0;

	for (const char *r = list; !err; r++) {
		if (*r == '\\' && r[1]) {
			*w++ = *++r;
			continue;
		}
		if (*r && *r != ',') {
			*w++ = *r;
			continue;
		}
		*w = '\0';
		err = parse_one_opt(o, buf);
		w = buf;
		if (!*r)
			break;
	}
	kfree(buf);
	return err;
}

/*
 * The metadata buffer cache scales with the machine: a directory of a
 * million entries and its inodes need a few hundred MiB of metadata
 * blocks, and every miss is a synchronous read under the metadata lock.
 * The cache only grows as blocks are read, so the cap costs nothing on an
 * idle mount.
 */
static uint64_t default_meta_cache(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	uint64_t ram = pages > 0 && psize > 0 ? (uint64_t)pages * psize : 0;

	ram /= IOMAPFS_DEFAULT_META_CACHE_RAM_DIV;
	return min_t(uint64_t, max_t(uint64_t, ram, IOMAPFS_DEFAULT_META_CACHE_MIN),
		     IOMAPFS_DEFAULT_META_CACHE_MAX);
}

static void set_defaults(struct daemon_opts *o)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	memset(o, 0, sizeof(*o));
	o->fs.cache = (struct cache_config){
		.size_bytes = IOMAPFS_DEFAULT_CACHE_SIZE,
		.dirty_background_pct = IOMAPFS_DEFAULT_DIRTY_BACKGROUND_PCT,
		.dirty_pct = IOMAPFS_DEFAULT_DIRTY_PCT,
		.dirty_expire_ms = IOMAPFS_DEFAULT_DIRTY_EXPIRE_MS,
		.flush_interval_ms = IOMAPFS_DEFAULT_FLUSH_INTERVAL_MS,
		.max_ioend_bytes = IOMAPFS_DEFAULT_MAX_IOEND,
		.readahead_bytes = IOMAPFS_DEFAULT_READAHEAD,
	};
	o->fs.blk = (struct blk_dev_config){
		.offload = BLK_OFFLOAD_ADAPTIVE,
		.delay_us = IOMAPFS_DEFAULT_OFFLOAD_DELAY_US,
		.nr_rings = IOMAPFS_DEFAULT_NR_RINGS,
		.queue_depth = IOMAPFS_DEFAULT_QUEUE_DEPTH,
		.nr_workers = cpus > 0 ? cpus : 1,
	};
	o->fs.meta.commit_interval_ms = IOMAPFS_DEFAULT_COMMIT_INTERVAL_MS;
	o->fs.meta.buf_cache_bytes = default_meta_cache();
	o->entry_timeout = IOMAPFS_DEFAULT_ENTRY_TIMEOUT;
	o->attr_timeout = IOMAPFS_DEFAULT_ATTR_TIMEOUT;
	o->negative_timeout = IOMAPFS_DEFAULT_NEGATIVE_TIMEOUT;
}

/* Escape commas and backslashes for libfuse's option parser. */
static void append_fsname(struct daemon_opts *o, const char *dev)
{
	char *buf = kmalloc(2 * strlen(dev) + sizeof("fsname="));
	char *w = buf + sprintf(buf, "fsname=");

	for (const char *r = dev; *r; r++) {
		if (*r == ',' || *r == '\\')
			*w++ = '\\';
		*w++ = *r;
	}
	*w = '\0';
	fuse_opts_append(o, buf);
	kfree(buf);
}

/* The daemon's defaults, unless the user chose. */
static void add_fuse_defaults(struct daemon_opts *o)
{
	const char *s = o->fuse_opts ? o->fuse_opts : "";
	bool has_fsname = strstr(s, "fsname=") != NULL;
	bool has_subtype = strstr(s, "subtype=") != NULL;
	bool has_allow_other = strstr(s, "allow_other") || strstr(s, "allow_root");
	bool has_nodev = strstr(s, "nodev") != NULL;
	bool has_nosuid = strstr(s, "nosuid") != NULL;

	fuse_opts_append(o, "default_permissions");
	if (!has_fsname)
		append_fsname(o, o->device);
	if (!has_subtype)
		fuse_opts_append(o, "subtype=iomapfs");
	if (geteuid() != 0)
		return;
	if (!has_allow_other)
		fuse_opts_append(o, "allow_other");
	if (!has_nodev)
		fuse_opts_append(o, "dev");
	if (!has_nosuid)
		fuse_opts_append(o, "suid");
}

static int check_consistency(const struct daemon_opts *o)
{
	const struct cache_config *cc = &o->fs.cache;

	if (cc->dirty_background_pct > cc->dirty_pct) {
		iomapfs_err("dirty_background (%u%%) must not exceed dirty_limit (%u%%)",
			cc->dirty_background_pct, cc->dirty_pct);
		return -EINVAL;
	}
	return 0;
}

int daemon_parse_args(int argc, char **argv, struct daemon_opts *o)
{
	const char *pos[2];
	int npos = 0;

	set_defaults(o);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-f")) {
			o->foreground = true;
		} else if (!strcmp(a, "-d") || !strcmp(a, "--debug")) {
			o->debug = o->foreground = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			o->help = true;
			return 0;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			o->version = true;
			return 0;
		} else if (!strncmp(a, "-o", 2)) {
			const char *list = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);

			if (!list) {
				iomapfs_err("-o needs an option list");
				return -EINVAL;
			}
			if (parse_opt_list(o, list))
				return -EINVAL;
		} else if (a[0] == '-' && a[1]) {
			iomapfs_err("unknown argument '%s'", a);
			return -EINVAL;
		} else if (npos < 2) {
			pos[npos++] = a;
		} else {
			iomapfs_err("unexpected argument '%s'", a);
			return -EINVAL;
		}
	}
	if (npos != 2) {
		iomapfs_err("need a DEVICE and a MOUNTPOINT");
		return -EINVAL;
	}
	o->device = pos[0];
	o->mountpoint = pos[1];
	add_fuse_defaults(o);
	return check_consistency(o);
}

void daemon_opts_free(struct daemon_opts *o)
{
	kfree(o->fuse_opts);
	o->fuse_opts = NULL;
	free(o->logfile);
	o->logfile = NULL;
	free(o->log_writes);
	o->log_writes = NULL;
	o->fs.blk.log_writes = NULL;
}

void daemon_usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s DEVICE MOUNTPOINT [-f] [-d] [-o opt[,opt...]]\n"
		"  -f                      stay in the foreground\n"
		"  -d                      FUSE debug output (implies -f)\n"
		"options:\n"
		"  cache_size=SIZE         page cache size, k/m/g suffixes (%llum)\n"
		"  offload=delayed|thread|adaptive  how task workers run deferred completions (adaptive)\n"
		"  offload_delay_us=N      the delay of offload=delayed, a stream's hold in adaptive (%u)\n"
		"  dontcache               every file is drop-behind\n"
		"  kernel_cache            clean data of files that are not drop-behind\n"
		"                          may live in the kernel's page cache too\n"
		"  dirty_background=PCT    flusher starts at this dirty share (%u)\n"
		"  dirty_limit=PCT         writers are throttled at this dirty share (%u)\n"
		"  dirty_expire_ms=N       dirty data older than this is written back (%u)\n"
		"  commit_interval_ms=N    journal commit interval (%u)\n"
		"  commit=each_section     debug: commit the journal after every metadata section\n"
		"  log_writes=/PATH        record every device write, flush and fsync in PATH\n"
		"                          (a file on another filesystem; see tools/iomapfs-replay)\n"
		"  meta_cache=SIZE         metadata buffer cache (1/%u of RAM, %llum..%llum:\n"
		"                          %llum here)\n"
		"  entry_timeout=SECS      the kernel caches names this long (%g)\n"
		"  attr_timeout=SECS       the kernel caches attributes this long (%g)\n"
		"  negative_timeout=SECS   the kernel caches absent names this long (%g)\n"
		"  max_ioend=SIZE          ioend size cap (%uk)\n"
		"  readahead=SIZE          readahead window (%uk)\n"
		"  ro                      read-only\n"
		"  logfile=PATH            append every message to PATH too (instead of\n"
		"                          syslog once in the background)\n"
		"  relatime (default), strictatime, noatime, nodiratime, lazytime\n"
		"  allow_other, default_permissions (always), fsname=, subtype=,\n"
		"  max_threads=N           FUSE request threads at most (libfuse: 10)\n"
		"  max_idle_threads=N      request threads kept idle (max_threads, else 16)\n"
		"  and the kernel's mount flags\n",
		prog, IOMAPFS_DEFAULT_CACHE_SIZE >> 20, IOMAPFS_DEFAULT_OFFLOAD_DELAY_US,
		IOMAPFS_DEFAULT_DIRTY_BACKGROUND_PCT, IOMAPFS_DEFAULT_DIRTY_PCT,
		IOMAPFS_DEFAULT_DIRTY_EXPIRE_MS, IOMAPFS_DEFAULT_COMMIT_INTERVAL_MS,
		IOMAPFS_DEFAULT_META_CACHE_RAM_DIV, IOMAPFS_DEFAULT_META_CACHE_MIN >> 20,
		IOMAPFS_DEFAULT_META_CACHE_MAX >> 20,
		(unsigned long long)default_meta_cache() >> 20,
		IOMAPFS_DEFAULT_ENTRY_TIMEOUT, IOMAPFS_DEFAULT_ATTR_TIMEOUT,
		IOMAPFS_DEFAULT_NEGATIVE_TIMEOUT,
		IOMAPFS_DEFAULT_MAX_IOEND >> 10, IOMAPFS_DEFAULT_READAHEAD >> 10);
}
