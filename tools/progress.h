/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One progress line on standard error for mkfs.iomapfs and fsck.iomapfs,
 * only when standard error is a terminal and -q was not given.
 */
#ifndef IOMAPFS_TOOLS_PROGRESS_H
#define IOMAPFS_TOOLS_PROGRESS_H

#include <iomapfs/progress.h>
#include <stdbool.h>

struct term_progress {
	const char	*prog;		/* "mkfs.iomapfs" */
	bool		on;		/* a terminal, not -q */
	bool		drawn;		/* a line is on screen: end it with \n */
	uint64_t	last_ns;
	const char	*last_phase;
};

/* Fill @p so that library reports reach @tp; @quiet: -q. */
void term_progress_init(struct term_progress *tp, struct progress *p,
			const char *prog, bool quiet);
/* End the progress line, if one was drawn. */
void term_progress_done(struct term_progress *tp);

#endif /* IOMAPFS_TOOLS_PROGRESS_H */
