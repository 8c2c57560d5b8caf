#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Fails when a C test program in DIR is missing from meson's list.

    check-c-test-list.py DIR NAME...

Every test-*.c under DIR must be one of the NAMEs (its path in DIR
without .c) (c_test_programs in
c-tests/meson.build), and every NAME must exist as DIR/NAME.c.
"""

import pathlib
import sys


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    directory = pathlib.Path(argv[1])
    listed = set(argv[2:])
    present = {str(p.relative_to(directory).with_suffix("")) for p in directory.rglob("test-*.c")}
    status = 0
    for name in sorted(present - listed):
        print(f"FAIL: {directory / (name + '.c')} is not in c_test_programs")
        status = 1
    for name in sorted(listed - present):
        print(f"FAIL: c_test_programs names {name}, but {directory / (name + '.c')} does not exist")
        status = 1
    if status == 0:
        print(f"{len(present)} C test programs, all listed: {' '.join(sorted(present))}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
