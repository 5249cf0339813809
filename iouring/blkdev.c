// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The device (block/bdev.c + blk-core.c's submit_bio): opening a block
 * device or image file O_DIRECT with an exclusive lock, its geometry, the
 * stack of backend ops tables, the shutdown switch, submit_bio(), and a close that
 * leaves nothing unfinished.
 */
#include "blk.h"

#include <iomapfs/defaults.h>

#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct blk_dev_ops blk_default_ops = {
	.submit = blk_dev_default_submit,
};

static void blk_config_defaults(struct blk_dev_config *c, const struct blk_dev_config *in)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (in)
		*c = *in;
	else
		memset(c, 0, sizeof(*c));
	if (!c->delay_us)
		c->delay_us = IOMAPFS_DEFAULT_OFFLOAD_DELAY_US;
	if (!c->nr_rings)
		c->nr_rings = IOMAPFS_DEFAULT_NR_RINGS;
	if (!c->queue_depth)
		c->queue_depth = IOMAPFS_DEFAULT_QUEUE_DEPTH;
	if (!c->nr_workers)
		c->nr_workers = cpus > 0 ? cpus : 1;
}

/*
 * A daemon killed with -9 keeps its device busy for a moment after its pid
 * is gone: io_uring tears the dead ring down, with the registered fd (and
 * so the flock and a block device's O_EXCL claim), in a kernel work item,
 * after its in-flight I/O is cancelled or done.  A remount right after the
 * crash must wait for that, not fail; and it must not take the device
 * sooner, or a late write of the dead daemon could land on blocks the new
 * one reuses.  So "busy" is retried for a short grace period; a device
 * that is really mounted still fails, just BLK_BUSY_GRACE_NS later.
 */
#define BLK_BUSY_GRACE_NS	(2ull * 1000000000)
#define BLK_BUSY_POLL_US	20000

static int blk_open_retry_busy(const char *path, int flags)
{
	uint64_t deadline = ktime_get_ns() + BLK_BUSY_GRACE_NS;
	int fd;

	while ((fd = open(path, flags)) < 0 && errno == EBUSY &&
	       ktime_get_ns() < deadline)
		usleep(BLK_BUSY_POLL_US);
	return fd;
}

/*
 * Open O_DIRECT; an image on a filesystem without O_DIRECT support gets
 * EINVAL, and is reopened buffered with one warning.
 */
static int blk_open_fd(struct blk_dev *dev, bool is_bdev)
{
	int flags = (dev->cfg.readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	static atomic_bool warned;
	int fd;

	if (is_bdev)
		flags |= O_EXCL;
	fd = blk_open_retry_busy(dev->path, flags | O_DIRECT);
	if (fd >= 0) {
		dev->direct = true;
	} else if (errno == EINVAL) {
		fd = blk_open_retry_busy(dev->path, flags);
		if (fd >= 0 && !atomic_exchange(&warned, true))
			iomapfs_warn("%s: O_DIRECT not supported, using buffered I/O",
				dev->path);
	}
	if (fd < 0) {
		int err = -errno;

		if (err == -EBUSY)	/* O_EXCL on a block device someone holds */
			iomapfs_err("%s is in use (already mounted?)", dev->path);
		else
			iomapfs_err("cannot open %s: %s", dev->path, strerror(-err));
		return err;
	}
	dev->fd = fd;
	return 0;
}

static int blk_lock_fd(struct blk_dev *dev)
{
	uint64_t deadline = ktime_get_ns() + BLK_BUSY_GRACE_NS;

	if (dev->cfg.no_excl_lock)
		return 0;
	while (flock(dev->fd, LOCK_EX | LOCK_NB) && errno == EWOULDBLOCK &&
	       ktime_get_ns() < deadline)
		usleep(BLK_BUSY_POLL_US);
	if (!flock(dev->fd, LOCK_EX | LOCK_NB))
		return 0;
	if (errno == EWOULDBLOCK) {
		iomapfs_err("%s is in use (already mounted?)", dev->path);
		return -EBUSY;
	}
	iomapfs_err("%s: flock: %s", dev->path, strerror(errno));
	return -errno;
}

static int blk_read_geometry(struct blk_dev *dev)
{
	struct stat st;
	int lbs;

	if (fstat(dev->fd, &st))
		return -errno;
	dev->is_bdev = S_ISBLK(st.st_mode);
	if (!dev->is_bdev) {
		dev->size = st.st_size;
		dev->lbs = SECTOR_SIZE;
		return 0;
	}
	if (ioctl(dev->fd, BLKGETSIZE64, &dev->size) || ioctl(dev->fd, BLKSSZGET, &lbs)) {
		iomapfs_err("%s: cannot read device geometry: %s",
			dev->path, strerror(errno));
		return -errno;
	}
	dev->lbs = lbs;
	return 0;
}

static int blk_dev_setup(struct blk_dev *dev)
{
	struct stat st;
	int ret;

	if (stat(dev->path, &st)) {
		iomapfs_err("cannot open %s: %s", dev->path, strerror(errno));
		return -errno;
	}
	ret = blk_open_fd(dev, S_ISBLK(st.st_mode));
	if (!ret)
		ret = blk_lock_fd(dev);
	if (!ret)
		ret = blk_read_geometry(dev);
	if (!ret)
		ret = blk_rings_start(dev);
	if (!ret)
		ret = blk_workers_start(dev);
	return ret;
}

int blk_dev_open(const char *path, const struct blk_dev_config *cfg,
		 struct blk_dev **out)
{
	struct blk_dev *dev = kzalloc(sizeof(*dev));
	int ret;

	dev->fd = -1;
	dev->path = strdup(path);
	dev->ops = &blk_default_ops;
	blk_config_defaults(&dev->cfg, cfg);
	dev->nr_rings = dev->cfg.nr_rings;
	dev->nr_workers = dev->cfg.nr_workers;
	ret = blk_dev_setup(dev);
	if (!ret && dev->cfg.log_writes)
		ret = blk_log_start(dev, dev->cfg.log_writes);
	if (ret) {
		blk_workers_stop(dev);
		if (dev->rings)
			blk_rings_stop(dev);
		if (dev->fd >= 0)
			close(dev->fd);
		free(dev->path);
		kfree(dev);
		*out = NULL;
		return ret;
	}
	*out = dev;
	return 0;
}

/*
 * Completions may submit more I/O (a worker converting extents writes
 * metadata), so wait for the rings and drain the workers until both stay
 * empty.
 */
void blk_dev_wait_idle(struct blk_dev *dev)
{
	might_sleep();
	do {
		blk_rings_wait_idle(dev);
		blk_drain_deferred(dev);
	} while (!blk_rings_idle(dev) || !blk_workers_idle(dev));
}

void blk_dev_close(struct blk_dev *dev)
{
	if (!dev)
		return;
	blk_dev_wait_idle(dev);
	blk_log_stop(dev);
	blk_workers_stop(dev);
	blk_rings_stop(dev);
	close(dev->fd);
	free(dev->path);
	kfree(dev);
}

uint64_t blk_dev_size(const struct blk_dev *dev)
{
	return dev->size;
}

unsigned blk_dev_logical_block_size(const struct blk_dev *dev)
{
	return dev->lbs;
}

int blk_dev_fd(const struct blk_dev *dev)
{
	return dev->fd;
}

unsigned blk_nr_workers(const struct blk_dev *dev)
{
	return dev->nr_workers;
}

void blk_dev_set_ops(struct blk_dev *dev, const struct blk_dev_ops *ops, void *priv)
{
	dev->ops = ops ? ops : &blk_default_ops;
	dev->ops_priv = priv;
}

/*
 * The layer whose ->submit runs in this thread.  Saved and restored around
 * every call, because a ->submit may end a bio whose ->bi_end_io submits
 * another one (nested submit_bio) on the same or another device.
 */
static _Thread_local struct {
	struct blk_dev	*dev;
	void		*priv;
} blk_tls_layer;

void *blk_dev_ops_private(struct blk_dev *dev)
{
	if (blk_tls_layer.dev == dev)
		return blk_tls_layer.priv;
	return dev->ops_priv;
}

static void blk_call_layer(struct blk_dev *dev, const struct blk_dev_ops *ops,
			   void *priv, struct bio *bio)
{
	typeof(blk_tls_layer) saved = blk_tls_layer;

	blk_tls_layer.dev = dev;
	blk_tls_layer.priv = priv;
	ops->submit(dev, bio);
	blk_tls_layer = saved;
}

void blk_dev_push_ops(struct blk_dev *dev, const struct blk_dev_ops *ops, void *priv,
		      struct blk_dev_layer *lower)
{
	lower->ops = dev->ops;
	lower->priv = dev->ops_priv;
	dev->ops = ops;
	dev->ops_priv = priv;
}

void blk_dev_pop_ops(struct blk_dev *dev, const struct blk_dev_layer *lower)
{
	dev->ops = lower->ops;
	dev->ops_priv = lower->priv;
}

void blk_dev_submit_lower(struct blk_dev *dev, const struct blk_dev_layer *lower,
			  struct bio *bio)
{
	blk_call_layer(dev, lower->ops, lower->priv, bio);
}

void blk_dev_shutdown(struct blk_dev *dev)
{
	atomic_store(&dev->shutdown, true);
}

bool blk_dev_is_shutdown(const struct blk_dev *dev)
{
	return atomic_load(&dev->shutdown);
}

/* bio_check_eod(): a read or write past the end of the device fails. */
static bool bio_beyond_eod(const struct blk_dev *dev, const struct bio *bio)
{
	if (bio->bi_op == REQ_OP_FLUSH)
		return false;
	return (bio_end_sector(bio) << SECTOR_SHIFT) > dev->size;
}

static void bio_fail(struct bio *bio, int err)
{
	bio->bi_status = err;
	bio_endio(bio);
}

/* Task context.  Failures complete the bio here, through bio_endio(). */
void submit_bio(struct bio *bio)
{
	struct blk_dev *dev = bio->bi_dev;

	might_sleep();
	/* Nobody could learn how it ended: refuse it where the bug is. */
	if (BUG_ON_RECOVER(!bio->bi_end_io))
		return;
	blk_count(&dev->stats.bios_submitted, 1);
	if (bio->bi_op == REQ_OP_FLUSH)
		blk_count(&dev->stats.flushes, 1);
	if (blk_dev_is_shutdown(dev))
		return bio_fail(bio, -EIO);
	if (dev->cfg.readonly && bio->bi_op == REQ_OP_WRITE)
		return bio_fail(bio, -EROFS);
	if (bio_beyond_eod(dev, bio) || (bio->bi_op != REQ_OP_FLUSH && !bio->bi_size))
		return bio_fail(bio, -EIO);
	blk_call_layer(dev, dev->ops, dev->ops_priv, bio);
}
