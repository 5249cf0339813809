// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The notifier: one thread that sends the kernel's page-cache
 * invalidations, so that no FUSE request thread ever waits for the
 * kernel's page cache.
 *
 * FUSE_NOTIFY_INVAL_INODE with a range is served by the kernel in the
 * writing thread (fuse_reverse_inval_inode): it locks every cached folio
 * of the range, waits for its writeback, and writes a dirty one (a store
 * into a shared mapping) back first (launder_folio), which is a FUSE_WRITE
 * that a request thread of ours must serve before the invalidation
 * returns.  A request thread that sends one therefore waits for another
 * request thread; with every thread but one busy, or with max_threads=1,
 * nobody serves the WRITE and the mount hangs for good (the thread sits in
 * folio_wait_bit, uninterruptible).  Inside a request it is worse: the
 * kernel may hold a folio lock for the very request being answered (the
 * partial last folio of a write) and the invalidation waits for it.
 *
 * So request threads queue invalidations here and return at once; this
 * thread sends them in order.  It may block in the kernel for as long as a
 * laundered page takes: the WRITE goes to a request thread, which never
 * waits for this one.  Invariants:
 *
 *   1. No request thread waits for the notifier.  A reply that must follow
 *      the invalidations (FS_IOC_SHUTDOWN's) is itself queued with
 *      notifier_call() and sent from here, not waited for.
 *   2. Items run in queue order: a call runs after every invalidation
 *      queued before it.  A new invalidation of an inode that already has
 *      one queued widens that one (it is sent earlier, never later), so
 *      the queue holds at most one invalidation per inode.
 *   3. Whoever queues holds no lock that a FUSE WRITE needs; the notifier
 *      holds none of ours while it sends.
 *
 * Without -o kernel_cache no page invalidation is ever sent and no
 * notifier runs: notifier_call() then runs its function at once.
 * Attribute-only invalidations (ops_notify.c) never wait for a page or a
 * request and are still sent synchronously by request threads.
 *
 * Threads: notifier_inval/notifier_call from FUSE request threads;
 * notifier_start/stop from main.c; notifier_fn is `iomapfs-notify`.
 */
#include <string.h>
#include "ops.h"

struct notify_item {
	struct notify_item	*next;
	uint64_t		ino, off, end;	/* inval [off, end); KC_TO_END */
	void			(*fn)(void *arg);	/* a call, if set */
	void			*arg;
};

/* Lock order: notifier.lock is a leaf; it is never held while sending. */
struct notifier {
	pthread_mutex_t		lock;
	pthread_cond_t		wake;		/* work queued, or stop */
	struct notify_item	*head, **tail;	/* under lock */
	bool			stop;		/* under lock */
	pthread_t		thread;
	struct iomapfs_daemon	*d;
};

/* [@off, @off + @len) as [off, end), with KC_TO_END for "to the end". */
static uint64_t range_end(uint64_t off, uint64_t len)
{
	return len == KC_TO_END || len > KC_TO_END - off ? KC_TO_END : off + len;
}

static void notify_send(struct iomapfs_daemon *d, const struct notify_item *it)
{
	/* len 0: to the end of the file. */
	off_t len = it->end == KC_TO_END || it->end - it->off > INT64_MAX ?
		    0 : (off_t)(it->end - it->off);
	int err;

	if (it->off > INT64_MAX)
		return;
	err = fuse_lowlevel_notify_inval_inode(d->se, it->ino, (off_t)it->off, len);
	/* -ENOENT: the kernel forgot the inode, and its pages with it;
	 * -ENODEV, -ENOTCONN: the mount is gone. */
	if (err && err != -ENOENT && err != -ENODEV && err != -ENOTCONN)
		iomapfs_debug("invalidating pages of inode %llu: %s",
			      (unsigned long long)it->ino, strerror(-err));
	atomic_fetch_add_explicit(&d->kc_invals_sent, 1, memory_order_relaxed);
}

static void *notifier_fn(void *arg)
{
	struct notifier *n = arg;
	struct notify_item *it;

	thread_set_name("iomapfs-notify");
	pthread_mutex_lock(&n->lock);
	for (;;) {
		while (!n->head && !n->stop)
			pthread_cond_wait(&n->wake, &n->lock);
		it = n->head;
		if (!it)
			break;	/* stopping, and everything is sent */
		n->head = it->next;
		if (!n->head)
			n->tail = &n->head;
		pthread_mutex_unlock(&n->lock);
		if (it->fn)
			it->fn(it->arg);
		else
			notify_send(n->d, it);
		kfree(it);
		pthread_mutex_lock(&n->lock);
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

int notifier_start(struct iomapfs_daemon *d)
{
	struct notifier *n;
	int err;

	if (!d->kernel_cache)
		return 0;	/* no page invalidation to send */
	n = kzalloc(sizeof(*n));
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->wake, NULL);
	n->tail = &n->head;
	n->d = d;
	err = -pthread_create(&n->thread, NULL, notifier_fn, n);
	if (err) {
		pthread_cond_destroy(&n->wake);
		pthread_mutex_destroy(&n->lock);
		kfree(n);
		return err;
	}
	d->notifier = n;
	return 0;
}

/*
 * Once the request threads are gone: run what is queued (a queued call
 * owes a reply) and end the thread.  An invalidation that launders a dirty
 * page after the session loop ended waits for a WRITE that nobody serves
 * any more; that only happens on a signal-ended loop with a store into a
 * shared mapping in flight, and is the one way stopping can block.
 */
void notifier_stop(struct iomapfs_daemon *d)
{
	struct notifier *n = d->notifier;

	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	n->stop = true;
	pthread_cond_signal(&n->wake);
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->thread, NULL);
	d->notifier = NULL;
	pthread_cond_destroy(&n->wake);
	pthread_mutex_destroy(&n->lock);
	kfree(n);
}

/* Under n->lock: the queued invalidation of @ino, if any (invariant 2). */
static struct notify_item *queued_inval(struct notifier *n, uint64_t ino)
{
	for (struct notify_item *it = n->head; it; it = it->next)
		if (!it->fn && it->ino == ino)
			return it;
	return NULL;
}

static void notifier_queue(struct notifier *n, struct notify_item *it)
{
	it->next = NULL;
	*n->tail = it;
	n->tail = &it->next;
	pthread_cond_signal(&n->wake);
}

void notifier_inval(struct iomapfs_daemon *d, uint64_t ino, uint64_t off, uint64_t len)
{
	struct notifier *n = d->notifier;
	struct notify_item *it, *fresh;

	if (!n)
		return;
	fresh = kzalloc(sizeof(*fresh));
	fresh->ino = ino;
	fresh->off = off;
	fresh->end = range_end(off, len);
	pthread_mutex_lock(&n->lock);
	it = queued_inval(n, ino);
	if (it) {	/* widen the queued one to cover both */
		it->off = min_t(uint64_t, it->off, fresh->off);
		it->end = max_t(uint64_t, it->end, fresh->end);
	} else {
		notifier_queue(n, fresh);
		fresh = NULL;
	}
	pthread_mutex_unlock(&n->lock);
	kfree(fresh);
}

void notifier_call(struct iomapfs_daemon *d, void (*fn)(void *arg), void *arg)
{
	struct notifier *n = d->notifier;
	struct notify_item *it;

	if (!n)
		return fn(arg);	/* nothing queued that it must follow */
	it = kzalloc(sizeof(*it));
	it->fn = fn;
	it->arg = arg;
	pthread_mutex_lock(&n->lock);
	notifier_queue(n, it);
	pthread_mutex_unlock(&n->lock);
}
