// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The write log, modelled on dm-log-writes: a backend stacked on top of the
 * device's ops that records what reached the device, so that a crash at any
 * point can be rebuilt afterwards (tools/iomapfs-replay) and checked.
 *
 * What is recorded, and where in the log:
 *   write  when it completes successfully, with the data it carried (copied
 *          at submission: that is what the device was given).  Completion
 *          order is the order in which a power cut can lose them.
 *   flush  a barrier: its entry sits where the flush was submitted, after
 *          exactly the writes that had completed by then (the ones a cache
 *          flush covers), and is written out only once the flush has
 *          completed; a failed flush is left out.  Writes completing while
 *          a flush is in flight come after it.
 *   mark   a name, appended after everything completed so far
 *          (blk_dev_log_mark(): fsync marks, test marks).
 *
 * Threads: ->submit runs in task context and copies the data; the end_io
 * hook runs in the reaper and only links a prepared record into the queue
 * under log->lock, a lock never held across I/O or allocation; the
 * "iomapfs-log-writes" thread writes the queue to the file.
 */
#include "blk.h"

#include <endian.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

struct blk_log_rec {
	struct blk_log_rec	*next;
	struct blk_log_entry	e;
	atomic_bool		ready;		/* a flush: it completed */
	bool			dropped;	/* a flush that failed: skip it */
	void			*data;		/* write data or mark name */
	size_t			data_bytes;
	/* The submitter's completion, restored before it runs. */
	bio_end_io_t		end_io;
	void			*private;
	struct blk_log		*log;
};

struct blk_log {
	struct blk_dev		*dev;
	struct blk_dev_layer	lower;
	int			fd;
	pthread_mutex_t		lock;		/* the queue; reaper-safe (short) */
	pthread_cond_t		cond;
	struct blk_log_rec	*head, *tail;	/* log order, oldest first */
	bool			stop;
	pthread_t		writer;
	/* Writer thread only: */
	uint64_t		nr_entries;
	uint64_t		pos;		/* next sector of the log file */
	int			error;		/* first write error (reported once) */
};

static void log_queue(struct blk_log *log, struct blk_log_rec *r)
{
	pthread_mutex_lock(&log->lock);
	if (log->tail)
		log->tail->next = r;
	else
		log->head = r;
	log->tail = r;
	pthread_cond_signal(&log->cond);
	pthread_mutex_unlock(&log->lock);
}

static int log_write_super(struct blk_log *log)
{
	char sec[BLK_LOG_SECTOR] = { 0 };
	struct blk_log_super sb = {
		.magic = htole64(BLK_LOG_MAGIC),
		.version = htole64(BLK_LOG_VERSION),
		.nr_entries = htole64(log->nr_entries),
		.sectorsize = htole32(BLK_LOG_SECTOR),
	};

	memcpy(sec, &sb, sizeof(sb));
	return full_pwrite(log->fd, sec, sizeof(sec), 0);
}

/* Writer thread: one entry sector, then the data sectors of a write. */
static int log_write_rec(struct blk_log *log, const struct blk_log_rec *r)
{
	char sec[BLK_LOG_SECTOR] = { 0 };
	struct blk_log_entry e = {
		.sector = htole64(r->e.sector),
		.nr_sectors = htole64(r->e.nr_sectors),
		.flags = htole64(r->e.flags),
		.data_len = htole64(r->e.data_len),
	};
	uint64_t off = log->pos * BLK_LOG_SECTOR;
	int err;

	memcpy(sec, &e, sizeof(e));
	if (r->e.flags & BLK_LOG_MARK)
		memcpy(sec + sizeof(e), r->data, r->e.data_len);
	err = full_pwrite(log->fd, sec, sizeof(sec), off);
	if (!err && r->e.nr_sectors)
		err = full_pwrite(log->fd, r->data, r->data_bytes, off + BLK_LOG_SECTOR);
	if (err)
		return err;
	log->pos += 1 + r->e.nr_sectors;
	log->nr_entries++;
	/* Keep the count current at barriers: a log cut short stays readable. */
	if (r->e.flags & (BLK_LOG_FLUSH | BLK_LOG_MARK))
		return log_write_super(log);
	return 0;
}

static void log_rec_free(struct blk_log_rec *r)
{
	kfree(r->data);
	kfree(r);
}

/* Detach the records that may be written: up to the first pending flush. */
static struct blk_log_rec *log_take_ready(struct blk_log *log)
{
	struct blk_log_rec *first = log->head, *last = NULL, *r;

	for (r = log->head; r; r = r->next) {
		if ((r->e.flags & BLK_LOG_FLUSH) && !atomic_load(&r->ready))
			break;
		last = r;
	}
	if (!last)
		return NULL;
	log->head = last->next;
	if (!log->head)
		log->tail = NULL;
	last->next = NULL;
	return first;
}

static void log_write_batch(struct blk_log *log, struct blk_log_rec *r)
{
	while (r) {
		struct blk_log_rec *next = r->next;
		int err = 0;

		if (!r->dropped && !log->error)
			err = log_write_rec(log, r);
		if (err) {
			log->error = err;
			fprintf(stderr, "iomapfs: write log: %s; the log is incomplete\n",
				strerror(-err));
		}
		log_rec_free(r);
		r = next;
	}
}

static void *log_writer_fn(void *arg)
{
	struct blk_log *log = arg;

	thread_set_name("iomapfs-logwr");
	pthread_mutex_lock(&log->lock);
	for (;;) {
		struct blk_log_rec *batch = log_take_ready(log);

		if (batch) {
			pthread_mutex_unlock(&log->lock);
			log_write_batch(log, batch);
			pthread_mutex_lock(&log->lock);
			continue;
		}
		if (log->stop && !log->head)
			break;
		pthread_cond_wait(&log->cond, &log->lock);
	}
	pthread_mutex_unlock(&log->lock);
	return NULL;
}

/*
 * Reaper (or the submitter on a failed submission): queue the record of a
 * completed write, mark a flush ready, then run the submitter's completion
 * as if this hook had never been there.
 */
static void log_end_io(struct bio *bio)
{
	struct blk_log_rec *r = bio->bi_private;
	struct blk_log *log = r->log;

	bio->bi_end_io = r->end_io;
	bio->bi_private = r->private;
	if (bio->bi_op == REQ_OP_FLUSH) {
		r->dropped = bio->bi_status != 0;
		atomic_store(&r->ready, true);
		pthread_mutex_lock(&log->lock);
		pthread_cond_signal(&log->cond);
		pthread_mutex_unlock(&log->lock);
	} else if (bio->bi_status) {
		log_rec_free(r);	/* did not reach the device as a whole */
	} else {
		log_queue(log, r);
	}
	bio->bi_end_io(bio);
}

static struct blk_log_rec *log_rec_for_write(struct bio *bio)
{
	struct blk_log_rec *r = kzalloc(sizeof(*r));
	char *p;

	r->e.sector = bio->bi_sector;
	r->e.nr_sectors = bio->bi_size / BLK_LOG_SECTOR;
	r->data_bytes = bio->bi_size;
	r->data = p = kmalloc(bio->bi_size);
	for (unsigned i = 0; i < bio->bi_vcnt; i++) {
		memcpy(p, bio->bi_io_vec[i].iov_base, bio->bi_io_vec[i].iov_len);
		p += bio->bi_io_vec[i].iov_len;
	}
	return r;
}

/* Task context: the backend's ->submit. */
static void log_submit(struct blk_dev *dev, struct bio *bio)
{
	struct blk_log *log = blk_dev_ops_private(dev);
	struct blk_log_rec *r;

	if (bio->bi_op == REQ_OP_READ)
		return blk_dev_submit_lower(dev, &log->lower, bio);
	if (bio->bi_op == REQ_OP_WRITE) {
		r = log_rec_for_write(bio);
	} else {
		r = kzalloc(sizeof(*r));
		r->e.flags = BLK_LOG_FLUSH;
		log_queue(log, r);	/* its place: after the writes completed so far */
	}
	r->log = log;
	r->end_io = bio->bi_end_io;
	r->private = bio->bi_private;
	bio->bi_end_io = log_end_io;
	bio->bi_private = r;
	blk_dev_submit_lower(dev, &log->lower, bio);
}

static const struct blk_dev_ops log_ops = {
	.submit = log_submit,
};

int blk_dev_log_mark(struct blk_dev *dev, const char *name)
{
	size_t len = strlen(name);
	struct blk_log_rec *r;

	if (!dev->log)
		return -ENODEV;
	if (!len || len > BLK_LOG_MARK_MAX)
		return -EINVAL;
	r = kzalloc(sizeof(*r));
	r->e.flags = BLK_LOG_MARK;
	r->e.data_len = len;
	r->data = kmalloc(len);
	memcpy(r->data, name, len);
	log_queue(dev->log, r);
	return 0;
}

bool blk_dev_has_log(const struct blk_dev *dev)
{
	return dev->log != NULL;
}

int blk_log_start(struct blk_dev *dev, const char *path)
{
	struct blk_log *log = kzalloc(sizeof(*log));
	int err;

	log->dev = dev;
	log->pos = 1;		/* sector 0 is the super */
	log->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (log->fd < 0) {
		err = -errno;
		fprintf(stderr, "iomapfs: cannot create write log %s: %s\n", path,
			strerror(-err));
		kfree(log);
		return err;
	}
	pthread_mutex_init(&log->lock, NULL);
	pthread_cond_init(&log->cond, NULL);
	err = log_write_super(log);
	if (!err)
		err = -pthread_create(&log->writer, NULL, log_writer_fn, log);
	if (err) {
		fprintf(stderr, "iomapfs: write log %s: %s\n", path, strerror(-err));
		close(log->fd);
		kfree(log);
		return err;
	}
	blk_dev_push_ops(dev, &log_ops, log, &log->lower);
	dev->log = log;
	return 0;
}

/* Every bio has ended (blk_dev_close waited): write out the rest. */
void blk_log_stop(struct blk_dev *dev)
{
	struct blk_log *log = dev->log;

	if (!log)
		return;
	pthread_mutex_lock(&log->lock);
	log->stop = true;
	pthread_cond_signal(&log->cond);
	pthread_mutex_unlock(&log->lock);
	pthread_join(log->writer, NULL);
	if (!log->error) {
		int err = log_write_super(log);

		if (!err && fsync(log->fd))
			err = -errno;
		if (err)
			fprintf(stderr, "iomapfs: write log: cannot finish it: %s\n",
				strerror(-err));
	}
	blk_dev_pop_ops(dev, &log->lower);
	dev->log = NULL;
	close(log->fd);
	pthread_mutex_destroy(&log->lock);
	pthread_cond_destroy(&log->cond);
	kfree(log);
}
