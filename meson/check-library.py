#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Checks the built libbarrier.so; run by `meson test`.

    check-library.py exports HEADER MAP LIBRARY NM
        The library exports exactly the functions HEADER declares, each
        under a version node of MAP, and no other symbol at all (no Rust
        symbols, no compiler builtins, nothing from libc).

    check-library.py elf LIBRARY SONAME READELF
        The library's SONAME is SONAME; it has no RPATH/RUNPATH, no text
        relocations and no executable stack; it has full RELRO (a
        GNU_RELRO segment, and every symbol bound at load time).

    check-library.py size LIBRARY MAX STRIP
        LIBRARY, stripped of everything STRIP can remove, is at most MAX
        bytes.

These print what they found and exit 1 on any difference.

    check-library.py functions HEADER
        Prints the names of the functions HEADER declares, one a line
        (meson.build asks for them at setup).
"""

import os
import re
import subprocess
import sys
import tempfile


def fail(msg):
    print(f"FAIL: {msg}")
    return 1


def header_functions(path):
    """Names of the functions a C header declares (not static inline)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r"\\\n", " ", text)
    text = re.sub(r"^\s*#[^\n]*", " ", text, flags=re.M)
    text = text.replace('extern "C"', " ")
    names = set()
    # Each declaration sits between two of ; { } at file level.
    for decl in re.split(r"[;{}]", text):
        decl = " ".join(decl.split())
        m = re.match(r"^(?:extern )?[A-Za-z_][\w \*]*?\b([a-z]\w*)\s*\(", decl)
        if not m or re.match(r"^(static|typedef)\b", decl):
            continue
        names.add(m.group(1))
    return names


def map_nodes(path):
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"/\*.*?\*/", " ", f.read(), flags=re.S)
    return set(re.findall(r"([A-Za-z_][\w.]*)\s*\{", text))


def check_exports(header, mapfile, library, nm):
    declared = header_functions(header)
    nodes = map_nodes(mapfile)
    if not declared:
        return fail(f"no function declarations found in {header}")
    if not nodes:
        return fail(f"no version node found in {mapfile}")
    out = subprocess.run([nm, "-D", "--defined-only", "--with-symbol-versions", library],
                         check=True, capture_output=True, text=True).stdout
    exported = {}
    problems = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) != 3:
            problems.append(f"unexpected nm line: {line!r}")
            continue
        kind, symbol = fields[1], fields[2]
        name, _, version = symbol.partition("@")
        version = version.lstrip("@")
        if kind == "A" and name in nodes and not version:
            continue  # the version node itself
        if kind not in ("T", "W"):
            problems.append(f"{symbol}: exported as {kind}, not as a function")
        if version not in nodes:
            problems.append(f"{symbol}: not under a version node of {mapfile} ({sorted(nodes)})")
        exported[name] = version
    extra = sorted(set(exported) - declared)
    missing = sorted(declared - set(exported))
    foreign = [n for n in extra if not n.startswith("barrier_")]
    print(f"{header}: {len(declared)} functions declared")
    print(f"{library}: {len(exported)} functions exported, versions {sorted(set(exported.values()))}")
    for name in foreign:
        problems.append(f"{name}: exported, and not a barrier_ symbol")
    for name in extra:
        if name not in foreign:
            problems.append(f"{name}: exported, but not declared in {header}")
    for name in missing:
        problems.append(f"{name}: declared in {header}, but not exported")
    for p in problems:
        print(f"FAIL: {p}")
    if problems:
        return 1
    print("exports match the header")
    return 0


def check_elf(library, soname, readelf):
    dynamic = subprocess.run([readelf, "-d", "-W", library],
                             check=True, capture_output=True, text=True).stdout
    headers = subprocess.run([readelf, "-l", "-W", library],
                             check=True, capture_output=True, text=True).stdout
    problems = []
    found = re.findall(r"\(SONAME\)\s+Library soname: \[([^\]]*)\]", dynamic)
    print(f"SONAME: {found}")
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]*)\]", dynamic)
    print(f"NEEDED: {needed}")
    if found != [soname]:
        problems.append(f"SONAME is {found}, expected [{soname!r}]")
    for tag in ("RPATH", "RUNPATH", "TEXTREL"):
        if f"({tag})" in dynamic:
            problems.append(f"has a {tag} entry")
    if re.search(r"\(FLAGS\).*\bTEXTREL\b", dynamic):
        problems.append("has text relocations")
    stack = [line for line in headers.splitlines() if line.split()[:1] == ["GNU_STACK"]]
    if len(stack) != 1:
        problems.append("no GNU_STACK program header")
    elif "E" in stack[0].split()[-2]:
        problems.append(f"executable stack: {stack[0].strip()}")
    if not any(line.split()[:1] == ["GNU_RELRO"] for line in headers.splitlines()):
        problems.append("no GNU_RELRO program header (linked without -z relro)")
    if not re.search(r"\((?:FLAGS|FLAGS_1)\).*\b(?:BIND_NOW|NOW)\b", dynamic):
        problems.append("symbols are bound lazily (linked without -z now)")
    for p in problems:
        print(f"FAIL: {p}")
    if problems:
        return 1
    print("ELF checks passed")
    return 0


def check_size(library, limit, strip):
    with tempfile.TemporaryDirectory() as tmp:
        stripped = os.path.join(tmp, os.path.basename(library))
        subprocess.run([strip, "--strip-all", "-o", stripped, library], check=True)
        size = os.path.getsize(stripped)
    print(f"{library}: {os.path.getsize(library)} bytes, {size} stripped (limit {limit})")
    if size > int(limit):
        return fail(f"stripped, the library is {size - int(limit)} bytes over {limit}")
    print("size within the limit")
    return 0


def main(argv):
    if len(argv) == 6 and argv[1] == "exports":
        return check_exports(*argv[2:])
    if len(argv) == 5 and argv[1] == "elf":
        return check_elf(*argv[2:])
    if len(argv) == 5 and argv[1] == "size":
        return check_size(*argv[2:])
    if len(argv) == 3 and argv[1] == "functions":
        print("\n".join(sorted(header_functions(argv[2]))))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
