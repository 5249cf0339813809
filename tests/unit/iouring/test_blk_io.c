// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: the I/O side of the block layer against an image file:
 * bytes written come back, flushes, completion in the reaper, thread names,
 * the shutdown switch, the exclusive lock, fault injection through the ops
 * table, sync I/O splitting and bouncing, end-of-device checks, short-read
 * resubmission, in-flight limiting, and the two assertions (a bio without
 * ->bi_end_io, might_sleep() in the reaper).
 */
#include "blk_test.h"

#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MiB	(1024 * 1024)

static void pread_image(const char *path, void *buf, size_t len, off_t off)
{
	int fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

/* A bio over every other 4 KiB page of @buf: vecs that cannot merge. */
static struct bio *strided_bio(struct blk_dev *dev, enum req_op op, char *buf,
			       unsigned pages, uint64_t off, struct tio *t)
{
	struct bio *bio = bio_alloc(dev, pages, op);
	unsigned i;

	bio->bi_sector = off >> SECTOR_SHIFT;
	bio->bi_end_io = tio_end_io;
	bio->bi_private = t;
	for (i = 0; i < pages; i++)
		ck_assert(bio_add_buf(bio, buf + 2 * i * 4096, 4096));
	ck_assert_int_eq(bio->bi_vcnt, pages);
	return bio;
}

START_TEST(write_then_read_returns_same_bytes)
{
	char path[256], *wbuf = abuf(16 * 4096), *rbuf = abuf(16 * 4096);
	char *file = abuf(8 * 4096);
	struct blk_stats st;
	struct blk_dev *dev;
	struct tio tw, tr;
	unsigned i;

	blk_test_image(path, sizeof(path), "rw", MiB);
	dev = open_dev(path, NULL);
	ck_assert_uint_eq(blk_dev_size(dev), MiB);
	fill_pattern(wbuf, 16 * 4096, 1);
	tio_init(&tw, false);
	tio_init(&tr, false);
	submit_bio(strided_bio(dev, REQ_OP_WRITE, wbuf, 8, 64 * 1024, &tw));
	ck_assert(wait_atomic_ge(&tw.ended, 1));
	ck_assert_int_eq(tw.status, 0);
	submit_bio(strided_bio(dev, REQ_OP_READ, rbuf, 8, 64 * 1024, &tr));
	ck_assert(wait_atomic_ge(&tr.ended, 1));
	ck_assert_int_eq(tr.status, 0);
	for (i = 0; i < 8; i++) {
		ck_assert_mem_eq(rbuf + 2 * i * 4096, wbuf + 2 * i * 4096, 4096);
		/* The image holds the vecs back to back. */
		pread_image(path, file, 4096, 64 * 1024 + i * 4096);
		ck_assert_mem_eq(file, wbuf + 2 * i * 4096, 4096);
	}
	blk_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.bytes_written, 8 * 4096);
	ck_assert_uint_eq(st.bytes_read, 8 * 4096);
	ck_assert_uint_eq(st.bios_completed, 2);
	blk_dev_close(dev);
	free(wbuf);
	free(rbuf);
	free(file);
}
END_TEST

START_TEST(flush_completes_and_is_counted)
{
	struct blk_stats st;
	struct blk_dev *dev;
	char path[256];
	struct tio t;

	blk_test_image(path, sizeof(path), "flush", MiB);
	dev = open_dev(path, NULL);
	ck_assert_int_eq(blkdev_issue_flush(dev), 0);
	tio_init(&t, false);
	submit_bio(tio_bio(dev, REQ_OP_FLUSH, NULL, 0, 0, &t));
	ck_assert(wait_atomic_ge(&t.ended, 1));
	ck_assert_int_eq(t.status, 0);
	ck_assert(starts_with(t.comm[0], "iomapfs-irq/"));
	blk_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.flushes, 2);
	ck_assert_uint_eq(st.io_errors, 0);
	blk_dev_close(dev);
}
END_TEST

START_TEST(plain_completion_runs_in_reaper)
{
	char path[256], *buf = abuf(4096);
	struct blk_stats st;
	struct blk_dev *dev;
	struct tio t;

	blk_test_image(path, sizeof(path), "reaper", MiB);
	dev = open_dev(path, NULL);
	tio_init(&t, false);
	submit_bio(tio_bio(dev, REQ_OP_WRITE, buf, 4096, 0, &t));
	ck_assert(wait_atomic_ge(&t.ended, 1));
	ck_assert_int_eq(atomic_load(&t.calls), 1);
	ck_assert_str_eq(t.comm[0], "iomapfs-irq/0");
	ck_assert(t.atomic_ctx[0]);
	blk_dev_wait_idle(dev);	/* the reaper counts after ->bi_end_io returns */
	blk_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.completed_in_reaper, 1);
	ck_assert_uint_eq(st.completed_in_worker, 0);
	blk_dev_close(dev);
	free(buf);
}
END_TEST

START_TEST(completed_in_reaper_counts_only_undeferred)
{
	char path[256], *buf = abuf(2 * 4096);
	struct blk_stats st;
	struct blk_dev *dev;
	struct tio plain, deferred;

	blk_test_image(path, sizeof(path), "count", MiB);
	dev = open_dev(path, NULL);
	tio_init(&plain, false);
	tio_init(&deferred, true);
	submit_bio(tio_bio(dev, REQ_OP_WRITE, buf, 4096, 0, &plain));
	submit_bio(tio_bio(dev, REQ_OP_WRITE, buf + 4096, 4096, 4096, &deferred));
	ck_assert(wait_atomic_ge(&plain.ended, 1));
	ck_assert(wait_atomic_ge(&deferred.ended, 1));
	blk_dev_wait_idle(dev);
	blk_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.bios_completed, 2);
	ck_assert_uint_eq(st.completed_in_reaper, 1);
	ck_assert_uint_eq(st.completed_in_worker, 1);
	ck_assert_uint_eq(st.deferred, 1);
	ck_assert_str_eq(deferred.comm[0], "iomapfs-irq/0");
	ck_assert(starts_with(deferred.comm[1], "iomapfs-wq/"));
	blk_dev_close(dev);
	free(buf);
}
END_TEST

static bool proc_has_thread(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	bool found = false;

	while (d && !found && (de = readdir(d))) {
		char p[300], comm[32] = "";
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/self/task/%s/comm", de->d_name);
		f = fopen(p, "r");
		if (f && fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = 0;
		if (f)
			fclose(f);
		found = !strcmp(comm, name);
	}
	if (d)
		closedir(d);
	return found;
}

START_TEST(threads_are_named_in_proc)
{
	struct blk_dev_config cfg = { .nr_rings = 2, .nr_workers = 3 };
	const char *names[] = { "iomapfs-irq/0", "iomapfs-irq/1", "iomapfs-wq/0",
				"iomapfs-wq/1", "iomapfs-wq/2" };
	struct blk_dev *dev;
	char path[256];
	unsigned i;
	int tries;

	blk_test_image(path, sizeof(path), "names", MiB);
	dev = open_dev(path, &cfg);
	ck_assert_uint_eq(blk_nr_workers(dev), 3);
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		/* A thread names itself when it starts: give it the time it needs. */
		for (tries = 0; tries < 3000 && !proc_has_thread(names[i]); tries++)
			usleep(1000);
		ck_assert_msg(proc_has_thread(names[i]), "no thread %s", names[i]);
	}
	blk_dev_close(dev);
	ck_assert(!proc_has_thread("iomapfs-irq/0"));
	ck_assert(!proc_has_thread("iomapfs-wq/0"));
}
END_TEST

START_TEST(shutdown_fails_later_bios_and_leaves_image)
{
	char path[256], *a = abuf(4096), *b = abuf(4096), *img = abuf(4096);
	char comm[16];
	struct blk_stats st;
	struct blk_dev *dev;
	struct tio t;

	blk_test_image(path, sizeof(path), "shutdown", MiB);
	dev = open_dev(path, NULL);
	fill_pattern(a, 4096, 2);
	fill_pattern(b, 4096, 3);
	ck_assert_int_eq(blk_rw_sync(dev, REQ_OP_WRITE, a, 4096, 8192), 0);
	ck_assert(!blk_dev_is_shutdown(dev));
	blk_dev_shutdown(dev);
	ck_assert(blk_dev_is_shutdown(dev));

	tio_init(&t, false);
	submit_bio(tio_bio(dev, REQ_OP_WRITE, b, 4096, 8192, &t));
	/* Failed in the submitting thread, synchronously, not in the reaper. */
	ck_assert_int_eq(atomic_load(&t.ended), 1);
	ck_assert_int_eq(t.status, -EIO);
	current_comm(comm);
	ck_assert_str_eq(t.comm[0], comm);
	ck_assert(!t.atomic_ctx[0]);
	ck_assert_int_eq(blk_rw_sync(dev, REQ_OP_WRITE, b, 4096, 8192), -EIO);
	ck_assert_int_eq(blk_rw_sync(dev, REQ_OP_READ, b, 4096, 8192), -EIO);
	ck_assert_int_eq(blkdev_issue_flush(dev), -EIO);
	blk_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.bytes_written, 4096);
	blk_dev_close(dev);
	pread_image(path, img, 4096, 8192);
	ck_assert_mem_eq(img, a, 4096);
	free(a);
	free(b);
	free(img);
}
END_TEST

START_TEST(second_open_of_same_image_fails_ebusy)
{
	struct blk_dev_config nolock = { .no_excl_lock = true };
	struct blk_dev *dev, *dev2 = (void *)1;
	char path[256];
	int i;

	blk_test_image(path, sizeof(path), "busy", MiB);
	dev = open_dev(path, NULL);
	ck_assert_int_eq(blk_dev_open(path, NULL, &dev2), -EBUSY);
	ck_assert_ptr_null(dev2);
	/* mkfs -f: explicitly without the lock. */
	ck_assert_int_eq(blk_dev_open(path, &nolock, &dev2), 0);
	blk_dev_close(dev2);
	blk_dev_close(dev);
	/* The lock goes with the device, at once: unmount then mount works. */
	for (i = 0; i < 10; i++) {
		dev = open_dev(path, NULL);
		blk_dev_close(dev);
	}
	ck_assert_int_eq(blk_dev_open("/var/tmp/iomapfs-no-such-image", NULL, &dev2), -ENOENT);
}
END_TEST

START_TEST(readonly_device_refuses_writes)
{
	struct blk_dev_config ro = { .readonly = true };
	char path[256], *buf = abuf(4096);
	struct blk_dev *dev;

	blk_test_image(path, sizeof(path), "ro", MiB);
	dev = open_dev(path, &ro);
	ck_assert_int_eq(blk_rw_sync(dev, REQ_OP_READ, buf, 4096, 0), 0);
	ck_assert_int_eq(blk_rw_sync(dev, REQ_OP_WRITE, buf, 4096, 0), -EROFS);
	blk_dev_close(dev);
	free(buf);
}
END_TEST

/*
 * Attach @img to a free loop device with 4 KiB logical blocks.  AUTOCLEAR:
 * the device detaches itself when its last opener closes, so nothing is
 * left behind even if the test dies.  Returns an fd on the loop device
 * (its path in @dev), or -1 if this machine has no usable loop devices.
 */
static int loop_attach(const char *img, char *dev, size_t devlen)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	int tries, fd = -1;

	for (tries = 0; ctl >= 0 && tries < 20 && fd < 0; tries++) {
		struct loop_config lc = { .block_size = 4096 };
		int nr = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (nr < 0)
			break;
		snprintf(dev, devlen, "/dev/loop%d", nr);
		fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			break;
		lc.fd = open(img, O_RDWR | O_CLOEXEC);
		lc.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		if (ioctl(fd, LOOP_CONFIGURE, &lc)) {	/* raced with another user */
			close(fd);
			fd = -1;
		}
		close(lc.fd);
	}
	if (ctl >= 0)
		close(ctl);
	return fd;
}

START_TEST(block_device_geometry_and_exclusive_open)
{
	char path[256], loopdev[64], *w = abuf(8192), *img = abuf(8192);
	struct blk_dev *dev, *dev2 = (void *)1;
	int loopfd;

	blk_test_image(path, sizeof(path), "loop", 4 * MiB);
	loopfd = loop_attach(path, loopdev, sizeof(loopdev));
	if (loopfd < 0) {
		unit_skip("block_device_geometry_and_exclusive_open: no loop device");
		return;
	}
	dev = open_dev(loopdev, NULL);
	close(loopfd);		/* the device now lives as long as @dev */
	ck_assert_uint_eq(blk_dev_size(dev), 4 * MiB);
	ck_assert_uint_eq(blk_dev_logical_block_size(dev), 4096);
	ck_assert_int_eq(blk_dev_open(loopdev, NULL, &dev2), -EBUSY);
	ck_assert_ptr_null(dev2);
	fill_pattern(w, 8192, 9);
	ck_assert_int_eq(blk_rw_sync(dev, REQ_OP_WRITE, w, 8192, 12288), 0);
	ck_assert_int_eq(blkdev_issue_flush(dev), 0);
	blk_dev_close(dev);
	pread_image(path, img, 8192, 12288);
	ck_assert_mem_eq(img, w, 8192);
	free(w);
	free(img);
}
END_TEST

struct fault_backend {
	atomic_int	writes;
	int		fail_nth;	/* 1-based */
};

/* Task context: the test backend, wrapping the io_uring one. */
static void fault_submit(struct blk_dev *dev, struct bio *bio)
{
	struct fault_backend *f = blk_dev_ops_private(dev);

	if (bio->bi_op == REQ_OP_WRITE && atomic_fetch_add(&f->writes, 1) + 1 == f->fail_nth)
		bio->bi_inject_status = -EIO;
	blk_dev_default_submit(dev, bio);
}

static const struct blk_dev_ops fault_ops = { .submit = fault_submit };

START_TEST(fault_backend_fails_nth_write_in_worker_via_error_deferral)
{
	char path[256], *buf = abuf(6 * 4096), *img = abuf(6 * 4096), zero[4096] = { 0 };
	struct fault_backend f = { .fail_nth = 3 };
	struct blk_stats st;
	struct blk_dev *dev;
	struct tio t[6];
	int i;

	blk_test_image(path, sizeof(path), "fault", MiB);
	dev = open_dev(path, NULL);
	blk_dev_set_ops(dev, &fault_ops, &f);
	fill_pattern(buf, 6 * 4096, 4);
	for (i = 0; i < 6; i++) {
		tio_init(&t[i], false);
		t[i].defer_on_error = true;
		submit_bio(tio_bio(dev, REQ_OP_WRITE, buf + i * 4096, 4096, i * 4096, &t[i]));
	}
	for (i = 0; i < 6; i++)
		ck_assert(wait_atomic_ge(&t[i].ended, 1));
	for (i = 0; i < 6; i++) {
		if (i == 2)
			continue;
		ck_assert_int_eq(t[i].status, 0);
		ck_assert_int_eq(atomic_load(&t[i].calls), 1);
	}
	/* The failed write: first seen in the reaper, reported in a worker. */
	ck_assert_int_eq(t[2].status, -EIO);
	ck_assert_int_eq(atomic_load(&t[2].calls), 2);
	ck_assert(starts_with(t[2].comm[0], "iomapfs-irq/"));
	ck_assert(t[2].atomic_ctx[0]);
	ck_assert(starts_with(t[2].comm[1], "iomapfs-wq/"));
	ck_assert(!t[2].atomic_ctx[1]);
	blk_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.deferred, 1);
	ck_assert_uint_eq(st.io_errors, 1);
	ck_assert_uint_eq(st.bytes_written, 5 * 4096);
	blk_dev_close(dev);
	/* The failed write never reached the image. */
	pread_image(path, img, 6 * 4096, 0);
	for (i = 0; i < 6; i++)
		ck_assert_mem_eq(img + i * 4096, i == 2 ? zero : buf + i * 4096, 4096);
	free(buf);
	free(img);
}
END_TEST

/* Send fd 2 to a fresh file; returns the saved stderr.  *@fd: the file. */
static int stderr_to_file(const char *path, int *fd)
{
	int saved = dup(2);

	*fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(*fd, 0);
	dup2(*fd, 2);
	return saved;
}

static size_t file_text(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? n : 0;
}

/*
 * Regression: the reaper printed I/O errors to stderr itself, so a stalled
 * stderr pipe (a daemon under -f) stopped every completion.  The message
 * now waits in the log ring until a task context writes it.
 */
START_TEST(reaper_io_error_is_logged_by_a_task_not_the_reaper)
{
	char path[256], errpath[300], log[4096], *buf = abuf(4096);
	struct fault_backend f = { .fail_nth = 1 };
	struct blk_dev *dev;
	struct tio t;
	int saved, fd;

	blk_test_image(path, sizeof(path), "reaperlog", MiB);
	snprintf(errpath, sizeof(errpath), "%s.stderr", path);
	saved = stderr_to_file(errpath, &fd);
	dev = open_dev(path, NULL);
	blk_dev_set_ops(dev, &fault_ops, &f);
	tio_init(&t, -1);
	submit_bio(tio_bio(dev, REQ_OP_WRITE, buf, 4096, 0, &t));
	ck_assert(wait_atomic_ge(&t.ended, 1));
	ck_assert_int_eq(t.status, -EIO);
	ck_assert(t.atomic_ctx[0]);	/* it ended in the reaper ... */
	ck_assert_uint_eq(file_text(fd, log, sizeof(log)), 0);	/* ... which wrote nothing */
	iomapfs_log_flush();		/* a task writes what the reaper queued */
	blk_dev_close(dev);
	dup2(saved, 2);
	close(saved);
	file_text(fd, log, sizeof(log));
	close(fd);
	unlink(errpath);
	ck_assert_ptr_nonnull(strstr(log, "I/O error"));
	free(buf);
}
END_TEST

/* Atomic context: a full ring drops and counts, it never waits. */
START_TEST(log_ring_full_in_atomic_context_drops_and_counts)
{
	char path[256], errpath[300], *log = malloc(1 << 20), *p;
	uint64_t dropped = iomapfs_log_dropped();
	int saved, fd, i, lines = 0;

	blk_test_image(path, sizeof(path), "logring", 4096);
	snprintf(errpath, sizeof(errpath), "%s.stderr", path);
	saved = stderr_to_file(errpath, &fd);
	atomic_ctx_enter();
	for (i = 0; i < 1000; i++)
		iomapfs_info("ring message %d", i);
	atomic_ctx_exit();
	ck_assert_uint_eq(file_text(fd, log, 1 << 20), 0);
	iomapfs_log_flush();
	dup2(saved, 2);
	close(saved);
	file_text(fd, log, 1 << 20);
	close(fd);
	unlink(errpath);
	for (p = log; (p = strstr(p, "ring message")); p++)
		lines++;
	/* The oldest messages are kept, in order; the rest were counted. */
	ck_assert_int_gt(lines, 0);
	ck_assert_int_lt(lines, 1000);
	ck_assert_ptr_nonnull(strstr(log, "iomapfs: ring message 0\n"));
	ck_assert_uint_eq(iomapfs_log_dropped() - dropped, 1000 - lines);
	free(log);
}
END_TEST

/* A fault layer stacked on top of the write log: it calls through. */
struct stacked_fault {
	struct blk_dev_layer	lower;
	atomic_int		writes;
	int			fail_nth;
	atomic_int		wrong_private;	/* blk_dev_ops_private() was not us */
};

static void stacked_fault_submit(struct blk_dev *dev, struct bio *bio)
{
	struct stacked_fault *f = blk_dev_ops_private(dev);

	if (f->fail_nth < 0 || f->fail_nth > 100)	/* not ours: would be the log's */
		atomic_fetch_add(&f->wrong_private, 1);
	if (bio->bi_op == REQ_OP_WRITE && atomic_fetch_add(&f->writes, 1) + 1 == f->fail_nth)
		bio->bi_inject_status = -EIO;
	blk_dev_submit_lower(dev, &f->lower, bio);
}

static const struct blk_dev_ops stacked_fault_ops = { .submit = stacked_fault_submit };

/* The entry whose header is at log sector @sector. */
static const struct blk_log_entry *log_entry_at(const char *log, uint64_t sector)
{
	return (const struct blk_log_entry *)(log + sector * BLK_LOG_SECTOR);
}

START_TEST(write_log_records_completed_writes_flushes_and_marks_below_a_stacked_layer)
{
	char path[256], logpath[300], *buf = abuf(3 * 4096), *log = abuf(64 * 1024);
	struct blk_dev_config cfg = { 0 };
	struct stacked_fault f = { .fail_nth = 2 };
	const struct blk_log_entry *e;
	const struct blk_log_super *sb = (const void *)log;
	struct blk_dev *dev;

	blk_test_image(path, sizeof(path), "logged", MiB);
	snprintf(logpath, sizeof(logpath), "%s.log", path);
	cfg.log_writes = logpath;
	dev = open_dev(path, &cfg);
	ck_assert(blk_dev_has_log(dev));
	blk_dev_push_ops(dev, &stacked_fault_ops, &f, &f.lower);
	fill_pattern(buf, 3 * 4096, 11);
	ck_assert_int_eq(blk_rw_sync(dev, REQ_OP_WRITE, buf, 4096, 0), 0);
	ck_assert_int_eq(blk_rw_sync(dev, REQ_OP_WRITE, buf + 4096, 4096, 4096), -EIO);
	ck_assert_int_eq(blkdev_issue_flush(dev), 0);
	ck_assert_int_eq(blk_dev_log_mark(dev, "after-flush"), 0);
	ck_assert_int_eq(blk_rw_sync(dev, REQ_OP_WRITE, buf + 8192, 4096, 8192), 0);
	blk_dev_pop_ops(dev, &f.lower);
	blk_dev_close(dev);
	ck_assert_int_eq(atomic_load(&f.wrong_private), 0);

	/* super, write + 8 data sectors, flush, mark, write + 8: 21 sectors */
	pread_image(logpath, log, 21 * BLK_LOG_SECTOR, 0);
	ck_assert_uint_eq(le64toh(sb->magic), BLK_LOG_MAGIC);
	/* The failed write is not in the log: write, flush, mark, write. */
	ck_assert_uint_eq(le64toh(sb->nr_entries), 4);
	e = log_entry_at(log, 1);
	ck_assert_uint_eq(e->sector, 0);
	ck_assert_uint_eq(e->nr_sectors, 8);
	ck_assert_uint_eq(e->flags, 0);
	ck_assert_mem_eq(log + 2 * BLK_LOG_SECTOR, buf, 4096);
	e = log_entry_at(log, 10);
	ck_assert_uint_eq(e->flags, BLK_LOG_FLUSH);
	e = log_entry_at(log, 11);
	ck_assert_uint_eq(e->flags, BLK_LOG_MARK);
	ck_assert_uint_eq(e->data_len, strlen("after-flush"));
	ck_assert_mem_eq((const char *)(e + 1), "after-flush", strlen("after-flush"));
	e = log_entry_at(log, 12);
	ck_assert_uint_eq(e->sector, 16);
	ck_assert_mem_eq(log + 13 * BLK_LOG_SECTOR, buf + 8192, 4096);
	free(buf);
	free(log);
}
END_TEST

START_TEST(write_log_mark_without_a_log_is_enodev)
{
	char path[256];
	struct blk_dev *dev;

	blk_test_image(path, sizeof(path), "nolog", MiB);
	dev = open_dev(path, NULL);
	ck_assert(!blk_dev_has_log(dev));
	ck_assert_int_eq(blk_dev_log_mark(dev, "x"), -ENODEV);
	blk_dev_close(dev);
}
END_TEST

START_TEST(large_unaligned_sync_io_is_split_and_bounced)
{
	size_t len = 10 * MiB;	/* more than BIO_MAX_SIZE: two bios each way */
	char *wmem = malloc(len + 1), *rmem = malloc(len + 3);
	struct blk_stats st;
	struct blk_dev *dev;
	char path[256];

	blk_test_image(path, sizeof(path), "big", 16 * MiB);
	dev = open_dev(path, NULL);
	fill_pattern(wmem + 1, len, 5);
	ck_assert_int_eq(blk_rw_sync(dev, REQ_OP_WRITE, wmem + 1, len, MiB), 0);
	ck_assert_int_eq(blk_rw_sync(dev, REQ_OP_READ, rmem + 3, len, MiB), 0);
	ck_assert_mem_eq(rmem + 3, wmem + 1, len);
	blk_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.bios_submitted, 4);
	ck_assert_uint_eq(st.bytes_written, len);
	ck_assert_uint_eq(st.bytes_read, len);
	blk_dev_close(dev);
	free(wmem);
	free(rmem);
}
END_TEST

START_TEST(io_past_device_end_fails_eio)
{
	char path[256], *buf = abuf(8192);
	struct blk_dev *dev;

	blk_test_image(path, sizeof(path), "eod", MiB);
	dev = open_dev(path, NULL);
	ck_assert_int_eq(blk_rw_sync(dev, REQ_OP_READ, buf, 4096, MiB), -EIO);
	ck_assert_int_eq(blk_rw_sync(dev, REQ_OP_WRITE, buf, 8192, MiB - 4096), -EIO);
	ck_assert_int_eq(blk_rw_sync(dev, REQ_OP_READ, buf, 4096, MiB - 4096), 0);
	ck_assert_int_eq(blk_rw_sync(dev, REQ_OP_READ, buf, 100, 0), -EINVAL);
	blk_dev_close(dev);
	free(buf);
}
END_TEST

START_TEST(short_read_is_resubmitted_for_the_rest)
{
	char path[256], *w = abuf(64 * 1024), *r = abuf(64 * 1024);
	struct blk_stats st;
	struct blk_dev *dev;
	struct tio t;

	blk_test_image(path, sizeof(path), "short", 64 * 1024);
	dev = open_dev(path, NULL);
	fill_pattern(w, 64 * 1024, 6);
	ck_assert_int_eq(blk_rw_sync(dev, REQ_OP_WRITE, w, 64 * 1024, 0), 0);
	/* The image shrinks under the device: the read comes back short. */
	ck_assert_int_eq(truncate(path, 40 * 1024), 0);
	tio_init(&t, false);
	submit_bio(tio_bio(dev, REQ_OP_READ, r, 64 * 1024, 0, &t));
	ck_assert(wait_atomic_ge(&t.ended, 1));
	/* The rest was asked for again, found nothing, and failed. */
	ck_assert_int_eq(t.status, -EIO);
	ck_assert_mem_eq(r, w, 40 * 1024);
	blk_dev_get_stats(dev, &st);
	ck_assert_uint_eq(st.io_resubmits, 1);
	ck_assert_uint_eq(st.io_errors, 1);
	blk_dev_close(dev);
	free(w);
	free(r);
}
END_TEST

struct submitter {
	struct blk_dev	*dev;
	char		*buf;
	struct tio	*t;
	unsigned	first, nr;
};

static void *submit_many(void *arg)
{
	struct submitter *s = arg;
	unsigned i;

	for (i = s->first; i < s->first + s->nr; i++) {
		tio_init(&s->t[i], false);
		submit_bio(tio_bio(s->dev, REQ_OP_WRITE, s->buf + i * 4096, 4096,
				   (uint64_t)i * 4096, &s->t[i]));
	}
	return NULL;
}

START_TEST(concurrent_submitters_with_tiny_rings_all_complete)
{
	/* CQs of 4: submitters must wait for in-flight slots; two reapers. */
	struct blk_dev_config cfg = { .queue_depth = 2, .nr_rings = 2 };
	enum { NR = 256 };
	char path[256], *buf = abuf(NR * 4096), *img = abuf(NR * 4096);
	struct tio *t = calloc(NR, sizeof(*t));
	struct submitter s[2];
	struct blk_dev *dev;
	pthread_t th[2];
	unsigned i;

	blk_test_image(path, sizeof(path), "inflight", MiB);
	dev = open_dev(path, &cfg);
	fill_pattern(buf, NR * 4096, 7);
	for (i = 0; i < 2; i++) {
		s[i] = (struct submitter){ dev, buf, t, i * NR / 2, NR / 2 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, submit_many, &s[i]), 0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NR; i++) {
		ck_assert(wait_atomic_ge(&t[i].ended, 1));
		ck_assert_int_eq(t[i].status, 0);
	}
	blk_dev_close(dev);
	pread_image(path, img, NR * 4096, 0);
	ck_assert_mem_eq(img, buf, NR * 4096);
	free(t);
	free(buf);
	free(img);
}
END_TEST

/*
 * Regression: a bio with no ->bi_end_io used to warn once and be skipped,
 * so whoever waited for it hung.  It is a bug in the submitter: debug
 * builds abort at once (the test harness sees SIGABRT), release builds log
 * an ERROR and never queue it.
 */
static struct bio *bio_without_end_io(const char *name, struct blk_dev **devp)
{
	char path[256], *buf = abuf(4096);
	struct bio *bio;

	blk_test_image(path, sizeof(path), name, MiB);
	*devp = open_dev(path, NULL);
	bio = bio_alloc(*devp, 1, REQ_OP_WRITE);
	bio_add_buf(bio, buf, 4096);
	return bio;
}

START_TEST(bio_without_end_io_asserts_at_submit)
{
	struct blk_dev *dev;
	struct bio *bio = bio_without_end_io("noendio-submit", &dev);
	uint64_t errs = iomapfs_log_warnings();

	submit_bio(bio);	/* debug builds abort here */
	blk_dev_close(dev);	/* release: never queued, close does not wait for it */
	ck_assert_uint_gt(iomapfs_log_warnings(), errs);
	bio_put(bio);
}
END_TEST

START_TEST(bio_without_end_io_asserts_at_endio)
{
	struct blk_dev *dev;
	struct bio *bio = bio_without_end_io("noendio-endio", &dev);
	uint64_t errs = iomapfs_log_warnings();

	bio_endio(bio);		/* debug builds abort here */
	ck_assert_uint_gt(iomapfs_log_warnings(), errs);
	blk_dev_close(dev);
	bio_put(bio);
}
END_TEST

#ifdef IOMAPFS_DEBUG_ATOMIC
/* Reaper: a completion that sleeps, which debug builds must not allow. */
static void sleeping_end_io(struct bio *bio)
{
	blkdev_issue_flush(bio->bi_dev);
}

START_TEST(might_sleep_in_reaper_aborts)
{
	char path[256], *buf = abuf(4096);
	struct blk_dev *dev;
	struct bio *bio;

	blk_test_image(path, sizeof(path), "sleep", MiB);
	dev = open_dev(path, NULL);
	bio = bio_alloc(dev, 1, REQ_OP_WRITE);
	bio_add_buf(bio, buf, 4096);
	bio->bi_end_io = sleeping_end_io;
	submit_bio(bio);
	sleep(30);	/* the reaper aborts the process long before */
}
END_TEST
#endif

struct stat_row {
	const char	*name;
	uint64_t	val;
};

static void collect_stat(void *ctx, const char *name, uint64_t val)
{
	struct stat_row *rows = ctx;

	while (rows->name)
		rows++;
	rows->name = name;
	rows->val = val;
}

START_TEST(stats_for_each_names_every_counter)
{
	static const char *const expect[] = {
		"bios_submitted", "bios_completed", "bytes_read", "bytes_written",
		"flushes", "io_errors", "io_resubmits", "completed_in_reaper",
		"deferred", "completed_in_worker", "worker_batches",
		"worker_batch_bios", "worker_batch_mean", "defer_lat_p50_us",
		"defer_lat_p99_us", "defer_lat_max_us",
		"defer_hist_0us", "defer_hist_2us", "defer_hist_4us", "defer_hist_8us",
		"defer_hist_16us", "defer_hist_32us", "defer_hist_64us", "defer_hist_128us",
		"defer_hist_256us", "defer_hist_512us", "defer_hist_1024us",
		"defer_hist_2048us", "defer_hist_4096us", "defer_hist_8192us",
		"defer_hist_16384us", "defer_hist_32768us", "defer_hist_65536us",
		"defer_hist_131072us", "defer_hist_262144us", "defer_hist_524288us",
		"defer_hist_1048576us", "defer_hist_2097152us", "defer_hist_4194304us",
		"defer_hist_8388608us", "worker_delays", "worker_kicks",
	};
	struct stat_row rows[64] = { { 0 } };
	char path[256], *buf = abuf(3 * 4096);
	struct blk_stats st;
	struct blk_dev *dev;
	unsigned i;

	blk_test_image(path, sizeof(path), "stats", MiB);
	dev = open_dev(path, NULL);
	ck_assert_int_eq(blk_rw_sync(dev, REQ_OP_WRITE, buf, 3 * 4096, 0), 0);
	ck_assert_int_eq(blk_rw_sync(dev, REQ_OP_READ, buf, 4096, 0), 0);
	ck_assert_int_eq(blkdev_issue_flush(dev), 0);
	blk_dev_get_stats(dev, &st);
	blk_stats_for_each(&st, collect_stat, rows);
	for (i = 0; i < ARRAY_SIZE(expect); i++)
		ck_assert_str_eq(rows[i].name, expect[i]);
	ck_assert_ptr_null(rows[ARRAY_SIZE(expect)].name);
	ck_assert_uint_eq(rows[0].val, 3);		/* bios_submitted */
	ck_assert_uint_eq(rows[2].val, 4096);		/* bytes_read */
	ck_assert_uint_eq(rows[3].val, 3 * 4096);	/* bytes_written */
	ck_assert_uint_eq(rows[4].val, 1);		/* flushes */
	blk_dev_close(dev);
	free(buf);
}
END_TEST

static Suite *blk_io_suite(void)
{
	Suite *s = suite_create("blk_io");
	TCase *tc = tcase_create("io");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, write_then_read_returns_same_bytes);
	tcase_add_test(tc, flush_completes_and_is_counted);
	tcase_add_test(tc, plain_completion_runs_in_reaper);
	tcase_add_test(tc, completed_in_reaper_counts_only_undeferred);
	tcase_add_test(tc, threads_are_named_in_proc);
	tcase_add_test(tc, shutdown_fails_later_bios_and_leaves_image);
	tcase_add_test(tc, second_open_of_same_image_fails_ebusy);
	tcase_add_test(tc, readonly_device_refuses_writes);
	tcase_add_test(tc, block_device_geometry_and_exclusive_open);
	tcase_add_test(tc, fault_backend_fails_nth_write_in_worker_via_error_deferral);
	tcase_add_test(tc, reaper_io_error_is_logged_by_a_task_not_the_reaper);
	tcase_add_test(tc, log_ring_full_in_atomic_context_drops_and_counts);
	tcase_add_test(tc, write_log_records_completed_writes_flushes_and_marks_below_a_stacked_layer);
	tcase_add_test(tc, write_log_mark_without_a_log_is_enodev);
	tcase_add_test(tc, large_unaligned_sync_io_is_split_and_bounced);
	tcase_add_test(tc, io_past_device_end_fails_eio);
	tcase_add_test(tc, short_read_is_resubmitted_for_the_rest);
	tcase_add_test(tc, concurrent_submitters_with_tiny_rings_all_complete);
#ifdef IOMAPFS_DEBUG_ATOMIC
	tcase_add_test_raise_signal(tc, bio_without_end_io_asserts_at_submit, SIGABRT);
	tcase_add_test_raise_signal(tc, bio_without_end_io_asserts_at_endio, SIGABRT);
#else
	tcase_add_test(tc, bio_without_end_io_asserts_at_submit);
	tcase_add_test(tc, bio_without_end_io_asserts_at_endio);
#endif
#ifdef IOMAPFS_DEBUG_ATOMIC
	tcase_add_test_raise_signal(tc, might_sleep_in_reaper_aborts, SIGABRT);
#endif
	tcase_add_test(tc, stats_for_each_names_every_counter);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return blk_test_run(blk_io_suite());
}
