#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Prints the C test programs of c-tests/, for c-tests/meson.build.

    find-c-tests.py DIR

One line per DIR/test-*.c and DIR/*/test-*.c: its path in DIR without
.c (e.g. barrier/test-scenarios), sorted. meson runs this when it
configures the build, so a new program is found at the next
`meson setup --reconfigure`.
"""

import pathlib
import sys


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    directory = pathlib.Path(argv[1])
    found = list(directory.glob("test-*.c")) + list(directory.glob("*/test-*.c"))
    for path in sorted(found):
        print(path.relative_to(directory).with_suffix("").as_posix())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
