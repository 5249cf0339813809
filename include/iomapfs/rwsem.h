/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A reader/writer lock with lockdep-style ownership checks in debug builds.
 *
 * struct rwsem wraps glibc's default (reader-preferring) pthread rwlock,
 * which lets a thread take the read side again while it holds it (op_read
 * and fs_read rely on that).  In every build but Release
 * (IOMAPFS_DEBUG_LOCKS) it also records the writer's thread id, the number
 * of read holds, and per thread which locks it holds and how often, and
 * aborts with a report on:
 *   - up_write by a thread that is not the writer;
 *   - up_read by a thread that holds no read side of this lock (the
 *     signature of a lock released after its memory was freed and reused);
 *   - down_write, or down_read, while the same thread holds the write side
 *     (self-deadlock), and down_write while it holds the read side;
 *   - rwsem_destroy of a lock someone still holds (the owner is being freed
 *     under a holder);
 *   - a thread holding more distinct locks than the checker can track.
 * glibc cannot see any of these: it silently corrupts its reader count.
 */
#ifndef IOMAPFS_RWSEM_H
#define IOMAPFS_RWSEM_H

#include <pthread.h>
#include <stdatomic.h>

struct rwsem {
	pthread_rwlock_t	lock;
	unsigned		spin;		/* try-lock rounds before sleeping */
#ifdef IOMAPFS_DEBUG_LOCKS
	atomic_int		owner;		/* writer's tid, 0 if none */
	atomic_int		readers;	/* read holds, all threads */
#endif
};

void rwsem_init(struct rwsem *s);
/*
 * A lock whose waiting writer holds back new readers (glibc's
 * PREFER_WRITER_NONRECURSIVE kind), so a stream of short readers cannot
 * starve it.  Its readers must not take the read side again while they
 * hold it: with a writer waiting, that deadlocks.
 */
void rwsem_init_writer_first(struct rwsem *s);
/*
 * A writer-first lock whose holds are a few microseconds (the B+tree's):
 * a contended down_read/down_write tries again for a short while before
 * it sleeps, as the kernel's rwsem spins on a running owner, since on a
 * small machine a sleep and a wake-up cost more than the hold.
 */
void rwsem_init_spinning(struct rwsem *s);
/*
 * A pthread mutex of glibc's adaptive kind (spins a little before it
 * sleeps), for the short, hot leaf locks (inode hash, buffer cache).
 */
void mutex_init_adaptive(pthread_mutex_t *m);
/* The lock must be free (debug builds check it). */
void rwsem_destroy(struct rwsem *s);
void down_read(struct rwsem *s);
void up_read(struct rwsem *s);
void down_write(struct rwsem *s);
void up_write(struct rwsem *s);

#endif
