// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's main: parse the options, mount the filesystem on the device,
 * mount the FUSE session, go to the background, serve requests with the
 * multithreaded loop, and on unmount or SIGTERM write everything back.
 *
 * Going to the background: the filesystem must be mounted before the shell
 * gets its prompt back, so that a corrupt or foreign image, a device in use
 * or a missing file gives a message and a non-zero exit.  libfuse's
 * fuse_daemonize() cannot be used after fs_mount(): it forks, and the
 * child would lose the reaper, worker, flusher and journal threads that
 * fs_mount() started.  So we fork first (daemon_fork), the child does all
 * the work while still attached to the terminal's stderr, and the parent
 * waits on a pipe for the child's verdict and exits with it -- the same
 * handshake fuse_daemonize() does internally, moved before the mount.
 *
 * Messages (iomapfs_log): on the terminal's stderr until the child has
 * mounted, then to syslog (LOG_DAEMON) or to -o logfile=PATH; with -f they
 * stay on stderr.  The logger thread, started in the child, writes them, so
 * that no daemon thread ever blocks on a stalled stderr or syslog.
 *
 * Threads: main thread only; the FUSE request threads are libfuse's.
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ops.h"

#define IOMAPFS_DAEMON_VERSION	"0.1"

/*
 * Fork into the background before anything else starts threads.  The
 * parent never returns: it exits with the status the child reports through
 * the pipe (1 if the child died without reporting).  The child returns the
 * pipe's write end.
 */
static int daemon_fork(void)
{
	int fds[2];
	char status = 1;
	pid_t pid;

	if (pipe(fds)) {
		iomapfs_err("pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		iomapfs_err("fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(fds[0]);
	if (setsid() < 0)
		iomapfs_err("setsid: %s", strerror(errno));
	return fds[1];
}

/* The child is mounted: detach from the terminal and release the parent. */
static void daemon_ready(int ready_fd, char status)
{
	int nullfd;

	if (ready_fd < 0)
		return;
	if (!status) {
		iomapfs_log_detach();
		if (chdir("/"))
			iomapfs_err("chdir: %s", strerror(errno));
		nullfd = open("/dev/null", O_RDWR);
		if (nullfd >= 0) {
			dup2(nullfd, STDIN_FILENO);
			dup2(nullfd, STDOUT_FILENO);
			dup2(nullfd, STDERR_FILENO);
			if (nullfd > STDERR_FILENO)
				close(nullfd);
		}
	}
	if (write(ready_fd, &status, 1) != 1)
		iomapfs_err("notify parent: %s", strerror(errno));
	close(ready_fd);
}

static struct fuse_session *session_create(const struct daemon_opts *o,
					   struct iomapfs_daemon *d)
{
	char *argv[5] = { "iomapfs", "-o", o->fuse_opts };
	struct fuse_session *se;
	struct fuse_args args;
	int argc = 3;

	if (o->debug)
		argv[argc++] = "-d";
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	se = fuse_session_new(&args, &iomapfs_ll_ops, sizeof(iomapfs_ll_ops), d);
	fuse_opt_free_args(&args);	/* libfuse may have copied argv */
	return se;
}

static int session_loop(struct fuse_session *se, const struct daemon_opts *o)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	unsigned idle = o->max_idle_threads;
	int ret;

	/*
	 * libfuse starts a thread whenever every request thread is busy and
	 * ends one whenever more than max_idle_threads are idle.  Under a
	 * steady load of a few jobs both happen on every burst (a limit of 4
	 * made ~850 threads per 10 s on 2 CPUs): keep every thread it may
	 * start, so a steady load reuses them.
	 */
	if (!idle)
		idle = o->max_threads ? o->max_threads : DAEMON_DEF_IDLE_THREADS;
	fuse_loop_cfg_set_clone_fd(cfg, 1);
	fuse_loop_cfg_set_idle_threads(cfg, idle);
	if (o->max_threads)
		fuse_loop_cfg_set_max_threads(cfg, o->max_threads);
	ret = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return ret;
}

/* Everything after the fork: 0 on a clean unmount, else 1. */
static int run(const struct daemon_opts *o, int ready_fd)
{
	struct iomapfs_daemon d = {
		.dontcache_all = o->fs.cache.dontcache_all,
		/* strictatime: every readdir must reach us to move atime */
		.cache_readdir = o->fs.atime != FS_ATIME_STRICT,
		.attr_timeout = o->attr_timeout,
		.entry_timeout = o->entry_timeout,
		.negative_timeout = o->negative_timeout,
		.kernel_cache = o->kernel_cache,
		.strictatime = o->fs.atime == FS_ATIME_STRICT,
	};
	struct fuse_session *se;
	int err, ret = 1;

	err = iomapfs_log_start();
	if (err) {
		iomapfs_err("cannot start the logger thread: %s", strerror(-err));
		goto out_notify;
	}
	err = fs_mount(o->device, &o->fs, &d.fs);
	if (err) {
		iomapfs_err("cannot mount %s: %s", o->device, strerror(-err));
		goto out_notify;
	}
	se = session_create(o, &d);
	if (!se) {
		iomapfs_err("bad FUSE options: %s", o->fuse_opts);
		goto out_fs;
	}
	d.se = se;
	if (fuse_set_signal_handlers(se))
		goto out_session;
	if (fuse_session_mount(se, o->mountpoint)) {
		iomapfs_err("cannot mount on %s", o->mountpoint);
		goto out_signals;
	}
	err = init_shim_install(se);
	if (err) {
		fprintf(stderr, "iomapfs: cannot install the FUSE transport: %s\n",
			strerror(-err));
		goto out_unmount;
	}
	err = notifier_start(&d);
	if (err) {
		iomapfs_err("cannot start the notifier thread: %s", strerror(-err));
		goto out_unmount;
	}
	daemon_ready(ready_fd, 0);
	ready_fd = -1;
	/* > 0: the signal that ended the loop (SIGTERM, SIGINT): a normal end. */
	ret = session_loop(se, o) < 0 ? 1 : 0;
	notifier_stop(&d);
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_fs:
	/* Writes everything back: unmount, SIGTERM and a failed start alike. */
	err = fs_unmount(d.fs);
	if (err) {
		iomapfs_err("unmount of %s failed: %s", o->device,
			strerror(-err));
		ret = 1;
	}
out_notify:
	iomapfs_log_stop();	/* the parent's terminal sees every message */
	daemon_ready(ready_fd, 1);
	return ret;
}

int main(int argc, char **argv)
{
	struct daemon_opts o;
	int ready_fd = -1, ret;

	if (daemon_parse_args(argc, argv, &o)) {
		iomapfs_err("Try '%s --help'.", argv[0]);
		daemon_opts_free(&o);
		return 1;
	}
	if (o.help || o.version) {
		if (o.help)
			daemon_usage(stdout, argv[0]);
		else
			printf("iomapfs %s\n", IOMAPFS_DAEMON_VERSION);
		daemon_opts_free(&o);
		return 0;
	}
	if (o.debug)
		iomapfs_log_set_level(IOMAPFS_LOG_DEBUG);
	if (o.logfile) {
		ret = iomapfs_log_open_file(o.logfile);
		if (ret) {
			iomapfs_err("cannot open log file %s: %s", o.logfile, strerror(-ret));
			daemon_opts_free(&o);
			return 1;
		}
	}
	if (!o.foreground) {
		ready_fd = daemon_fork();
		if (ready_fd < 0)
			return 1;
	}
	ret = run(&o, ready_fd);
	daemon_opts_free(&o);
	return ret;
}
