#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""ENOSPC torture: concurrent writers, xattr churn and create/unlink churn
on a small filesystem until it is full, keeping a shadow copy of every byte
that write() accepted.

  enospc-torture.py run DIR STATE SEED SECONDS   fill DIR, fsync all, save STATE
  enospc-torture.py check DIR STATE             after a remount: compare

The invariant checked: every byte that write() accepted is on disk after
the remount, unless fsync on that file reported an error (then the file is
counted apart); and no fsync reports ENOSPC, since a write() that returned
success must find its space at writeback.  Writers stop after SECONDS, or once each has met ENOSPC
often enough that the filesystem is certainly full.  Output: the lines
the golden file expects on stdout, figures on stderr.
"""
import errno, hashlib, json, os, random, sys, threading, time, traceback

BASE = bytes(((i * 131) ^ (i >> 8) ^ (i >> 13)) & 0xff for i in range(65536))
EXT = BASE * 6                      # any slice of up to 256 KiB + 64 KiB


def data_for(tag, off, n):
    s = (off + tag * 4099) % 65536
    return EXT[s:s + n]


class Shadow:
    """Expected contents of every file: name -> bytearray, error flags."""

    def __init__(self):
        self.lock = threading.Lock()
        self.files, self.fsync_err = {}, set()

    def wrote(self, name, off, data):
        with self.lock:
            b = self.files.setdefault(name, bytearray())
            if len(b) < off:
                b.extend(bytes(off - len(b)))
            b[off:off + len(data)] = data

    def created(self, name):
        with self.lock:
            self.files[name] = bytearray()

    def gone(self, name):
        with self.lock:
            self.files.pop(name, None)
            self.fsync_err.discard(name)


class Worker(threading.Thread):
    def __init__(self, d, sh, seed, stop, stats):
        super().__init__(daemon=True)
        self.d, self.sh, self.rng, self.stop, self.st = d, sh, random.Random(seed), stop, stats
        self.enospc = 0

    def run(self):
        try:
            self.body()
        except Exception:
            self.st["unexpected"] = self.st.get("unexpected", 0) + 1
            traceback.print_exc()

    def count(self, what):
        self.st[what] = self.st.get(what, 0) + 1

    def path(self, name):
        return os.path.join(self.d, name)


class Writer(Worker):
    """Appends and overwrites its files, fsyncs now and then, starts new
    files and deletes old (closed) ones."""

    def __init__(self, idx, *a):
        super().__init__(*a)
        self.idx, self.gen, self.old, self.fd, self.name = idx, 0, [], None, None

    def new_file(self):
        name = "w%d.%d" % (self.idx, self.gen + 1)
        try:
            fd = os.open(self.path(name), os.O_CREAT | os.O_RDWR, 0o644)
        except OSError as x:
            if x.errno != errno.ENOSPC or self.fd is None:
                raise
            self.count("create_ENOSPC")
            return                      # go on with the current file
        if self.fd is not None:
            self.fsync()
            os.close(self.fd)
            self.old.append(self.name)
        self.gen += 1
        self.name, self.fd = name, fd
        self.sh.created(self.name)

    def fsync(self):
        try:
            os.fsync(self.fd)
        except OSError as x:
            self.count("fsync_" + errno.errorcode[x.errno])
            with self.sh.lock:
                self.sh.fsync_err.add(self.name)

    def write(self):
        size = len(self.sh.files[self.name])
        n = self.rng.choice([4096, 16384, 65536, 262144, 1000, 5000])
        off = size if self.rng.random() < 0.7 else self.rng.randrange(size + 1)
        data = data_for(self.idx * 1000 + self.gen, off, n)
        try:
            got = os.pwrite(self.fd, data, off)
        except OSError as x:
            if x.errno != errno.ENOSPC:
                raise
            self.enospc += 1
            self.count("write_ENOSPC")
            return
        self.sh.wrote(self.name, off, data[:got])
        self.count("write")

    def body(self):
        self.new_file()
        while not self.stop.is_set():
            r = self.rng.random()
            if r < 0.84:
                self.write()
            elif r < 0.85:
                self.fsync()
            elif r < 0.9 or len(self.sh.files[self.name]) > (4 << 20):
                self.new_file()
            elif self.old:
                name = self.old.pop(self.rng.randrange(len(self.old)))
                os.unlink(self.path(name))
                self.sh.gone(name)
                self.count("unlink")
        self.fsync()
        os.close(self.fd)


class XattrChurn(Worker):
    """Large xattrs on its own files until ENOSPC; removes some."""

    def __init__(self, tag, *a):
        super().__init__(*a)
        self.tag = tag

    def body(self):
        names, k = [], 0
        while not self.stop.is_set():
            try:
                if not names or self.rng.random() < 0.05:
                    name = "x%d.%d" % (self.tag, len(names))
                    open(self.path(name), "w").close()
                    names.append(name)
                    continue
                f = self.path(self.rng.choice(names))
                if self.rng.random() < 0.25:
                    attrs = os.listxattr(f)
                    if attrs:
                        os.removexattr(f, self.rng.choice(attrs))
                        self.count("removexattr")
                    continue
                k += 1
                os.setxattr(f, "user.t%d" % k, b"\x5a" * self.rng.choice([2048, 16384, 65536, 65536]))
                self.count("setxattr")
            except OSError as x:
                if x.errno not in (errno.ENOSPC, errno.E2BIG, errno.ERANGE):
                    raise
                self.enospc += 1
                self.count("setxattr_" + errno.errorcode[x.errno])


class CreateChurn(Worker):
    """Small files created, written and closed, and unlinked at random."""

    def body(self):
        live, n = [], 0
        while not self.stop.is_set():
            if live and self.rng.random() < 0.4:
                name = live.pop(self.rng.randrange(len(live)))
                os.unlink(self.path(name))
                self.sh.gone(name)
                self.count("unlink")
                continue
            n += 1
            name = "c%d" % n
            try:
                fd = os.open(self.path(name), os.O_CREAT | os.O_WRONLY, 0o644)
            except OSError as x:
                if x.errno != errno.ENOSPC:
                    raise
                self.enospc += 1
                self.count("create_ENOSPC")
                continue
            self.sh.created(name)
            live.append(name)
            data = data_for(n, 0, self.rng.choice([0, 100, 4096, 12288]))
            try:
                got = os.write(fd, data)
                self.sh.wrote(name, 0, data[:got])
                self.count("create")
            except OSError as x:
                if x.errno != errno.ENOSPC:
                    raise
                self.enospc += 1
                self.count("create_write_ENOSPC")
            os.close(fd)


def run(d, state, seed, seconds):
    sh, stop, stats = Shadow(), threading.Event(), {}
    writers = [Writer(i, d, sh, seed * 100 + i, stop, stats) for i in range(3)]
    churn = [XattrChurn(0, d, sh, seed * 100 + 10, stop, stats),
             XattrChurn(1, d, sh, seed * 100 + 12, stop, stats),
             CreateChurn(d, sh, seed * 100 + 11, stop, stats)]
    for t in writers + churn:
        t.start()
    end = time.monotonic() + seconds
    # Run until the time is up, but at least until every writer met ENOSPC.
    while time.monotonic() < end or min(w.enospc for w in writers) < 1:
        if not all(t.is_alive() for t in writers + churn):
            break
        if time.monotonic() > end + 10 * seconds:
            break
        time.sleep(0.1)
    stop.set()
    for t in writers + churn:
        t.join()
    # Quiesce: fsync every file, so nothing is left reserved or dirty.
    for name in list(sh.files):
        fd = os.open(os.path.join(d, name), os.O_RDONLY)
        try:
            os.fsync(fd)
        except OSError as x:
            stats["fsync_" + errno.errorcode[x.errno]] = stats.get("fsync_" + errno.errorcode[x.errno], 0) + 1
            sh.fsync_err.add(name)
        os.close(fd)
    out = {"files": {n: {"len": len(b), "sha": hashlib.sha256(b).hexdigest()}
                     for n, b in sh.files.items()},
           "fsync_err": sorted(sh.fsync_err), "stats": stats,
           "full": all(w.enospc > 0 for w in writers)}
    json.dump(out, open(state, "w"))
    print("seed %d: %s" % (seed, json.dumps(stats, sort_keys=True)), file=sys.stderr)
    print("filesystem filled:", out["full"])
    print("no unexpected error:", "unexpected" not in stats)
    # fsync may report an I/O error, but ENOSPC means that a write() which
    # returned success found no space at writeback: a broken promise.
    print("no fsync failed with ENOSPC:", "fsync_ENOSPC" not in stats)


def check(d, state):
    st = json.load(open(state))
    bad = []
    for name, f in st["files"].items():
        if name in st["fsync_err"]:
            continue
        try:
            got = open(os.path.join(d, name), "rb").read()
        except OSError as x:
            bad.append("%s: %s" % (name, errno.errorcode[x.errno]))
            continue
        if len(got) != f["len"] or hashlib.sha256(got).hexdigest() != f["sha"]:
            bad.append("%s: %d bytes, expected %d" % (name, len(got), f["len"]))
    print("files checked %d, fsync errors %d, lost %d" %
          (len(st["files"]), len(st["fsync_err"]), len(bad)), file=sys.stderr)
    for b in bad[:20]:
        print("lost:", b, file=sys.stderr)
    print("every accepted byte on disk or reported by fsync:", not bad)


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    else:
        check(sys.argv[2], sys.argv[3])
