/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Every tunable's default, in one place.  The libraries fill in these
 * values for a zero field of their config structs (cache_config,
 * blk_dev_config, meta_mount_opts, mkfs_opts), the daemon starts from them
 * and prints them in --help, mkfs prints the journal range in its usage,
 * and man/iomapfs.8 documents them.  Change a default here and there only.
 */
#ifndef IOMAPFS_DEFAULTS_H
#define IOMAPFS_DEFAULTS_H

/* The page cache (cache_config). */
#define IOMAPFS_DEFAULT_CACHE_SIZE		(256ull << 20)	/* -o cache_size */
#define IOMAPFS_DEFAULT_DIRTY_BACKGROUND_PCT	10		/* -o dirty_background */
#define IOMAPFS_DEFAULT_DIRTY_PCT		40		/* -o dirty_limit */
#define IOMAPFS_DEFAULT_DIRTY_EXPIRE_MS		3000		/* -o dirty_expire_ms */
#define IOMAPFS_DEFAULT_FLUSH_INTERVAL_MS	1000		/* flusher wakeup period */
#define IOMAPFS_DEFAULT_MAX_IOEND		(1u << 20)	/* -o max_ioend */
#define IOMAPFS_DEFAULT_READAHEAD		(1u << 20)	/* -o readahead */

/* The block layer (blk_dev_config); workers default to one per online CPU. */
#define IOMAPFS_DEFAULT_OFFLOAD_DELAY_US	1000		/* -o offload_delay_us */
#define IOMAPFS_DEFAULT_NR_RINGS		1
#define IOMAPFS_DEFAULT_QUEUE_DEPTH		128		/* SQ entries per ring */

/* The metadata engine (meta_mount_opts, mkfs_opts). */
#define IOMAPFS_DEFAULT_COMMIT_INTERVAL_MS	5000		/* -o commit_interval_ms */
/* mkfs: the journal takes 1% of the device, within these bounds, in blocks. */
#define IOMAPFS_DEFAULT_JOURNAL_MIN		1024
#define IOMAPFS_DEFAULT_JOURNAL_MAX		8192
/* Clean metadata buffers kept (-o meta_cache): this share of the RAM,
 * within these bounds. */
#define IOMAPFS_DEFAULT_META_CACHE_RAM_DIV	32
#define IOMAPFS_DEFAULT_META_CACHE_MIN		(64ull << 20)
#define IOMAPFS_DEFAULT_META_CACHE_MAX		(2ull << 30)

/* The kernel's name and attribute caches (-o entry_timeout, attr_timeout,
 * negative_timeout), in seconds: the daemon is the only writer of its
 * filesystem and invalidates what it changes on its own, so a day, as
 * libfuse's passthrough_hp with cache=always. */
#define IOMAPFS_DEFAULT_ENTRY_TIMEOUT		86400.0
#define IOMAPFS_DEFAULT_ATTR_TIMEOUT		86400.0
#define IOMAPFS_DEFAULT_NEGATIVE_TIMEOUT	86400.0

#endif /* IOMAPFS_DEFAULTS_H */
