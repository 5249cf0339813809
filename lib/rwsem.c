// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * struct rwsem (include/iomapfs/rwsem.h): a pthread rwlock plus, in debug
 * builds, the ownership and balance checks lockdep would make.  Each
 * thread keeps a small table of the locks it holds (address and hold
 * counts); a lock carries its writer's tid and its total read holds, so a
 * release can be checked against both sides.  A violation prints the lock,
 * the thread and what was wrong, then aborts: the alternative is glibc's
 * reader count wrapping and a writer waiting forever, far from the cause.
 */
#include <iomapfs/rwsem.h>
#include <iomapfs/common.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* glibc's writer-preferring kind: a waiting writer holds back new readers. */
static void rwlock_init_writer_first(pthread_rwlock_t *l)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(l, &a);
	pthread_rwlockattr_destroy(&a);
}

#define RWSEM_SPIN	200	/* try-lock rounds: a few microseconds */

void mutex_init_adaptive(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* The spinning phase: true when the lock was taken without sleeping. */
static bool rwlock_spin(struct rwsem *s, bool write)
{
	for (unsigned i = 0; i < s->spin; i++) {
		if (!(write ? pthread_rwlock_trywrlock(&s->lock)
			    : pthread_rwlock_tryrdlock(&s->lock)))
			return true;
		cpu_relax();
	}
	return false;
}

static void rwlock_lock(struct rwsem *s, bool write)
{
	if (s->spin && rwlock_spin(s, write))
		return;
	if (write)
		pthread_rwlock_wrlock(&s->lock);
	else
		pthread_rwlock_rdlock(&s->lock);
}

#ifdef IOMAPFS_DEBUG_LOCKS

#define HELD_MAX	16	/* distinct rwsems one thread may hold at once */

struct held_lock {
	const struct rwsem	*lock;
	int			reads, writes;
};

static _Thread_local struct held_lock held[HELD_MAX];

/*
 * This thread's id, asked of the kernel once: gettid() is a system call on
 * every glibc, and down_write()/up_write() run on every metadata section,
 * where it cost as much as the section's B+tree work under a hypervisor.
 * A forked child keeps its parent's value in the forking thread; the value
 * is only compared with itself (owner == self), so that is harmless.
 */
static _Thread_local int self_tid;

static int current_tid(void)
{
	if (!self_tid)
		self_tid = (int)gettid();
	return self_tid;
}

static __attribute__((noreturn)) void rwsem_bug(const struct rwsem *s,
						const char *what)
{
	fprintf(stderr, "iomapfs: BUG: rwsem %p: %s (thread %d, writer %d, readers %d)\n",
		(const void *)s, what, current_tid(), atomic_load(&s->owner),
		atomic_load(&s->readers));
	abort();
}

/* This thread's entry for @s; with @add, a new one if there is none. */
static struct held_lock *held_find(const struct rwsem *s, bool add)
{
	struct held_lock *free_slot = NULL;

	for (int i = 0; i < HELD_MAX; i++) {
		if (held[i].lock == s)
			return &held[i];
		if (!held[i].lock && !free_slot)
			free_slot = &held[i];
	}
	if (!add)
		return NULL;
	if (!free_slot)
		rwsem_bug(s, "this thread holds too many locks to track");
	free_slot->lock = s;
	return free_slot;
}

static void held_drop_if_unused(struct held_lock *h)
{
	if (!h->reads && !h->writes)
		h->lock = NULL;
}

static void check_acquire(struct rwsem *s, bool write)
{
	struct held_lock *h = held_find(s, false);

	if (h && h->writes)
		rwsem_bug(s, "taken again by the thread that holds it for writing");
	if (h && write)
		rwsem_bug(s, "taken for writing by a thread that holds it for reading");
}

void rwsem_init_writer_first(struct rwsem *s)
{
	rwsem_init(s);
	pthread_rwlock_destroy(&s->lock);
	rwlock_init_writer_first(&s->lock);
}

void rwsem_init(struct rwsem *s)
{
	pthread_rwlock_init(&s->lock, NULL);
	s->spin = 0;
	atomic_store(&s->owner, 0);
	atomic_store(&s->readers, 0);
}

void rwsem_destroy(struct rwsem *s)
{
	if (atomic_load(&s->owner) || atomic_load(&s->readers))
		rwsem_bug(s, "destroyed while held");
	pthread_rwlock_destroy(&s->lock);
}

void down_read(struct rwsem *s)
{
	check_acquire(s, false);
	rwlock_lock(s, false);
	atomic_fetch_add(&s->readers, 1);
	held_find(s, true)->reads++;
}

void up_read(struct rwsem *s)
{
	struct held_lock *h = held_find(s, false);

	if (!h || !h->reads)
		rwsem_bug(s, "up_read by a thread that does not hold it");
	if (atomic_fetch_sub(&s->readers, 1) <= 0)
		rwsem_bug(s, "up_read with no reader");
	h->reads--;
	held_drop_if_unused(h);
	pthread_rwlock_unlock(&s->lock);
}

void down_write(struct rwsem *s)
{
	check_acquire(s, true);
	rwlock_lock(s, true);
	if (atomic_load(&s->readers))
		rwsem_bug(s, "write-locked with readers inside");
	atomic_store(&s->owner, current_tid());
	held_find(s, true)->writes++;
}

void up_write(struct rwsem *s)
{
	struct held_lock *h = held_find(s, false);

	if (atomic_load(&s->owner) != current_tid() || !h || !h->writes)
		rwsem_bug(s, "up_write by a thread that is not the writer");
	atomic_store(&s->owner, 0);
	h->writes--;
	held_drop_if_unused(h);
	pthread_rwlock_unlock(&s->lock);
}

#else /* !IOMAPFS_DEBUG_LOCKS */

void rwsem_init(struct rwsem *s) { pthread_rwlock_init(&s->lock, NULL); s->spin = 0; }
void rwsem_init_writer_first(struct rwsem *s)
{
	rwlock_init_writer_first(&s->lock);
	s->spin = 0;
}
void rwsem_destroy(struct rwsem *s) { pthread_rwlock_destroy(&s->lock); }
void down_read(struct rwsem *s) { rwlock_lock(s, false); }
void up_read(struct rwsem *s) { pthread_rwlock_unlock(&s->lock); }
void down_write(struct rwsem *s) { rwlock_lock(s, true); }
void up_write(struct rwsem *s) { pthread_rwlock_unlock(&s->lock); }

#endif

void rwsem_init_spinning(struct rwsem *s)
{
	rwsem_init_writer_first(s);
	s->spin = RWSEM_SPIN;
}
