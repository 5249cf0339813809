/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one logging function of the daemon, the libraries and the tools
 * (erofs-utils' erofs_err/erofs_info, the kernel's printk levels).
 *
 * Where a message goes:
 *   - stderr as "IDENT: message" while the process is attached to its
 *     terminal (tools, a daemon in the foreground or before it detached);
 *   - once the daemon has detached (iomapfs_log_detach()): syslog, facility
 *     LOG_DAEMON, ident "iomapfs", with the pid;
 *   - and, in both cases, the log file given with iomapfs_log_open_file()
 *     (the daemon's -o logfile=PATH), one line per message:
 *     "2026-01-31T12:00:00.123456Z iomapfs[PID]: LEVEL: message", where
 *     LEVEL is ERROR, WARNING, INFO or DEBUG.  A detached daemon with a log
 *     file does not also use syslog.  Test harnesses read this file and
 *     fail a test whose daemon logged a WARNING or an ERROR.
 *
 * Never blocking where it must not: a message logged in atomic context
 * (the CQ reaper, in_atomic_ctx()) is formatted into a small lock-free
 * ring and written later by a task context: the logger thread when one runs
 * (iomapfs_log_start()), else the next task-context message or
 * iomapfs_log_flush().  While the logger thread runs, every message goes
 * through the ring, so a stalled stderr pipe or syslog socket delays only
 * that thread; a full ring drops the message and counts it
 * (iomapfs_log_dropped()).  Without the logger thread (tools, unit tests)
 * task-context messages are written at once, in order after the ring.
 */
#ifndef IOMAPFS_LOG_H
#define IOMAPFS_LOG_H

#include <stdint.h>

/* The syslog(3) priorities, so that levels pass to syslog unchanged. */
enum iomapfs_log_level {
	IOMAPFS_LOG_ERR		= 3,
	IOMAPFS_LOG_WARNING	= 4,
	IOMAPFS_LOG_INFO	= 6,
	IOMAPFS_LOG_DEBUG	= 7,
};

/* Any thread, any context.  A trailing newline in @fmt is not needed. */
void iomapfs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define iomapfs_err(fmt, ...)	iomapfs_log(IOMAPFS_LOG_ERR, fmt, ##__VA_ARGS__)
#define iomapfs_warn(fmt, ...)	iomapfs_log(IOMAPFS_LOG_WARNING, fmt, ##__VA_ARGS__)
#define iomapfs_info(fmt, ...)	iomapfs_log(IOMAPFS_LOG_INFO, fmt, ##__VA_ARGS__)
#define iomapfs_debug(fmt, ...)	iomapfs_log(IOMAPFS_LOG_DEBUG, fmt, ##__VA_ARGS__)

/*
 * Configuration, from the main thread before other threads log: the ident
 * (default "iomapfs"; mkfs and fsck use their own names) and the most
 * verbose level written (default INFO; the daemon's -d sets DEBUG).
 */
void iomapfs_log_set_ident(const char *ident);
void iomapfs_log_set_level(int level);
/* Append every message to @path as well.  0 or -errno. */
int iomapfs_log_open_file(const char *path);
/* The daemon detached from its terminal: stderr is /dev/null from now on. */
void iomapfs_log_detach(void);

/*
 * The logger thread ("iomapfs-log"), started by the daemon after it forked;
 * stop writes what is left (waiting at most a second for a stalled
 * stderr) and joins it.  Task context.  Start returns 0 or -errno.
 */
int iomapfs_log_start(void);
void iomapfs_log_stop(void);
/* Task context: write every message queued so far.  Not from the reaper. */
void iomapfs_log_flush(void);

/* Messages dropped because the ring was full or the output stalled. */
uint64_t iomapfs_log_dropped(void);
/* Messages of level WARNING or more severe, logged since start. */
uint64_t iomapfs_log_warnings(void);

#endif /* IOMAPFS_LOG_H */
