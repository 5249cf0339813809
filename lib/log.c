// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iomapfs_log() and its outputs (include/iomapfs/lg.h): stderr, syslog
 * once detached, an optional log file, and the ring that carries messages
 * out of atomic context.
 *
 * The ring is a bounded multi-producer queue in the style of Dmitry
 * Vyukov's: each slot has a sequence number that says whose turn it is, so
 * a producer (the reaper, or any thread while the logger thread runs)
 * claims a position with one compare-and-swap and never waits; a full ring
 * drops the message and counts it.  The one consumer is whoever holds
 * lg.out_lock: the logger thread, or a task-context caller when there is
 * no logger thread.
 *
 * Slot sequence, with pos the producer position and i = pos % LOG_SLOTS,
 * stored as (sequence - i) so that a zeroed ring is ready without an init:
 *	sequence == pos		free for the producer of pos
 *	sequence == pos + 1	published, for the consumer at head == pos
 *	sequence == pos + N	consumed: free for the producer of pos + N
 *
 * Process-wide state: a process has one stderr and one syslog connection.
 */
#include <iomapfs/common.h>

#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#define LOG_SLOTS	256u		/* power of two */
#define LOG_MSG_MAX	256u
#define LOG_STALL_MS	1000		/* how long the logger waits on a stalled stderr */

struct log_slot {
	atomic_ulong	seq;		/* sequence - index, see above */
	int		level;
	struct timespec	when;
	char		msg[LOG_MSG_MAX];
};

static struct {
	struct log_slot	ring[LOG_SLOTS];
	atomic_ulong	tail;		/* next producer position */
	unsigned long	head;		/* next consumer position; under out_lock */
	/* Serializes draining and every write to the outputs. */
	pthread_mutex_t	out_lock;
	atomic_uint	wake;		/* futex word: bumped for the logger thread */
	atomic_bool	threaded;	/* the logger thread runs: everything queues */
	atomic_bool	stop;
	pthread_t	thread;
	atomic_ulong	dropped, warnings;
	bool		stderr_stalled;	/* under out_lock: skip the wait next time */
	bool		detached;	/* stderr is /dev/null: syslog instead */
	int		file_fd;	/* -1: no log file (set by the main thread) */
	int		max_level;
	char		ident[32];
} lg = {
	.out_lock = PTHREAD_MUTEX_INITIALIZER,
	.file_fd = -1,
	.max_level = IOMAPFS_LOG_INFO,
	.ident = "iomapfs",
};

static const char *level_name(int level)
{
	switch (level) {
	case IOMAPFS_LOG_ERR:		return "ERROR";
	case IOMAPFS_LOG_WARNING:	return "WARNING";
	case IOMAPFS_LOG_INFO:		return "INFO";
	default:			return "DEBUG";
	}
}

/* ---- the ring ---- */

/* Any context, never waits.  False if the ring is full (counted). */
static bool ring_put(int level, const char *fmt, va_list ap)
{
	unsigned long pos = atomic_load_explicit(&lg.tail, memory_order_relaxed);
	struct log_slot *s;

	for (;;) {
		unsigned long i = pos % LOG_SLOTS;
		long diff;

		s = &lg.ring[i];
		diff = (long)(atomic_load_explicit(&s->seq, memory_order_acquire) + i - pos);
		if (diff == 0) {
			if (atomic_compare_exchange_weak_explicit(&lg.tail, &pos, pos + 1,
					memory_order_relaxed, memory_order_relaxed))
				break;
		} else if (diff < 0) {
			atomic_fetch_add_explicit(&lg.dropped, 1, memory_order_relaxed);
			return false;
		} else {
			pos = atomic_load_explicit(&lg.tail, memory_order_relaxed);
		}
	}
	s->level = level;
	clock_gettime(CLOCK_REALTIME, &s->when);
	vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
	atomic_store_explicit(&s->seq, pos + 1 - pos % LOG_SLOTS, memory_order_release);
	return true;
}

/* Consumer, under out_lock: copy the oldest published message out. */
static bool ring_get_locked(struct log_slot *out)
{
	unsigned long pos = lg.head, i = pos % LOG_SLOTS;
	struct log_slot *s = &lg.ring[i];

	if (atomic_load_explicit(&s->seq, memory_order_acquire) + i != pos + 1)
		return false;
	out->level = s->level;
	out->when = s->when;
	memcpy(out->msg, s->msg, sizeof(out->msg));
	atomic_store_explicit(&s->seq, pos + LOG_SLOTS - i, memory_order_release);
	lg.head = pos + 1;
	return true;
}

/* ---- outputs, under out_lock ---- */

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= n;
	}
}

/*
 * The logger thread must not hang on a stderr pipe nobody reads (a daemon
 * under -f whose terminal froze): wait for room at most LOG_STALL_MS, and
 * not at all again until stderr has drained.  Direct callers just write.
 */
static bool stderr_writable_locked(void)
{
	struct pollfd p = { .fd = STDERR_FILENO, .events = POLLOUT };

	if (!atomic_load(&lg.threaded))
		return true;
	if (poll(&p, 1, lg.stderr_stalled ? 0 : LOG_STALL_MS) == 1 &&
	    (p.revents & POLLOUT)) {
		lg.stderr_stalled = false;
		return true;
	}
	lg.stderr_stalled = !(p.revents & (POLLERR | POLLHUP | POLLNVAL));
	atomic_fetch_add_explicit(&lg.dropped, 1, memory_order_relaxed);
	return false;
}

static void emit_file_locked(const struct log_slot *m)
{
	char line[LOG_MSG_MAX + 96], stamp[32];
	struct tm tm;
	int n;

	gmtime_r(&m->when.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%06ldZ %s[%d]: %s: %s\n", stamp,
		     m->when.tv_nsec / 1000, lg.ident, (int)getpid(),
		     level_name(m->level), m->msg);
	write_all(lg.file_fd, line, min_t(size_t, n, sizeof(line) - 1));
}

static void emit_locked(const struct log_slot *m)
{
	if (lg.file_fd >= 0)
		emit_file_locked(m);
	if (!lg.detached) {
		char line[LOG_MSG_MAX + 40];
		int n = snprintf(line, sizeof(line), "%s: %s\n", lg.ident, m->msg);

		if (stderr_writable_locked())
			write_all(STDERR_FILENO, line, min_t(size_t, n, sizeof(line) - 1));
	} else if (lg.file_fd < 0) {
		syslog(m->level, "%s", m->msg);
	}
}

static void drain_locked(void)
{
	struct log_slot m;

	while (ring_get_locked(&m))
		emit_locked(&m);
}

/* ---- the logging function ---- */

static void futex_wake_logger(void)
{
	atomic_fetch_add_explicit(&lg.wake, 1, memory_order_release);
	syscall(SYS_futex, &lg.wake, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void iomapfs_log(int level, const char *fmt, ...)
{
	struct log_slot m;
	va_list ap;

	if (level > lg.max_level)
		return;
	if (level <= IOMAPFS_LOG_WARNING)
		atomic_fetch_add_explicit(&lg.warnings, 1, memory_order_relaxed);
	va_start(ap, fmt);
	if (in_atomic_ctx() || atomic_load(&lg.threaded)) {
		if (ring_put(level, fmt, ap) && atomic_load(&lg.threaded))
			futex_wake_logger();
		va_end(ap);
		return;
	}
	m.level = level;
	clock_gettime(CLOCK_REALTIME, &m.when);
	vsnprintf(m.msg, sizeof(m.msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&lg.out_lock);
	drain_locked();		/* what the reaper queued comes first */
	emit_locked(&m);
	pthread_mutex_unlock(&lg.out_lock);
}

void iomapfs_log_flush(void)
{
	might_sleep();
	pthread_mutex_lock(&lg.out_lock);
	drain_locked();
	pthread_mutex_unlock(&lg.out_lock);
}

/* ---- the logger thread ---- */

static void *logger_fn(void *arg)
{
	thread_set_name("iomapfs-log");
	for (;;) {
		unsigned seen = atomic_load_explicit(&lg.wake, memory_order_acquire);
		struct timespec timeout = { .tv_sec = 1 };

		iomapfs_log_flush();
		if (atomic_load(&lg.stop))
			return NULL;
		syscall(SYS_futex, &lg.wake, FUTEX_WAIT_PRIVATE, seen, &timeout, NULL, 0);
	}
}

int iomapfs_log_start(void)
{
	int err;

	atomic_store(&lg.stop, false);
	atomic_store(&lg.threaded, true);
	err = pthread_create(&lg.thread, NULL, logger_fn, NULL);
	if (err) {
		atomic_store(&lg.threaded, false);
		return -err;
	}
	return 0;
}

void iomapfs_log_stop(void)
{
	if (!atomic_load(&lg.threaded))
		return;
	atomic_store(&lg.stop, true);
	futex_wake_logger();
	pthread_join(lg.thread, NULL);
	atomic_store(&lg.threaded, false);
	iomapfs_log_flush();	/* anything queued after the thread's last pass */
}

/* ---- configuration ---- */

void iomapfs_log_set_ident(const char *ident)
{
	snprintf(lg.ident, sizeof(lg.ident), "%s", ident);
}

void iomapfs_log_set_level(int level)
{
	lg.max_level = level;
}

int iomapfs_log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&lg.out_lock);
	if (lg.file_fd >= 0)
		close(lg.file_fd);
	lg.file_fd = fd;
	pthread_mutex_unlock(&lg.out_lock);
	return 0;
}

void iomapfs_log_detach(void)
{
	pthread_mutex_lock(&lg.out_lock);
	drain_locked();		/* the last messages the terminal can see */
	lg.detached = true;
	if (lg.file_fd < 0)
		openlog(lg.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	pthread_mutex_unlock(&lg.out_lock);
}

uint64_t iomapfs_log_dropped(void)
{
	return atomic_load_explicit(&lg.dropped, memory_order_relaxed);
}

uint64_t iomapfs_log_warnings(void)
{
	return atomic_load_explicit(&lg.warnings, memory_order_relaxed);
}
