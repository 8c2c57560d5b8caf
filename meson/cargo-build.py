#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Builds the Rust side of libbarrier for meson.

    cargo-build.py CARGO MANIFEST TARGET_DIR PROFILE OUTPUT DEPFILE

Runs `cargo build --locked -p barrier-capi` in PROFILE (`release` or
`debug-c`; never `dev`, see Cargo.toml) with its target directory in
TARGET_DIR, then hands meson the staticlib as OUTPUT and a depfile naming
every Rust source cargo compiled, so that ninja rebuilds when any of them
changes, including modules added later.

OUTPUT is only rewritten when its content changed: ninja (restat) then
skips relinking libbarrier.so after a cargo run that changed nothing.
"""

import filecmp
import os
import shutil
import subprocess
import sys


def escape(path):
    return path.replace("\\", "\\\\").replace(" ", "\\ ")


def main(argv):
    if len(argv) != 7:
        sys.exit(__doc__)
    cargo, manifest, target_dir, profile, output, depfile = argv[1:]
    if profile == "release":
        profile_args = ["--release"]
    elif profile == "debug-c":
        profile_args = ["--profile", "debug-c"]
    else:
        sys.exit(f"cargo-build.py: unsupported profile {profile!r}")

    cmd = [cargo, "build", "--locked", "-p", "barrier-capi",
           "--manifest-path", manifest, "--target-dir", target_dir] + profile_args
    # From the source root, so that cargo reads the .cargo/config.toml
    # there: a release tarball's, which points crates-io at vendor/.
    r = subprocess.run(cmd, cwd=os.path.dirname(os.path.abspath(manifest)))
    if r.returncode != 0:
        sys.exit(r.returncode)

    built = os.path.join(target_dir, profile, "libbarrier.a")
    if not os.path.exists(output) or not filecmp.cmp(built, output, shallow=False):
        shutil.copyfile(built, output + ".tmp")
        os.replace(output + ".tmp", output)

    # cargo's dep-info: "<artifact> [<artifact> ...]: <source> <source> ...",
    # spaces in names escaped with a backslash.
    with open(os.path.join(target_dir, profile, "libbarrier.d"), encoding="utf-8") as f:
        info = f.read()
    sep = info.find(": ")
    while sep > 0 and info[sep - 1] == "\\":
        sep = info.find(": ", sep + 1)
    if sep < 0:
        sys.exit("cargo-build.py: no dependency list in cargo's libbarrier.d")
    sources = info[sep + 2:].split("\n", 1)[0].strip()
    with open(depfile, "w", encoding="utf-8") as f:
        f.write(f"{escape(output)}: {sources}\n")


if __name__ == "__main__":
    main(sys.argv)
