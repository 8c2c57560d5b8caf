#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Compares the built library's ABI with the committed baseline in abi/;
run by `meson test` (suite `abi`).

    check-abi.py abi BASELINE LIBRARY ABIDW ABIDIFF TYPES
        abidiff between BASELINE (abidw's XML of the last release) and
        LIBRARY. Added functions pass; a removed function or a change of
        the symbol versions fails, and where LIBRARY carries DWARF (a
        build with debug info), so does a changed parameter or return type
        and a change of struct Barrier (size, field types, offsets). TYPES
        is "types" where LIBRARY must carry that DWARF, "symbols" where it
        has none (a release build: then only the symbols are compared).
        The suppressions in opaque.abignore beside BASELINE leave out the
        types C sees only through a pointer (BarrierGroup), whose private
        fields may change.

    check-abi.py constants BASELINE HEADER CC
        Compiles a program against HEADER that prints the value of every
        BARRIER_* macro, the fields of BARRIER_NULL, and the size and field
        offsets of Barrier, as C sees them. Every line of BASELINE must come
        out unchanged; new lines pass. (abidiff sees no macros.)

With BARRIER_BLESS_ABI=1 in the environment, both write BASELINE from
the build instead of comparing: done once per release (see README.md,
"Versioning").
"""

import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET


def fail(msg):
    print(f"FAIL: {msg}")
    return 1


def bless():
    return os.environ.get("BARRIER_BLESS_ABI") == "1"


def rust_paths_dropped(abi):
    """abidw's XML with the Rust modules left out: every namespace-decl is
    replaced by what it holds, so that 'barrier_core::group::raw::RawGroup'
    is compared as 'RawGroup'. C knows these types by their names in
    barrier.h, never by a Rust path, so moving a type or a function between
    modules changes nothing a program sees and must not read as an ABI
    change. Sizes, fields, offsets and symbols are still compared."""
    root = ET.fromstring(abi)

    def flatten(parent):
        children = []
        for child in list(parent):
            flatten(child)
            if child.tag == "namespace-decl":
                children.extend(child)
            else:
                children.append(child)
        parent[:] = children

    flatten(root)
    return ET.tostring(root, encoding="unicode")


def check_abi(baseline, library, abidw, abidiff, types):
    if not abidw or not abidiff:
        return fail("abidw/abidiff not found; scripts/setup.sh installs them (Debian: abigail-tools)")
    if bless():
        subprocess.run([abidw, "--no-corpus-path", "--no-show-locs", "--no-comp-dir-path",
                        "--drop-undefined-syms", "--out-file", baseline, library], check=True)
        print(f"wrote {baseline}")
        return 0
    dump = subprocess.run([abidw, "--no-corpus-path", "--no-show-locs", "--no-comp-dir-path",
                           "--drop-undefined-syms", library],
                          capture_output=True, text=True, check=True)
    has_types = "<function-decl name='barrier_" in dump.stdout
    if types == "types" and not has_types:
        return fail(f"{library} has no debug info for the API; the ABI check needs a build with it")
    # Exit status: bit 4 (any change) or 8 (incompatible change). Added
    # functions are left out of the comparison, so they pass.
    args = [abidiff, "--no-added-syms"]
    suppressions = os.path.join(os.path.dirname(os.path.abspath(baseline)), "opaque.abignore")
    if os.path.exists(suppressions):
        args += ["--suppressions", suppressions]
    with open(baseline, encoding="utf-8") as f:
        then = f.read()
    with tempfile.TemporaryDirectory() as tmp:
        old, new = os.path.join(tmp, "baseline.abi"), os.path.join(tmp, "library.abi")
        for path, text in ((old, then), (new, dump.stdout)):
            with open(path, "w", encoding="utf-8") as f:
                f.write(rust_paths_dropped(text))
        r = subprocess.run(args + [old, new], capture_output=True, text=True)
    print(r.stdout, end="")
    print(r.stderr, end="", file=sys.stderr)
    if r.returncode != 0:
        return fail(f"abidiff exited with {r.returncode}: the ABI differs from {baseline}")
    what = "functions, types and symbols" if has_types else "symbols only (no debug info)"
    print(f"ABI compatible with {baseline}: {what}")
    return 0


def macro_names(header):
    with open(header, encoding="utf-8") as f:
        return re.findall(r"^#define (BARRIER_\w+)\s+\S", f.read(), flags=re.M)


def constants(header, cc):
    names = macro_names(header)
    lines = []
    for name in names:
        if name == "BARRIER_NULL":
            lines.append('  { Barrier b = BARRIER_NULL; printf("BARRIER_NULL\\t%d %d %d %d %lld\\n",'
                         ' b.me, b.them, b.pipe[0], b.pipe[1], (long long)b.barriers); }')
        else:
            # Unsigned so that UINT64_MAX and INT64_MIN both print exactly.
            lines.append(f'  printf("{name}\\t%llu\\n", (unsigned long long)({name}));')
    for field in ("me", "them", "pipe", "barriers"):
        lines.append(f'  printf("offsetof(Barrier, {field})\\t%zu\\n", offsetof(Barrier, {field}));')
    lines.append('  printf("sizeof(Barrier)\\t%zu\\n", sizeof(Barrier));')
    lines.append('  printf("_Alignof(Barrier)\\t%zu\\n", _Alignof(Barrier));')
    program = ("#include <stdio.h>\n#include <stddef.h>\n#include \"barrier.h\"\n"
               "int main(void) {\n" + "\n".join(lines) + "\n  return 0;\n}\n")
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, "constants.c"), os.path.join(tmp, "constants")
        with open(src, "w", encoding="utf-8") as f:
            f.write(program)
        subprocess.run(cc.split() + ["-std=c11", "-I", os.path.dirname(os.path.abspath(header)),
                                     "-o", exe, src], check=True)
        out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    return out.splitlines()


def check_constants(baseline, header, cc):
    now = constants(header, cc)
    if bless():
        with open(baseline, "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in now))
        print(f"wrote {baseline}")
        return 0
    with open(baseline, encoding="utf-8") as f:
        then = [line for line in f.read().splitlines() if line]
    by_key = {line.split("\t")[0]: line for line in now}
    status = 0
    for line in then:
        key = line.split("\t")[0]
        if key not in by_key:
            status = fail(f"{key} is gone (baseline: {line!r})")
        elif by_key[key] != line:
            status = fail(f"{key} changed: baseline {line!r}, now {by_key[key]!r}")
    known = {line.split("\t")[0] for line in then}
    added = [line for line in now if line.split("\t")[0] not in known]
    for line in added:
        print(f"added: {line}")
    if status == 0:
        print(f"{len(then)} constants and layout facts as in {baseline}")
    return status


def main(argv):
    if len(argv) == 7 and argv[1] == "abi":
        return check_abi(*argv[2:])
    if len(argv) == 5 and argv[1] == "constants":
        return check_constants(*argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
