// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * include/iomapfs/futex.h: futex wait and wake on a private word, and the
 * deadline arithmetic of timed condvar waits.  The block layer (ring
 * slots, completions, workers), the cache (folio bits, memory progress,
 * mapping references) and the metadata engine (bio batches) all sleep on
 * futex words through these two functions.
 */
#include <iomapfs/common.h>
#include <iomapfs/futex.h>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NSEC_PER_SEC	1000000000ull

void futex_wait(atomic_uint *word, unsigned val, uint64_t timeout_ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(timeout_ns / NSEC_PER_SEC),
		.tv_nsec = (long)(timeout_ns % NSEC_PER_SEC),
	};

	might_sleep();
	syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, val,
		timeout_ns ? &ts : NULL, NULL, 0);
}

void futex_wake(atomic_uint *word, int nr)
{
	syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, nr, NULL, NULL, 0);
}

struct timespec deadline_after_ms(unsigned ms)
{
	struct timespec ts;
	uint64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (uint64_t)ts.tv_nsec + (uint64_t)ms * 1000000ull;
	ts.tv_sec += (time_t)(ns / NSEC_PER_SEC);
	ts.tv_nsec = (long)(ns % NSEC_PER_SEC);
	return ts;
}
