#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""crashcheck: prove crash consistency by replaying a write log.

  crashcheck.py record WORKLOAD -d DIR [--seed S] [--ops N] [--each-section]
  crashcheck.py check -d DIR [--subsets N] [--seed S] [--max-states N] [-v]
  crashcheck.py run WORKLOAD -d DIR [options of both]
  crashcheck.py ace-do ace-OP-TARGET -d MNT --expect FILE
  crashcheck.py ace-verify ace-OP-TARGET -d MNT --expect FILE

record makes a small image (DIR/base.img, mkfs'd), mounts it with
-o log_writes=DIR/log (and commit=each_section with --each-section), runs
the workload and unmounts.  CRASHCHECK_RECORD_OPTS in the environment adds
mount options to the recording mount, to hunt bugs that need a timing the
default policy rarely produces, e.g.
CRASHCHECK_RECORD_OPTS=commit_interval_ms=1,dirty_expire_ms=1,cache_size=4m.  The workload writes DIR/oracle.jsonl: what a
crash at any later point must still show, keyed to named marks it puts in
the log (the user.iomapfs.logmark xattr):

  {"mark": "s3", "add": {KEY: REQ, ...}}   made durable just before s3
  {"mark": "d4", "drop": [KEY, ...]}       about to be changed after d4

KEY is "file:PATH" (REQ: id, size, sha256 of the contents),
"exists:PATH", "absent:PATH", "xattr:PATH:NAME" (REQ: hex value) or
"acl:PATH" (REQ: hex of system.posix_acl_access and the mode).

check walks the log (tools/iomapfs-replay --list) and builds crash states:
every write boundary of every flush epoch (which includes every flush
point and every mark), and per epoch up to --subsets seeded random subsets
of the epoch's writes (a power cut may lose any of the writes since the
last flush; FUA writes never).  Every state is checked in-process by
iomapfs-crashstate (built in memory, mounted through the filesystem
library, walked, unmounted, fsck -n; many states per process), and a
seeded one in --mount-every (20; 1: all) also through the daemon: it
copies the image as of the epoch's flush (a sparse copy, on /dev/shm
unless --work says otherwise), applies the state's writes, mounts it with
a small cache (the journal replay a mount does), checks the oracle,
unmounts and runs fsck.iomapfs -n; the two verdicts must agree.
--no-inproc mounts every state and skips the in-process check.  --jobs
workers (2) do this in parallel, each with its own images and mount
point.  The oracle: every requirement active at that
point holds (a file fsynced and not touched since has exactly its fsynced
size and contents), in every state a file's access ACL agrees with its
mode, and with pattern workloads every file has a name the workload gave
a file, is no longer than that file ever was, and each of its 16-byte
records is zeros or "<id>:<offset>" for that file's id and that offset,
so stale bytes and another file's bytes show.  The first inconsistent
state is checked once more, alone and from scratch, and the report says
whether its problems came back: a state that passes the second time
failed for a reason of that check run (a replay mount that failed or
hung), not for what the log holds.  The last line is
"N crash states, N consistent, N inconsistent"; the exit status is 1 if
any state is inconsistent or fsck said "cannot repair".

Workloads: fsx (random writes, truncates, punches, zeroing, fallocate
and fsync/fdatasync of three pattern files), reuse (a deleted file's
blocks rewritten by another file: --ops rounds), ace-OP-file / ace-OP-dir
(one operation then fsync of the file or of its directory; OP is create,
link, rename, truncate, punch, falloc, setxattr, acl, chmodacl: chmod of
a file with an ACL), fsstress
(fsstress-lite -p 4; structure only: fsck and a full read), fsx-lite
(fsx-lite's own data; fsck and a full read).

ace-do runs a single-op workload on a mounted filesystem without a log and
writes what it fsynced to FILE; after a shutdown (godown) and a remount,
ace-verify checks it.  This runs on any filesystem (tests/generic/106).
"""

import argparse
import errno
import hashlib
import json
import multiprocessing
import os
import queue
import random
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time

LOG_FLUSH, LOG_FUA, LOG_MARK = 1, 2, 8
SECTOR = 512
REC = 16
XMARK = "user.iomapfs.logmark"
ACE_OPS = ["create", "link", "rename", "truncate", "punch", "falloc",
           "setxattr", "acl", "chmodacl"]


def die(msg):
    print("crashcheck: " + msg, file=sys.stderr)
    sys.exit(2)


def bindir():
    d = os.environ.get("IOMAPFS_BIN")
    if not d:
        d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                         "build", "bin")
    return os.path.abspath(d)


def pattern(fid, off, length):
    """The bytes a pattern file holds at [off, off+length): 16-byte records
    naming the file and the offset.  off and length are multiples of 16."""
    return b"".join(b"%4s:%010x\n" % (fid.encode(), o)
                    for o in range(off, off + length, REC))


# ---------------------------------------------------------------- mounting

class Mount:
    """The daemon in the foreground, mounted until stop(); never left behind."""

    def __init__(self, img, mnt, opts=""):
        self.mnt = mnt
        args = [os.path.join(bindir(), "iomapfs"), img, mnt, "-f"]
        if opts:
            args += ["-o", opts]
        self.err = open(mnt + ".err", "w+")
        self.proc = subprocess.Popen(args, stdout=self.err, stderr=self.err)
        deadline = time.time() + 20
        while not os.path.ismount(mnt):
            if self.proc.poll() is not None or time.time() > deadline:
                self.err.seek(0)
                msg = self.err.read().strip()[-300:]
                self.stop()
                raise OSError("mount failed: " + msg)
            time.sleep(0.005)

    def stop(self):
        """Unmount and wait for the daemon: 0, or a string saying how it
        ended otherwise (its exit status or why it had to be killed, and
        the end of what it wrote to stderr).  self.said keeps that stderr."""
        why = ""
        for _ in range(50):	# EBUSY while the kernel still holds a file
            if self.proc.poll() is not None:
                break
            r = subprocess.run(["fusermount3", "-u", self.mnt], capture_output=True,
                               text=True)
            if r.returncode == 0:
                break
            why = r.stderr.strip()
            time.sleep(0.1)
        try:
            rc = self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            subprocess.run(["fusermount3", "-uz", self.mnt], stderr=subprocess.DEVNULL)
            self.proc.kill()
            self.proc.wait()
            rc = "killed: no exit 120 s after unmount (%s)" % (
                why or "fusermount3 -u succeeded")
        self.err.seek(0)
        self.said = self.err.read().strip()
        self.err.close()
        if rc and self.said:
            rc = "%s; it said: %s" % (
                rc if isinstance(rc, str) else "exit status %d" % rc,
                " | ".join(self.said.splitlines()[-4:])[-300:])
        return rc


# ---------------------------------------------------------------- workloads

class Oracle:
    """Requirements the workload establishes, and the marks that bound them."""

    def __init__(self, mnt, path, pattern_files, log=True):
        self.mnt, self.n, self.active, self.log = mnt, 0, {}, log
        self.fp = open(path, "w")
        self.fp.write(json.dumps({"pattern": pattern_files}) + "\n")

    def _mark(self, kind):
        self.n += 1
        name = "%s%d" % (kind, self.n)
        if self.log:
            os.setxattr(self.mnt, XMARK, name.encode())
        return name

    def touch(self, keys):
        """Call before changing what @keys describe."""
        drop = [k for k in keys if k in self.active]
        if drop:
            self.fp.write(json.dumps({"mark": self._mark("d"), "drop": drop}) + "\n")
            for k in drop:
                del self.active[k]

    def synced(self, reqs):
        """Call after an fsync made @reqs durable."""
        self.fp.write(json.dumps({"mark": self._mark("s"), "add": reqs}) + "\n")
        self.active.update(reqs)

    def close(self):
        self.fp.write(json.dumps({"names": PatternFile.names}) + "\n")
        self.fp.close()


def file_req(fid, data):
    return {"id": fid, "size": len(data), "sha": hashlib.sha256(bytes(data)).hexdigest()}


def sync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)


class PatternFile:
    """A file whose model (bytearray) follows every change.  Every name a
    pattern file ever had is registered with its id and the largest size it
    ever had: in any crash state a file under that name may hold only that
    id's records (or zeros) and may not be longer."""
    opened = []	# closed by record() before it unmounts
    names = {}	# name -> {"ids": [fid, ...], "max": bytes}

    def __init__(self, mnt, rel, fid):
        self.mnt, self.rel, self.fid, self.data = mnt, rel, fid, bytearray()
        self.aliases = []
        self.alias(rel)
        self.path = os.path.join(mnt, rel.lstrip("/"))
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        PatternFile.opened.append(self.fd)

    def alias(self, rel):
        """@rel names this file from now on (a link or a rename)."""
        ent = PatternFile.names.setdefault(rel, {"ids": [], "max": 0})
        if self.fid not in ent["ids"]:
            ent["ids"].append(self.fid)
        ent["max"] = max(ent["max"], len(self.data))
        self.aliases.append(rel)

    def _grew(self):
        for rel in self.aliases:
            ent = PatternFile.names[rel]
            ent["max"] = max(ent["max"], len(self.data))

    def close(self):
        PatternFile.opened.remove(self.fd)
        os.close(self.fd)

    @classmethod
    def close_all(cls):
        for fd in cls.opened:
            try:
                os.close(fd)
            except OSError:
                pass
        cls.opened = []

    def write(self, off, length):
        buf = pattern(self.fid, off, length)
        os.pwrite(self.fd, buf, off)
        if len(self.data) < off:
            self.data.extend(bytes(off - len(self.data)))
        self.data[off:off + length] = buf
        self._grew()

    def truncate(self, size):
        os.ftruncate(self.fd, size)
        del self.data[size:]
        self.data.extend(bytes(size - len(self.data)))
        self._grew()

    def zero(self, off, length, mode, keep):
        fallocate(self.fd, mode, off, length)
        end = off + length
        if not keep and end > len(self.data):
            self.data.extend(bytes(end - len(self.data)))
            self._grew()
        end = min(end, len(self.data))
        if mode & (FALLOC_PUNCH | FALLOC_ZERO) and end > off:
            self.data[off:end] = bytes(end - off)

    def req(self):
        return {"file:" + self.rel: file_req(self.fid, self.data)}


FALLOC_KEEP, FALLOC_PUNCH, FALLOC_ZERO = 0x01, 0x02, 0x10


def fallocate(fd, mode, off, length):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
    if libc.fallocate(fd, mode, off, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def wl_fsx(mnt, orc, args):
    """Random ops on three pattern files, fsync or fdatasync now and then."""
    rnd = random.Random(args.seed)
    files = [PatternFile(mnt, "/f%d" % i, "f%03d" % i) for i in range(3)]
    sync_dir(mnt)
    maxsz = 256 * 1024
    ops = ["write"] * 8 + ["truncate"] * 2 + ["punch"] * 2 + ["zero"] + \
          ["falloc", "falloc_keep"] + ["fsync"] * 2 + ["fdatasync"]
    for _ in range(args.ops):
        f, op = rnd.choice(files), rnd.choice(ops)
        off = rnd.randrange(0, maxsz, REC)
        length = rnd.randrange(REC, 64 * 1024, REC)
        length = min(length, maxsz - off) or REC
        if op in ("fsync", "fdatasync"):
            (os.fsync if op == "fsync" else os.fdatasync)(f.fd)
            orc.synced(f.req())
            continue
        orc.touch(["file:" + f.rel])
        if op == "write":
            f.write(off, length)
        elif op == "truncate":
            f.truncate(off)
        else:
            mode = {"punch": FALLOC_PUNCH | FALLOC_KEEP, "zero": FALLOC_ZERO,
                    "falloc": 0, "falloc_keep": FALLOC_KEEP}[op]
            try:
                f.zero(off, length, mode, bool(mode & FALLOC_KEEP))
            except OSError as e:
                if e.errno not in (95, 28):	# EOPNOTSUPP, ENOSPC
                    raise


def ace_setup(mnt):
    """Files the single-op workloads start from, all durable."""
    os.mkdir(os.path.join(mnt, "A"))
    os.mkdir(os.path.join(mnt, "B"))
    foo = PatternFile(mnt, "/A/foo", "foo0")
    foo.write(0, 64 * 1024)
    bar = PatternFile(mnt, "/A/bar", "bar0")
    bar.write(0, 16 * 1024)
    for f in (foo, bar):
        os.fsync(f.fd)
    for d in ("A", "B", ""):
        sync_dir(os.path.join(mnt, d))
    return foo, bar


def acl_req(f):
    val = os.getxattr(f.path, "system.posix_acl_access")
    return {"acl:" + f.rel: {"hex": val.hex(), "mode": os.stat(f.path).st_mode & 0o7777}}


def ace_op(mnt, orc, op, target, foo):
    """Do @op; returns (path to fsync, requirements it makes durable)."""
    j = lambda p: os.path.join(mnt, p.lstrip("/"))
    if op == "create":
        new = PatternFile(mnt, "/A/new", "new0")
        new.write(0, 8192)
        if target == "file":
            return new.path, new.req()
        return j("/A"), {"exists:/A/new": {}}
    if op == "link":
        orc.touch(["absent:/B/link"])
        foo.alias("/B/link")
        os.link(foo.path, j("/B/link"))
        reqs = dict(foo.req())
        reqs["file:/B/link"] = file_req(foo.fid, foo.data)
        return (foo.path if target == "file" else j("/B")), reqs
    if op == "rename":
        orc.touch(["file:/A/foo"])
        foo.alias("/B/baz")
        os.rename(foo.path, j("/B/baz"))
        reqs = {"file:/B/baz": file_req(foo.fid, foo.data), "absent:/A/foo": {}}
        if target == "file":
            return j("/B/baz"), reqs
        sync_dir(j("/A"))
        return j("/B"), reqs
    orc.touch(["file:/A/foo"])
    if op == "truncate":
        foo.truncate(10000)
    elif op == "punch":
        foo.zero(16384, 16384, FALLOC_PUNCH | FALLOC_KEEP, True)
    elif op == "falloc":
        foo.zero(64 * 1024, 64 * 1024, 0, False)
    elif op == "setxattr":
        os.setxattr(foo.path, "user.ace", b"value-1")
        return foo.path, dict(foo.req(), **{"xattr:/A/foo:user.ace": {"hex": b"value-1".hex()}})
    elif op in ("acl", "chmodacl"):
        if op == "chmodacl":	# an ACL made durable first, then chmod
            subprocess.run(["setfacl", "-m", "u:1234:rw,g::r,o::-", foo.path], check=True)
            os.fsync(foo.fd)
            orc.synced(acl_req(foo))
            orc.touch(["acl:/A/foo"])
            os.chmod(foo.path, 0o604)
        else:
            subprocess.run(["setfacl", "-m", "u:1234:rw,g::r,o::-", foo.path], check=True)
        return foo.path, dict(foo.req(), **acl_req(foo))
    return foo.path, foo.req()


def wl_ace(mnt, orc, args):
    _, op, target = args.workload.split("-")
    if op == "acl":
        os.chmod(mnt, 0o755)	# setfacl runs as root: nothing else needed
    foo, bar = ace_setup(mnt)
    reqs = dict(foo.req(), **bar.req())
    reqs.update({"exists:/A": {}, "exists:/B": {}})
    orc.synced(reqs)
    path, reqs = ace_op(mnt, orc, op, target, foo)
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    orc.synced(reqs)


def wl_fsstress(mnt, orc, args):
    d = os.path.join(mnt, "stress")
    os.mkdir(d)
    subprocess.run([os.path.join(bindir(), "fsstress-lite"), "-d", d, "-p", "4",
                    "-n", str(args.ops), "-s", str(args.seed)],
                   check=True, stdout=subprocess.DEVNULL)


def wl_fsxlite(mnt, orc, args):
    subprocess.run([os.path.join(bindir(), "fsx-lite"), "-q", "-S", str(args.seed),
                    "-N", str(args.ops), "-l", str(256 * 1024), "-L",
                    os.path.join(args.dir, "fsx.log"), os.path.join(mnt, "fsxfile")],
                   check=True, stdout=subprocess.DEVNULL)


def wl_reuse(mnt, orc, args):
    """Block reuse, --ops rounds on a nearly full filesystem (a fallocated
    filler leaves about 1.3 MiB: the metadata reserve and room for one
    256 KiB file; data allocation continues after the previous extent, so
    from the sixth file on every file lands in blocks that an earlier one
    freed): file A is written and fsynced, then
    deleted and the deletion committed, then file B is written into the
    blocks A freed (through delalloc, or into extents fallocated first in
    odd rounds: unwritten either way, converted after the data write) and
    fsynced; B is deleted in turn, and the next round's A takes its
    blocks.  Unless the commit that converts a file's extents is ordered
    after its data (the pre-flush), a crash state can have the conversion
    without the data, and the file then shows the other's records."""
    maxsize = 256 * 1024
    sync_dir(mnt)
    vfs = os.statvfs(mnt)
    fill = vfs.f_bavail * vfs.f_frsize - maxsize - 64 * 1024
    filler = PatternFile(mnt, "/filler", "fill")
    filler.zero(0, fill, FALLOC_KEEP, True)	# size 0: nothing to read back
    os.fsync(filler.fd)
    orc.synced(filler.req())
    for r in range(args.ops):
        size = maxsize - 4096 * (r % 3)	# not always whole ioends
        for name, fid, falloc in (("a", "a%03d" % r, False), ("b", "b%03d" % r, r % 2)):
            f = PatternFile(mnt, "/%s%d" % (name, r), fid)
            if falloc:
                f.zero(0, size, 0, False)
            f.write(0, size)
            os.fsync(f.fd)
            orc.synced(f.req())
            orc.touch(["file:" + f.rel])
            f.close()
            os.unlink(f.path)
            sync_dir(mnt)
            orc.synced({"absent:" + f.rel: {}})


def workload_fn(name):
    if name == "fsx":
        return wl_fsx, True
    if name == "reuse":
        return wl_reuse, True
    if name == "fsstress":
        return wl_fsstress, False
    if name == "fsx-lite":
        return wl_fsxlite, False
    parts = name.split("-")
    if len(parts) == 3 and parts[0] == "ace" and parts[1] in ACE_OPS and \
            parts[2] in ("file", "dir"):
        return wl_ace, True
    die("unknown workload '%s'" % name)


def record(args):
    fn, pat = workload_fn(args.workload)
    os.makedirs(args.dir, exist_ok=True)
    base = os.path.join(args.dir, "base.img")
    with open(base, "w") as f:
        f.truncate(args.size << 20)
    subprocess.run([os.path.join(bindir(), "mkfs.iomapfs"), "-f", base], check=True,
                   stdout=subprocess.DEVNULL)
    img = os.path.join(args.dir, "rec.img")
    shutil.copyfile(base, img)
    mnt = os.path.join(args.dir, "mnt")
    os.makedirs(mnt, exist_ok=True)
    opts = "log_writes=" + os.path.join(args.dir, "log")
    if args.each_section:
        opts += ",commit=each_section"
    if os.environ.get("CRASHCHECK_RECORD_OPTS"):
        opts += "," + os.environ["CRASHCHECK_RECORD_OPTS"]
    m = Mount(img, mnt, opts)
    orc = Oracle(mnt, os.path.join(args.dir, "oracle.jsonl"), pat)
    try:
        fn(mnt, orc, args)
    finally:
        orc.close()
        PatternFile.close_all()
        rc = m.stop()
    if rc:
        die("the recording mount: %s" % rc)
    os.unlink(img)


# ---------------------------------------------------------------- checking

def read_log(logpath):
    """[(kind, flags, sector, nr_sectors, data offset in the log, mark)]"""
    out = subprocess.run([os.path.join(bindir(), "iomapfs-replay"), "--log", logpath,
                          "--list"], check=True, capture_output=True, text=True).stdout
    ents, pos = [], SECTOR
    for line in out.splitlines():
        f = line.split()
        if f[1] == "write":
            nr = int(f[3])
            ents.append(("write", LOG_FUA if "fua" in f[4:] else 0, int(f[2]), nr, pos + SECTOR, None))
            pos += (1 + nr) * SECTOR
        elif f[1] == "flush":
            ents.append(("flush", 0, 0, 0, 0, None))
            pos += SECTOR
        else:
            ents.append(("mark", 0, 0, 0, 0, f[2]))
            pos += SECTOR
    return ents


def load_oracle(path):
    """(marks by name, pattern workload?, names: name -> {"ids", "max"})"""
    marks, pat, names = {}, False, None
    if not os.path.exists(path):
        return marks, pat, names
    with open(path) as f:
        for i, line in enumerate(f):
            rec = json.loads(line)
            if i == 0:
                pat = rec.get("pattern", False)
            elif "names" in rec:
                names = rec["names"]
            else:
                marks[rec["mark"]] = rec
    return marks, pat, names


class State:
    def __init__(self, desc, epoch_start, writes, reqs):
        self.desc, self.epoch_start, self.writes, self.reqs = desc, epoch_start, writes, reqs


def enumerate_states(ents, marks, nsubsets, seed):
    """Every write boundary (with the requirements of every point in that
    gap) and random subsets of each flush epoch's writes."""
    states, active, epoch, epoch_start = [], {}, [], 0
    gap = dict(active)

    def boundary(desc):
        states.append(State(desc, epoch_start, list(epoch), dict(gap)))

    for n, e in enumerate(ents):
        kind = e[0]
        if kind == "mark":
            rec = marks.get(e[5])
            if rec:
                for k in rec.get("drop", []):
                    active.pop(k, None)
                active.update(rec.get("add", {}))
                gap.update(rec.get("add", {}))
            continue
        if kind == "write":
            boundary("before entry %d" % n)
            epoch.append(n)
            gap = dict(active)
            continue
        # a flush: the epoch's subsets, then its writes are durable
        subsets_for(states, epoch, epoch_start, gap, nsubsets, seed, ents)
        epoch_start, epoch = n + 1, []
    boundary("end of log")
    subsets_for(states, epoch, epoch_start, gap, nsubsets, seed, ents)
    return states


def subsets_for(states, epoch, epoch_start, reqs, nsubsets, seed, ents):
    if len(epoch) < 2:
        return
    rnd = random.Random("%s:%d" % (seed, epoch_start))
    prefixes = {tuple(epoch[:j]) for j in range(len(epoch) + 1)}
    seen, tries = set(), 0
    limit = min(nsubsets, 2 ** len(epoch) - len(prefixes)) if len(epoch) < 20 else nsubsets
    while len(seen) < limit and tries < nsubsets * 20:
        tries += 1
        sub = tuple(w for w in epoch if ents[w][1] & LOG_FUA or rnd.random() < 0.5)
        if sub in prefixes or sub in seen:
            continue
        seen.add(sub)
        missing = [w for w in epoch if w not in sub]
        states.append(State("epoch from entry %d without entries %s" % (
            epoch_start, ",".join(map(str, missing))), epoch_start, list(sub), dict(reqs)))


def apply_entries(img, logpath, ents, idxs):
    with open(logpath, "rb") as lf, open(img, "r+b") as df:
        for i in idxs:
            _, _, sector, nr, off, _ = ents[i]
            lf.seek(off)
            df.seek(sector * SECTOR)
            df.write(lf.read(nr * SECTOR))


def sparse_copy(src, dst):
    """Copy @src to a new @dst, only its data segments: an image is mostly
    holes, so this costs what the image holds, not its size."""
    try:
        os.unlink(dst)
    except FileNotFoundError:
        pass
    with open(src, "rb") as s, open(dst, "wb") as d:
        size = os.fstat(s.fileno()).st_size
        d.truncate(size)
        off = 0
        while off < size:
            try:
                off = os.lseek(s.fileno(), off, os.SEEK_DATA)
            except OSError:	# ENXIO: no data after off
                break
            end = os.lseek(s.fileno(), off, os.SEEK_HOLE)
            while off < end:
                off += copy_range(s.fileno(), d.fileno(), off, end - off)


def copy_range(sfd, dfd, off, length):
    """Copy up to @length bytes at @off; how many were copied."""
    try:
        n = os.copy_file_range(sfd, dfd, length, off, off)
    except OSError as e:	# EXDEV: the base image is not on the tmpfs
        if e.errno != errno.EXDEV:
            raise
        n = os.pwrite(dfd, os.pread(sfd, min(length, 1 << 20), off), off)
    if n <= 0:
        raise OSError(errno.EIO, "image copy: no progress at %d" % off)
    return n


_patterns = {}


def pattern_prefix(fid, length):
    """pattern(fid, 0, length), cached and grown as needed."""
    p = _patterns.get(fid, b"")
    if len(p) < length:
        n = max(length, 2 * len(p), 64 * 1024)
        n += -n % REC
        p = _patterns[fid] = pattern(fid, 0, n)
    return p


def check_record_data(rel, data, ids):
    """Pattern workloads: every 16-byte record is zeros or the record that
    one of @ids (the files this name ever held) has at that offset.  Whole
    4 KiB blocks are compared at once; a block that matches nothing is
    looked at record by record, which is also how a partial last record
    is judged (a prefix of what the file was given)."""
    exp = [pattern_prefix(fid, len(data)) for fid in ids]
    zero = bytes(4096)
    for blk in range(0, len(data), 4096):
        c = data[blk:blk + 4096]
        if c == zero[:len(c)] or any(c == e[blk:blk + len(c)] for e in exp):
            continue
        for off in range(blk, blk + len(c), REC):
            r = data[off:off + REC]
            if r == zero[:len(r)] or any(r == e[off:off + len(r)] for e in exp):
                continue
            return "%s: bytes at %d it was never given: %r" % (rel, off, bytes(r))
    return None


def check_reqs(mnt, reqs):
    problems = []
    j = lambda p: os.path.join(mnt, p.lstrip("/"))
    for key, req in sorted(reqs.items()):
        kind, _, rest = key.partition(":")
        try:
            if kind == "file":
                with open(j(rest), "rb") as f:
                    data = f.read()
                if len(data) != req["size"] or hashlib.sha256(data).hexdigest() != req["sha"]:
                    problems.append("%s: fsynced %d bytes, found %d bytes%s" % (
                        rest, req["size"], len(data),
                        "" if len(data) != req["size"] else " with other contents"))
            elif kind == "exists":
                os.lstat(j(rest))
            elif kind == "absent":
                if os.path.lexists(j(rest)):
                    problems.append("%s: still exists after its removal was fsynced" % rest)
            elif kind == "xattr":
                path, _, name = rest.partition(":")
                if os.getxattr(j(path), name).hex() != req["hex"]:
                    problems.append("%s: xattr %s differs from the fsynced value" % (path, name))
            elif kind == "acl":
                val = os.getxattr(j(rest), "system.posix_acl_access").hex()
                mode = os.stat(j(rest)).st_mode & 0o7777
                if val != req["hex"] or mode != req["mode"]:
                    problems.append("%s: ACL/mode %o differ from the fsynced %o" % (
                        rest, mode, req["mode"]))
        except OSError as e:
            problems.append("%s: %s" % (key, e.strerror))
    return problems


ACL_USER_OBJ, ACL_GROUP_OBJ, ACL_MASK, ACL_OTHER = 0x01, 0x04, 0x10, 0x20


def acl_mode_problem(path, rel):
    """In every state, not only fsynced ones: an access ACL and the mode
    agree (owner = user_obj, group = mask or group_obj, other = other), as
    POSIX requires; a crash between the two updates breaks that."""
    try:
        val = os.getxattr(path, "system.posix_acl_access", follow_symlinks=False)
    except OSError:
        return None	# no ACL (ENODATA) or none supported
    return acl_mode_judge(val, os.lstat(path).st_mode, rel)


def acl_mode_judge(val, mode, rel):
    """acl_mode_problem on an ACL value and a mode already read."""
    perms = {}
    for off in range(4, len(val) - 7, 8):
        tag, perm, _ = struct.unpack_from("<HHI", val, off)
        if tag in (ACL_USER_OBJ, ACL_GROUP_OBJ, ACL_MASK, ACL_OTHER):
            perms[tag] = perm
    group = perms.get(ACL_MASK, perms.get(ACL_GROUP_OBJ))
    want = (perms.get(ACL_USER_OBJ), group, perms.get(ACL_OTHER))
    have = ((mode >> 6) & 7, (mode >> 3) & 7, mode & 7)
    if want != have:
        return "%s: ACL and mode disagree (ACL says %s, mode %o)" % (
            rel, "".join(str(p) for p in want), mode & 0o777)
    return None


def walk_files(mnt, pat, names):
    """Read everything (a crash state must be readable); pattern checks:
    each file holds only its own records and is no longer than it ever
    was, and no name appears that the workload never gave a file."""
    problems = []
    for root, dirs, files in os.walk(mnt):
        for name in files:
            p = os.path.join(root, name)
            rel = "/" + os.path.relpath(p, mnt)
            msg = acl_mode_problem(p, rel)
            if msg:
                problems.append(msg)
            try:
                if not stat.S_ISREG(os.lstat(p).st_mode):
                    continue
                with open(p, "rb") as f:
                    data = f.read()
            except OSError as e:
                problems.append("%s: %s" % (rel, e.strerror))
                continue
            if not pat:
                continue
            ent = names.get(rel)
            if ent is None:
                problems.append("%s: a name the workload never created" % rel)
                continue
            if len(data) > ent["max"]:
                problems.append("%s: size %d, larger than it ever was (%d)" % (
                    rel, len(data), ent["max"]))
            msg = check_record_data(rel, data, ent["ids"])
            if msg:
                problems.append(msg)
    return problems


def fsck(img):
    r = subprocess.run([os.path.join(bindir(), "fsck.iomapfs"), "-n", img],
                       capture_output=True, text=True)
    out = (r.stdout + r.stderr).strip()
    return r.returncode, out


# A crash state needs a few folios, not the default cache: the daemon
# populates its whole cache arena at mount, which was most of a state's cost.
STATE_MOUNT_OPTS = "cache_size=4m"


def check_state(st, work, durable, ctx):
    """Returns (problems, fsck said cannot repair, notes): the notes say
    what the replay daemon wrote to stderr when the state has problems."""
    img = os.path.join(work, "state.img")
    mnt = os.path.join(work, "smnt")
    sparse_copy(durable, img)
    apply_entries(img, ctx.logpath, ctx.ents, st.writes)
    problems = []
    try:
        m = Mount(img, mnt, STATE_MOUNT_OPTS)
    except OSError as e:
        return [str(e)], False, []
    try:
        problems += check_reqs(mnt, st.reqs)
        problems += walk_files(mnt, ctx.pat, ctx.names)
    finally:
        rc = m.stop()
    if rc:
        problems.append("daemon after the replay mount: %s" % rc)
    rc, out = fsck(img)
    if rc:
        lines = [l.replace(img + ": ", "") for l in out.splitlines()][:-1]
        problems.append("fsck -n status %d: %s" % (rc, "; ".join(lines[:6])))
    notes = []
    if problems and m.said:
        notes.append("replay daemon said: " + " | ".join(m.said.splitlines()[-4:])[-300:])
    return problems, "cannot repair" in out, notes


# ------------------------------------------------ the in-process check
#
# tools/iomapfs-crashstate builds each state in memory, mounts it through
# the filesystem library (journal replay, orphans), walks and reads the
# tree, unmounts and runs fsck -n on what the unmount left, many states per
# process; it reports what it saw (names, types, modes, sizes, SHA-256 of
# the contents, xattrs, a summary of the pattern records) and the oracle
# below judges it exactly as check_reqs() and walk_files() judge a mount.

def records_problem(rel, rec, ids):
    """check_record_data() on the tool's summary of a file's records: a
    record of an id this name never held, a record that is neither zeros
    nor names its own offset, or a partial last record that is not a
    prefix of zeros or of a record the file was given."""
    bad = []
    for fid, off in rec["ids"].items():
        if fid not in ids:
            bad.append((off, pattern(fid, off, REC)))
    if rec["bad"]:
        bad.append((rec["bad"][0], bytes.fromhex(rec["bad"][1])))
    if rec["tail"]:
        off, t = rec["tail"][0], bytes.fromhex(rec["tail"][1])
        if t != bytes(len(t)) and not any(t == pattern(f, off, REC)[:len(t)] for f in ids):
            bad.append((off, t))
    if not bad:
        return None
    off, r = min(bad)
    return "%s: bytes at %d it was never given: %r" % (rel, off, r)


def entry_reqs(ents, reqs):
    """check_reqs() on the entries the tool saw."""
    problems = []
    noent, nodata = os.strerror(errno.ENOENT), os.strerror(errno.ENODATA)
    for key, req in sorted(reqs.items()):
        kind, _, rest = key.partition(":")
        path, _, name = rest.partition(":") if kind == "xattr" else (rest, "", "")
        e = ents.get(path)
        if kind == "absent":
            if e:
                problems.append("%s: still exists after its removal was fsynced" % rest)
            continue
        if e is None:
            problems.append("%s: %s" % (key, noent))
        elif kind == "file" and e["t"] == "d":
            problems.append("%s: %s" % (key, os.strerror(errno.EISDIR)))
        elif kind == "file" and "s" in e:	# else the walk reported the error
            if e["s"] != req["size"] or e["h"] != req["sha"]:
                problems.append("%s: fsynced %d bytes, found %d bytes%s" % (
                    rest, req["size"], e["s"],
                    "" if e["s"] != req["size"] else " with other contents"))
        elif kind == "xattr":
            if name not in e["x"]:
                problems.append("%s: %s" % (key, nodata))
            elif e["x"][name] != req["hex"]:
                problems.append("%s: xattr %s differs from the fsynced value" % (path, name))
        elif kind == "acl":
            val = e["x"].get("system.posix_acl_access")
            if val is None:
                problems.append("%s: %s" % (key, nodata))
            elif val != req["hex"] or e["m"] != req["mode"]:
                problems.append("%s: ACL/mode %o differ from the fsynced %o" % (
                    rest, e["m"], req["mode"]))
    return problems


def entry_walk(entries, pat, names):
    """walk_files() on the entries the tool saw."""
    problems = []
    for e in entries:
        rel = e["p"]
        if e["t"] == "d":
            continue
        acl = e["x"].get("system.posix_acl_access")
        msg = acl and acl_mode_judge(bytes.fromhex(acl), e["m"], rel)
        if msg:
            problems.append(msg)
        if e["t"] != "f" or not pat or "s" not in e:	# no "s": unreadable
            continue
        ent = names.get(rel)
        if ent is None:
            problems.append("%s: a name the workload never created" % rel)
            continue
        if e["s"] > ent["max"]:
            problems.append("%s: size %d, larger than it ever was (%d)" % (
                rel, e["s"], ent["max"]))
        msg = records_problem(rel, e["r"], ent["ids"])
        if msg:
            problems.append(msg)
    return problems


def judge_inproc(res, st, ctx):
    """(problems, fsck said cannot repair) for one state's report."""
    problems = list(res["problems"])
    if res["mount"]:
        problems.append("mount failed: %s" % os.strerror(res["mount"]))
    else:
        ents = {e["p"]: e for e in res["entries"]}
        problems += entry_reqs(ents, st.reqs) + entry_walk(res["entries"], ctx.pat, ctx.names)
        if res["unmount"]:
            problems.append("daemon after the replay mount: unmount: %s" %
                            os.strerror(res["unmount"]))
    out = res["fsck_out"].strip()
    if res["fsck"]:
        lines = [l.replace("image: ", "") for l in out.splitlines()][:-1]
        problems.append("fsck -n status %d: %s" % (res["fsck"], "; ".join(lines[:6])))
    return problems, "cannot repair" in out


def run_inproc(idxs, states, ctx, wdir):
    """Yield (state index, problems, cannot repair) for @idxs, in order,
    from iomapfs-crashstate.  A state the tool does not survive (a crash
    in the filesystem code it runs) is inconsistent; the tool starts again
    after it."""
    spec = os.path.join(wdir, "states")
    errpath = os.path.join(wdir, "crashstate.err")
    tool = [os.path.join(bindir(), "iomapfs-crashstate"), "--base", ctx.base,
            "--log", ctx.logpath, "--states", spec] + (["--pattern"] if ctx.pat else []) + \
        (["--hash"] if ctx.hash else [])
    while idxs:
        with open(spec, "w") as f:
            for i in idxs:
                st = states[i]
                f.write("%d %d %s\n" % (i, st.epoch_start,
                                        ",".join(map(str, st.writes)) or "-"))
        done = 0
        with open(errpath, "w+") as err:
            p = subprocess.Popen(tool, stdout=subprocess.PIPE, stderr=err)
            for line in p.stdout:
                res = json.loads(line)
                if res["id"] != idxs[done]:
                    die("iomapfs-crashstate answered for state %d, not %d" % (
                        res["id"], idxs[done]))
                yield (idxs[done],) + judge_inproc(res, states[idxs[done]], ctx)
                done += 1
            rc = p.wait()
            err.seek(0)
            why = err.read().strip()[-300:]
        if done == len(idxs):
            if rc:
                die("iomapfs-crashstate failed (%d): %s" % (rc, why))
            return
        yield idxs[done], ["in-process check died (status %d): %s" % (rc, why)], False
        idxs = idxs[done + 1:]


def merge_verdicts(inproc, mount):
    """One state checked both ways: both verdicts must agree."""
    (pa, ca), (pb, cb) = inproc, mount
    problems = pa + [p for p in pb if p not in pa]
    if bool(pa) != bool(pb):
        problems.insert(0, "the in-process and mount checks disagree: in-process %s, "
                        "mount %s" % ("inconsistent" if pa else "consistent",
                                      "inconsistent" if pb else "consistent"))
    return problems, ca or cb


def problem_kind(msg):
    """What kind of inconsistency a problem message reports (the summary)."""
    for key, kind in (("disagree", "the in-process and mount checks disagree"),
                      ("in-process check died", "the in-process check died"),
                      ("fsck", "fsck -n found problems"),
                      ("never given", "a file shows bytes it was never given"),
                      ("ACL and mode disagree", "a file's ACL and mode disagree"),
                      ("ACL/mode", "ACL or mode differ from the fsynced ones"),
                      ("xattr", "an fsynced xattr lost"),
                      ("still exists", "an fsynced removal undone"),
                      ("fsynced", "fsynced data or size lost"),
                      ("mount failed", "the crash state does not mount"),
                      ("daemon", "the daemon did not unmount cleanly")):
        if key in msg:
            return kind
    return "other: " + msg.split(":")[-1].strip()


class Ctx:
    """What every worker needs to build and judge a state."""

    def __init__(self, args):
        self.logpath = os.path.join(args.dir, "log")
        self.base = os.path.join(args.dir, "base.img")
        self.ents = read_log(self.logpath)
        self.marks, self.pat, names = load_oracle(os.path.join(args.dir, "oracle.jsonl"))
        self.names = names or {}
        # the in-process check hashes contents only if some file's are required
        self.hash = any(k.startswith("file:") for rec in self.marks.values()
                        for k in rec.get("add", {}))


def work_dir(args):
    """Crash images on a tmpfs when there is one: a copy and the device's
    cache flushes then cost nothing (tmpfs takes O_DIRECT since 6.6)."""
    if args.work:
        base = args.work
    elif os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        base = "/dev/shm"
    else:
        base = args.dir
    return tempfile.mkdtemp(prefix="crashcheck.", dir=base)


def worker(k, jobs, states, ctx, work, out):
    """Check states k, k+jobs, ... in order: all of them in-process (unless
    --mount-every 1 --no-inproc), and those in ctx.mounted also through a
    mount of the daemon, the verdicts compared.  For the mounts each
    worker keeps its own image as of the latest flush and advances it as
    the states do."""
    wdir = os.path.join(work, "w%d" % k)
    os.makedirs(os.path.join(wdir, "smnt"), exist_ok=True)
    mine = list(range(k, len(states), jobs))
    inproc = {}
    if ctx.inproc:
        for i, problems, cr in run_inproc(mine, states, ctx, wdir):
            if i in ctx.mounted:
                inproc[i] = (problems, cr)
            else:
                out((i, problems, cr, []))
    durable = os.path.join(wdir, "durable.img")
    sparse_copy(ctx.base, durable)
    applied = 0
    for i in (i for i in mine if i in ctx.mounted):
        st = states[i]
        if st.epoch_start > applied:
            apply_entries(durable, ctx.logpath, ctx.ents,
                          [n for n in range(applied, st.epoch_start)
                           if ctx.ents[n][0] == "write"])
            applied = st.epoch_start
        problems, cr, notes = check_state(st, wdir, durable, ctx)
        if i in inproc:
            problems, cr = merge_verdicts(inproc[i], (problems, cr))
        out((i, problems, cr, notes))


def mount_sample(states, every, seed):
    """The states also checked through a mount: a seeded one in @every
    (all with 1, none with 0) and always the end of the log, whose state is
    the one the recording's own unmount left."""
    if every <= 0:
        return set()
    rnd = random.Random("mount:%s" % seed)
    pick = {i for i in range(len(states)) if every == 1 or rnd.randrange(every) == 0}
    pick.update(i for i, st in enumerate(states) if st.desc == "end of log")
    return pick


def run_states(states, ctx, jobs, work):
    """{state index: (problems, cannot repair)} from @jobs workers."""
    results = {}
    if jobs <= 1:
        worker(0, 1, states, ctx, work, lambda r: results.update({r[0]: r[1:]}))
        return results
    mp = multiprocessing.get_context("fork")
    q = mp.Queue()
    procs = [mp.Process(target=worker, args=(k, jobs, states, ctx, work, q.put))
             for k in range(jobs)]
    start = last = time.time()
    try:
        for p in procs:
            p.start()
        while len(results) < len(states):
            if time.time() - last >= 60:	# a long sweep says how far it got
                last = time.time()
                print("progress: %d of %d crash states in %.0f s" % (
                    len(results), len(states), last - start), file=sys.stderr, flush=True)
            try:
                r = q.get(timeout=5)
                results[r[0]] = r[1:]
            except queue.Empty:
                if any(p.exitcode not in (None, 0) for p in procs):
                    die("a checker worker failed")
    finally:
        for p in procs:	# SIGTERM: each unmounts its state on the way out
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(150)
    return results


def print_recording(d, ents):
    """After an inconsistent state: what the recording daemon said and, for
    a short log, the log itself (entry number, then w<sector>+<sectors>,
    F for FUA, "flush" or the mark's name), so that a report from a run
    whose directory is gone still tells which write order failed."""
    try:
        with open(os.path.join(d, "mnt.err")) as f:
            said = f.read().strip()
    except OSError:
        said = ""
    if said:
        print("recording daemon said: " + " | ".join(said.splitlines()[-4:])[-300:])
    if len(ents) > 120:
        print("write log: %d entries (iomapfs-replay --log %s --list)" % (
            len(ents), os.path.join(d, "log")))
        return
    words = []
    for n, (kind, flags, sector, nr, _, mark) in enumerate(ents):
        if kind == "write":
            words.append("%d:w%d+%d%s" % (n, sector, nr, "F" if flags & LOG_FUA else ""))
        else:
            words.append("%d:%s" % (n, "flush" if kind == "flush" else mark))
    print("write log: " + " ".join(words))


def recheck_state(st, ctx, work):
    """Check @st once more, from scratch and alone: the problems now."""
    wdir = os.path.join(work, "again")
    os.makedirs(os.path.join(wdir, "smnt"), exist_ok=True)
    durable = os.path.join(wdir, "durable.img")
    sparse_copy(ctx.base, durable)
    apply_entries(durable, ctx.logpath, ctx.ents, [n for n in range(st.epoch_start)
                                                   if ctx.ents[n][0] == "write"])
    return check_state(st, wdir, durable, ctx)[0]


def recheck_note(first, again):
    """Does an inconsistency follow from the log (the same problems when
    checked again), or was it this check run's (a replay mount that failed
    or hung once)?"""
    if not again:
        return "checked again: consistent (the first check's own failure, not the log's)"
    if again == first:
        return "checked again: the same problems"
    return "checked again: " + "; ".join(again[:3])


def check(args):
    ctx = Ctx(args)
    states = enumerate_states(ctx.ents, ctx.marks, args.subsets, args.seed)
    if args.max_states and len(states) > args.max_states:
        rnd = random.Random(args.seed)
        states = sorted(rnd.sample(states, args.max_states), key=lambda s: s.epoch_start)
    ctx.inproc = not args.no_inproc
    ctx.mounted = mount_sample(states, 1 if args.no_inproc else args.mount_every,
                               args.seed)
    work = work_dir(args)
    start = time.time()
    try:
        results = run_states(states, ctx, args.jobs, work)
        secs = time.time() - start
        first_bad = next((i for i in range(len(states)) if results[i][0]), None)
        if first_bad is not None:
            again = recheck_state(states[first_bad], ctx, work)
            results[first_bad][2].append(recheck_note(results[first_bad][0], again))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    bad, cannot, kinds = 0, 0, {}
    for i, st in enumerate(states):
        problems, cr, notes = results[i]
        cannot += cr
        for k in {problem_kind(p) for p in problems}:
            kinds[k] = kinds.get(k, 0) + 1
        if problems:
            bad += 1
            if bad <= args.show:
                print("INCONSISTENT: crash %s (%d writes of the epoch applied):" % (
                    st.desc, len(st.writes)))
                for p in problems[:6] + notes:
                    print("    " + p)
        elif args.verbose:
            print("ok: crash %s" % st.desc)
    for k in sorted(kinds):
        print("%d crash states: %s" % (kinds[k], k))
    if cannot:
        print("fsck said \"cannot repair\" for %d crash states" % cannot)
    if bad:
        print_recording(args.dir, ctx.ents)
    print("checked in %.1f s with %d jobs (%.1f states/s; %s, %d also mounted)" % (
        secs, args.jobs, len(states) / secs if secs else 0,
        "in-process" if ctx.inproc else "no in-process check", len(ctx.mounted)),
        file=sys.stderr)
    print("%d crash states, %d consistent, %d inconsistent" % (
        len(states), len(states) - bad, bad))
    return 1 if bad or cannot else 0


def shutdown_mode(args):
    """ace-do / ace-verify: the single-op workloads without a write log,
    for a crash made with FS_IOC_SHUTDOWN on any filesystem (godown)."""
    if args.cmd == "ace-do":
        orc = Oracle(args.dir, os.devnull, True, log=False)
        try:
            wl_ace(args.dir, orc, args)
        finally:
            PatternFile.close_all()
        with open(args.expect, "w") as f:
            json.dump({"reqs": orc.active, "names": PatternFile.names}, f)
        return 0
    with open(args.expect) as f:
        exp = json.load(f)
    problems = check_reqs(args.dir, exp["reqs"]) + walk_files(args.dir, True, exp["names"])
    for p in problems:
        print(p)
    return 1 if problems else 0


def main():
    # A timeout's SIGTERM unwinds like an exception: every finally unmounts.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cmd", choices=["record", "check", "run", "ace-do", "ace-verify"])
    ap.add_argument("workload", nargs="?")
    ap.add_argument("-d", "--dir", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ops", type=int, default=200)
    ap.add_argument("--size", type=int, default=32, help="image MiB")
    ap.add_argument("--each-section", action="store_true")
    ap.add_argument("--subsets", type=int, default=20)
    ap.add_argument("--max-states", type=int, default=0,
                    help="check a seeded sample of this many states (0: all)")
    ap.add_argument("--mount-every", type=int, default=20, metavar="K",
                    help="also check a seeded 1 in K states (and the end of the "
                    "log) through a daemon mount, comparing verdicts (1: all, 0: none)")
    ap.add_argument("--no-inproc", action="store_true",
                    help="only the daemon mount, every state (the slow path)")
    ap.add_argument("--show", type=int, default=5, help="inconsistent states to describe")
    ap.add_argument("-j", "--jobs", type=int, default=2,
                    help="states checked in parallel, each with its own image and mount")
    ap.add_argument("--work", help="where crash images are built (default: a "
                    "directory in /dev/shm, else in DIR)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--expect", help="ace-do/ace-verify: the requirements file")
    args = ap.parse_args()
    args.dir = os.path.abspath(args.dir)
    if args.cmd in ("ace-do", "ace-verify"):
        workload_fn(args.workload or "")
        sys.exit(shutdown_mode(args))
    if args.cmd in ("record", "run"):
        if not args.workload:
            die("record needs a workload")
        record(args)
    if args.cmd in ("check", "run"):
        sys.exit(check(args))


if __name__ == "__main__":
    main()
