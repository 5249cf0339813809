/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small things every layer shares: container_of, an intrusive list, error
 * pointers, WARN_ON_ONCE, the reaper's "atomic context" flag with
 * might_sleep(), the allocator wrappers (jemalloc when built with it), and
 * a seeded random number generator.
 *
 * Nothing here knows about folios, inodes or the on-disk format.
 */
#ifndef IOMAPFS_COMMON_H
#define IOMAPFS_COMMON_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <iomapfs/log.h>

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#define min_t(t, a, b)	((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define max_t(t, a, b)	((t)(a) > (t)(b) ? (t)(a) : (t)(b))
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))
#define ALIGN_DOWN(x, a)	((x) & ~((__typeof__(x))(a) - 1))
#define ALIGN_UP(x, a)		ALIGN_DOWN((x) + (a) - 1, (a))

/* ---- error pointers, as in include/linux/err.h ---- */
#define MAX_ERRNO	4095
static inline void *ERR_PTR(long err) { return (void *)err; }
static inline long PTR_ERR(const void *p) { return (long)p; }
static inline bool IS_ERR(const void *p)
{
	return (uintptr_t)p >= (uintptr_t)-MAX_ERRNO;
}
static inline bool IS_ERR_OR_NULL(const void *p) { return !p || IS_ERR(p); }

/* ---- broken invariants: warn once, the caller returns -EIO ---- */
#define WARN_ON_ONCE(cond) ({						\
	static atomic_bool __warned;					\
	bool __c = !!(cond);						\
	if (unlikely(__c) && !atomic_exchange(&__warned, true))		\
		iomapfs_warn("WARNING at %s:%d %s: %s",			\
			     __FILE__, __LINE__, __func__, #cond);	\
	unlikely(__c);							\
})

/*
 * A bug the caller cannot recover from silently, as the kernel's BUG_ON:
 * logged as an ERROR always; debug builds (IOMAPFS_DEBUG_ATOMIC) then abort
 * so the test that hit it fails loudly with a core; release builds return
 * true and the caller fails the operation with -EIO.
 */
void iomapfs_bug(const char *file, int line, const char *func, const char *cond);
#define BUG_ON_RECOVER(cond) ({						\
	bool __c = !!(cond);						\
	if (unlikely(__c))						\
		iomapfs_bug(__FILE__, __LINE__, __func__, #cond);	\
	unlikely(__c);							\
})

/* ---- intrusive doubly linked list, as in include/linux/list.h ---- */
struct list_head {
	struct list_head *next, *prev;
};
#define LIST_HEAD_INIT(name) { &(name), &(name) }
static inline void INIT_LIST_HEAD(struct list_head *h) { h->next = h->prev = h; }
static inline bool list_empty(const struct list_head *h) { return h->next == h; }
static inline void __list_add(struct list_head *n, struct list_head *prev,
			      struct list_head *next)
{
	next->prev = n;
	n->next = next;
	n->prev = prev;
	prev->next = n;
}
static inline void list_add(struct list_head *n, struct list_head *h)
{
	__list_add(n, h, h->next);
}
static inline void list_add_tail(struct list_head *n, struct list_head *h)
{
	__list_add(n, h->prev, h);
}
static inline void list_del_init(struct list_head *e)
{
	e->next->prev = e->prev;
	e->prev->next = e->next;
	INIT_LIST_HEAD(e);
}
static inline void list_move_tail(struct list_head *e, struct list_head *h)
{
	list_del_init(e);
	list_add_tail(e, h);
}
static inline void list_splice_init(struct list_head *from, struct list_head *to)
{
	if (list_empty(from))
		return;
	from->next->prev = to->prev;
	to->prev->next = from->next;
	from->prev->next = to;
	to->prev = from->prev;
	INIT_LIST_HEAD(from);
}
#define list_entry(ptr, type, member)	container_of(ptr, type, member)
#define list_first_entry(h, type, member) list_entry((h)->next, type, member)
#define list_for_each_entry(pos, h, member)				\
	for (pos = list_entry((h)->next, __typeof__(*pos), member);	\
	     &pos->member != (h);					\
	     pos = list_entry(pos->member.next, __typeof__(*pos), member))
#define list_for_each_entry_safe(pos, n, h, member)			\
	for (pos = list_entry((h)->next, __typeof__(*pos), member),	\
	     n = list_entry(pos->member.next, __typeof__(*pos), member); \
	     &pos->member != (h);					\
	     pos = n, n = list_entry(n->member.next, __typeof__(*n), member))

/*
 * ---- xorshift64* ----
 *
 * Seeded pseudo-random numbers for the error injector's prob= rules and
 * the exercisers (fsx-lite, fsstress-lite): the same on every C library,
 * unlike random(), so a seed replays the same run anywhere.  @state must
 * not be 0 (it would stay 0).
 */
static inline uint64_t xorshift64s(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545F4914F6CDD1Dull;
}

/*
 * ---- atomic context ----
 *
 * The CQ reaper plays the hardware interrupt: it marks itself atomic with
 * atomic_ctx_enter() and every function that may sleep, take a task lock,
 * touch metadata or invalidate cache pages calls might_sleep() first.  In
 * debug builds (IOMAPFS_DEBUG_ATOMIC) a violation aborts, so tests prove
 * that deferred work never runs in the reaper; in release builds it counts
 * the violation in might_sleep_violations and goes on.
 */
extern _Thread_local int iomapfs_atomic_depth;
extern atomic_ulong might_sleep_violations;

static inline void atomic_ctx_enter(void) { iomapfs_atomic_depth++; }
static inline void atomic_ctx_exit(void) { iomapfs_atomic_depth--; }
/* True in the reaper: the analogue of !in_task(). */
static inline bool in_atomic_ctx(void) { return iomapfs_atomic_depth > 0; }
void __might_sleep(const char *file, int line, const char *func);
#define might_sleep() do {						\
	if (unlikely(in_atomic_ctx()))					\
		__might_sleep(__FILE__, __LINE__, __func__);		\
} while (0)

/* ---- allocation ----
 * kmalloc-style wrappers over jemalloc (or libc in sanitizer builds).
 * mem_arena_create() makes a dedicated jemalloc arena for hot objects that
 * are allocated in one thread and freed in another (bios, ioends); with
 * libc it returns 0 and the *_arena calls fall back to malloc/free.
 */
void *kmalloc(size_t size);
void *kzalloc(size_t size);
void *krealloc(void *p, size_t size);
void kfree(void *p);
unsigned mem_arena_create(void);
void *kmalloc_arena(size_t size, unsigned arena);
void *kzalloc_arena(size_t size, unsigned arena);
void kfree_arena(void *p, unsigned arena);

/* ---- whole-buffer file I/O (lib/io.c) ----
 * pread/pwrite all of @len bytes at @off, retrying short transfers and
 * EINTR.  0, or -errno; -EIO when the file ends (read) or a write makes no
 * progress before @len bytes.
 */
int full_pread(int fd, void *buf, size_t len, uint64_t off);
int full_pwrite(int fd, const void *buf, size_t len, uint64_t off);

/* Monotonic clock in nanoseconds. */
uint64_t ktime_get_ns(void);

/*
 * The decimal number at @s into *@out, *@endp where it stops (the caller
 * says what may follow it): -EINVAL with no digit, a sign or on overflow.
 * For the tools' arguments and the daemon's mount options alike.
 */
int parse_u64(const char *s, char **endp, uint64_t *out);
/* All of @s as a number, decimal, 0x hex or 0 octal, as strtoull base 0;
 * -EINVAL on a sign, junk after it or overflow (mkfs -J, inject specs). */
int parse_u64_arg(const char *s, uint64_t *out);

/* Name the calling thread (visible in top -H and /proc/PID/task/TID/comm). */
void thread_set_name(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* IOMAPFS_COMMON_H */
