# SPDX-License-Identifier: GPL-2.0-or-later
"""The daemon's counters as a mount test reads them: user.iomapfs.stats on
the mount's root holds one "name value" line per counter.  Tests import it
with PYTHONPATH set to tests/mount (see kernel_cache_serves_repeat_reads.sh).
"""
import os
import sys


def counter(mnt, name):
    """The counter @name of the mount at @mnt; exits if it has none."""
    for line in os.getxattr(mnt, 'user.iomapfs.stats').decode().splitlines():
        k, v = line.split()
        if k == name:
            return int(v)
    sys.exit('no counter ' + name)
