/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one futex wrapper every layer uses (lib/futex.c), and the deadline
 * arithmetic for timed condition-variable waits.  A futex word is an
 * atomic_uint that the waker changes before it wakes, so a waiter that
 * rechecks the word in a loop can never miss a wakeup.
 */
#ifndef IOMAPFS_FUTEX_H
#define IOMAPFS_FUTEX_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/*
 * Sleep while *@word == @val, at most @timeout_ns (0: no limit).  Task
 * context only (it calls might_sleep()).  May return early (a wakeup, a
 * signal, or the word already changed): callers loop on their condition.
 */
void futex_wait(atomic_uint *word, unsigned val, uint64_t timeout_ns);
/* Wake up to @nr waiters on @word (FUTEX_WAKE_ALL: every one).  Any
 * context, the reaper included: it never blocks. */
void futex_wake(atomic_uint *word, int nr);
#define FUTEX_WAKE_ALL	INT32_MAX

/* The CLOCK_MONOTONIC time @ms from now, normalised: the absolute timeout
 * for pthread_cond_timedwait() on a condvar that uses CLOCK_MONOTONIC. */
struct timespec deadline_after_ms(unsigned ms);

#endif /* IOMAPFS_FUTEX_H */
