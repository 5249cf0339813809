/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Progress reports from long library operations (mkfs, fsck) to the tool
 * that runs them.  The library says what it is doing and how far it got;
 * the tool decides whether and how to show it (tools/progress.c draws one
 * line on a terminal and stays silent otherwise).
 */
#ifndef IOMAPFS_PROGRESS_H
#define IOMAPFS_PROGRESS_H

#include <stdint.h>

struct progress {
	/*
	 * Optional.  Called in the caller's thread with @done out of @total
	 * units of @phase; @total 0 means unknown.  Called at the start of a
	 * phase (done 0), now and then during it, and at its end (done ==
	 * total) when @total is known.  @phase NULL: the library is about
	 * to print to the terminal; take any progress line off it first.
	 */
	void	(*fn)(void *ctx, const char *phase, uint64_t done, uint64_t total);
	void	*ctx;
};

/* Before printing a message: clear the progress line. */
static inline void progress_clear(const struct progress *p)
{
	if (p && p->fn)
		p->fn(p->ctx, NULL, 0, 0);
}

static inline void progress_report(const struct progress *p, const char *phase,
				   uint64_t done, uint64_t total)
{
	if (p && p->fn)
		p->fn(p->ctx, phase, done, total);
}

#endif /* IOMAPFS_PROGRESS_H */
