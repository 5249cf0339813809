// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The helpers declared in include/iomapfs/common.h: the reaper's atomic
 * flag and might_sleep(), allocation wrappers over jemalloc (libc in
 * sanitizer builds), the clock and thread names.
 */
#include <iomapfs/common.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef IOMAPFS_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

_Thread_local int iomapfs_atomic_depth;
atomic_ulong might_sleep_violations;

void __might_sleep(const char *file, int line, const char *func)
{
	atomic_fetch_add(&might_sleep_violations, 1);
	iomapfs_err("BUG: sleeping function %s (%s:%d) called from the reaper",
		    func, file, line);
#ifdef IOMAPFS_DEBUG_ATOMIC
	/* The message above waits in the log ring: say it before dying. */
	dprintf(STDERR_FILENO, "iomapfs: BUG: sleeping function %s (%s:%d) called from the reaper\n",
		func, file, line);
	abort();
#endif
}

void iomapfs_bug(const char *file, int line, const char *func, const char *cond)
{
	iomapfs_err("BUG at %s:%d %s: %s", file, line, func, cond);
#ifdef IOMAPFS_DEBUG_ATOMIC
	dprintf(STDERR_FILENO, "iomapfs: BUG at %s:%d %s: %s\n", file, line, func, cond);
	abort();
#endif
}

static void *oom(size_t size)
{
	/* Printed directly: the process ends here, whatever the context. */
	dprintf(STDERR_FILENO, "iomapfs: out of memory allocating %zu bytes\n", size);
	abort();
}

void *kmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	return p ? p : oom(size);
}

void *kzalloc(size_t size)
{
	void *p = calloc(1, size ? size : 1);

	return p ? p : oom(size);
}

void *krealloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);

	return q ? q : oom(size);
}

void kfree(void *p)
{
	free(p);
}

#ifdef IOMAPFS_JEMALLOC
unsigned mem_arena_create(void)
{
	unsigned arena = 0;
	size_t sz = sizeof(arena);

	if (mallctl("arenas.create", &arena, &sz, NULL, 0))
		return 0;
	return arena;
}

void *kmalloc_arena(size_t size, unsigned arena)
{
	void *p = arena ? mallocx(size ? size : 1, MALLOCX_ARENA(arena)) : malloc(size ? size : 1);

	return p ? p : oom(size);
}

void *kzalloc_arena(size_t size, unsigned arena)
{
	void *p = arena ? mallocx(size ? size : 1, MALLOCX_ARENA(arena) | MALLOCX_ZERO)
			: calloc(1, size ? size : 1);

	return p ? p : oom(size);
}

void kfree_arena(void *p, unsigned arena)
{
	if (p && arena)
		dallocx(p, MALLOCX_ARENA(arena));
	else
		free(p);
}
#else
unsigned mem_arena_create(void) { return 0; }
void *kmalloc_arena(size_t size, unsigned arena) { return kmalloc(size); }
void *kzalloc_arena(size_t size, unsigned arena) { return kzalloc(size); }
void kfree_arena(void *p, unsigned arena) { free(p); }
#endif

static int parse_base(const char *s, char **endp, int base, uint64_t *out)
{
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, endp, base);
	if (errno)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_u64(const char *s, char **endp, uint64_t *out)
{
	return parse_base(s, endp, 10, out);
}

int parse_u64_arg(const char *s, uint64_t *out)
{
	uint64_t v;
	char *end;

	if (parse_base(s, &end, 0, &v) || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

uint64_t ktime_get_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void thread_set_name(const char *fmt, ...)
{
	char name[16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	pthread_setname_np(pthread_self(), name);
}
