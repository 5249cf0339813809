/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared helpers for the iouring/ unit suites: a scratch directory under
 * /var/tmp with image files, aligned buffers and patterns, and "tracked"
 * bios whose ->bi_end_io records where and how it ran (thread name, atomic
 * context, status, how many times), so tests can prove which thread ran
 * which completion.
 */
#ifndef IOMAPFS_TESTS_BLK_TEST_H
#define IOMAPFS_TESTS_BLK_TEST_H

#include <iomapfs/bio.h>

#include <check.h>
#include "unit.h"

#define TIO_MAX_CALLS	4

/* What one tracked bio saw, call by call. */
struct tio {
	bool			defer;		/* defer every first call */
	bool			always_defer;	/* re-offload guard test */
	bool			defer_on_error;	/* defer only when bi_status != 0 */
	atomic_int		calls;
	atomic_int		ended;		/* the final call ran (1) */
	char			comm[TIO_MAX_CALLS][16];
	bool			atomic_ctx[TIO_MAX_CALLS];
	bool			deferred[TIO_MAX_CALLS];	/* bio_complete_in_task() result */
	int			status;
	struct task_batch_cb	*batch_cb;	/* registered in the final call */
};

/* Counters over every tracked bio of the running test. */
extern atomic_int tio_final_calls;	/* ->bi_end_io calls that did not defer */
extern atomic_int tio_first_calls;	/* first ->bi_end_io calls */

/*
 * main(): run @s with one scratch directory under /var/tmp for its images,
 * removed at the end even when tests fail.  Returns the exit status.
 */
int blk_test_run(Suite *s);
/* A sparse image file of @size bytes in the scratch directory. */
void blk_test_image(char *path, size_t pathlen, const char *name, uint64_t size);

void *abuf(size_t len);
void fill_pattern(void *buf, size_t len, unsigned seed);
void current_comm(char comm[16]);
bool starts_with(const char *s, const char *prefix);

void tio_init(struct tio *t, bool defer);
void tio_end_io(struct bio *bio);
/* A bio over @buf at @off whose ->bi_end_io is tio_end_io(). */
struct bio *tio_bio(struct blk_dev *dev, enum req_op op, void *buf, size_t len,
		    uint64_t off, struct tio *t);

/* Poll until *@v >= @target or 30 s pass; true if reached. */
bool wait_atomic_ge(atomic_int *v, int target);

/* Poll until @nr bios were deferred on @dev, or 30 s pass. */
bool wait_deferred(struct blk_dev *dev, uint64_t nr);

struct blk_dev *open_dev(const char *path, const struct blk_dev_config *cfg);

#endif /* IOMAPFS_TESTS_BLK_TEST_H */
