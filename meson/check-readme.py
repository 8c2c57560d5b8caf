#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Checks that the code README.md quotes from the examples is still there;
run by `meson test` (test `readme`).

    check-readme.py README SOURCE-ROOT

A fenced code block right after a line `<!-- from PATH -->` must appear in
PATH (relative to SOURCE-ROOT) as consecutive lines, the same but for a
common indentation. PATH is compiled by the build, so the quoted code
compiles too.
"""

import os
import re
import sys
import textwrap


def blocks(readme):
    """(line number, path, code) for every block marked as quoted."""
    lines = readme.split("\n")
    found = []
    i = 0
    while i < len(lines):
        m = re.fullmatch(r"<!-- from (\S+) -->", lines[i].strip())
        if m:
            if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
                found.append((i + 1, m.group(1), None))
                i += 1
                continue
            end = i + 2
            while end < len(lines) and not lines[end].startswith("```"):
                end += 1
            found.append((i + 1, m.group(1), lines[i + 2:end]))
            i = end
        i += 1
    return found


def quoted_in(code, source):
    """Whether the lines of code appear, consecutive, in source."""
    want = textwrap.dedent("\n".join(code))
    have = source.split("\n")
    for start in range(len(have) - len(code) + 1):
        if textwrap.dedent("\n".join(have[start:start + len(code)])) == want:
            return True
    return False


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        readme = f.read()
    status = 0
    found = blocks(readme)
    if not found:
        print(f"FAIL: {argv[1]} quotes no example (no <!-- from PATH --> line)")
        return 1
    for line, path, code in found:
        if code is None:
            print(f"FAIL: {argv[1]}:{line}: no code block follows the mark")
            status = 1
            continue
        try:
            with open(os.path.join(argv[2], path), encoding="utf-8") as f:
                source = f.read()
        except OSError as e:
            print(f"FAIL: {argv[1]}:{line}: {e}")
            status = 1
            continue
        if not code or not quoted_in(code, source):
            print(f"FAIL: {argv[1]}:{line}: the block is not in {path} as it stands; copy it again")
            status = 1
        else:
            print(f"{argv[1]}:{line}: {len(code)} lines as in {path}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
