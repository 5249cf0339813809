// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The terminal side of struct progress: redraw "prog: phase 42%" (or a
 * count when the total is unknown) in place with \r, at most ten times a
 * second, but always at a phase's start and end so short runs still show
 * their phases.  Nothing at all when standard error is not a terminal
 * (logs and scripts get no control characters) or with -q.
 */
#include <stdio.h>
#include <unistd.h>
#include <iomapfs/common.h>
#include "progress.h"

#define REDRAW_NS	100000000ull	/* 0.1 s */

static void term_progress_fn(void *ctx, const char *phase, uint64_t done, uint64_t total)
{
	struct term_progress *tp = ctx;
	uint64_t now = ktime_get_ns();
	bool edge;

	if (!phase) {		/* the library prints: get out of its way */
		term_progress_done(tp);
		tp->last_phase = NULL;
		return;
	}
	edge = phase != tp->last_phase || done == 0 || (total && done >= total);

	if (!edge && now - tp->last_ns < REDRAW_NS)
		return;
	tp->last_ns = now;
	tp->last_phase = phase;
	if (total)
		fprintf(stderr, "\r\033[K%s: %s %3u%%", tp->prog, phase,
			(unsigned)(done * 100 / total));
	else if (!done)
		fprintf(stderr, "\r\033[K%s: %s", tp->prog, phase);
	else
		fprintf(stderr, "\r\033[K%s: %s %llu", tp->prog, phase,
			(unsigned long long)done);
	fflush(stderr);
	tp->drawn = true;
}

void term_progress_init(struct term_progress *tp, struct progress *p,
			const char *prog, bool quiet)
{
	*tp = (struct term_progress){ .prog = prog, .on = !quiet && isatty(STDERR_FILENO) };
	p->fn = tp->on ? term_progress_fn : NULL;
	p->ctx = tp;
}

void term_progress_done(struct term_progress *tp)
{
	if (tp->drawn)
		fputs("\r\033[K", stderr);
	tp->drawn = false;
}
