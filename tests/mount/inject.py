# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers for the error-injection mount tests (inject_*.sh), which drive
the root's trusted.iomapfs.inject knob from Python: set and read a rule,
and see which errno an operation fails with."""
import os

KNOB = "trusted.iomapfs.inject"


def set_rule(mnt, spec):
    """Replace the injection rule of the filesystem mounted at mnt."""
    os.setxattr(mnt, KNOB, spec.encode())


def rule(mnt):
    """The rule as the daemon shows it (with its seen= and hits= counts)."""
    return os.getxattr(mnt, KNOB).decode()


def fsync_err(fd):
    """0 if fsync(fd) succeeds, else the errno it failed with."""
    try:
        os.fsync(fd)
        return 0
    except OSError as e:
        return e.errno
