#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Adds the vendored crates to a release tarball (run by `meson dist`).

    dist-vendor.py CARGO

meson runs it with MESON_DIST_ROOT, the tree that becomes the tarball.
`cargo vendor` copies every crate of Cargo.lock into vendor/ there, and
.cargo/config.toml points crates-io at that directory, so that the C
library builds from the tarball with no network.

Only the crates the C library is built from (barrier-capi's normal and
build dependencies, on any target) keep their sources. The others, which
only the Rust tests use, are cut down to their Cargo.toml, an empty
src/lib.rs and their checksum: cargo reads the manifest of every package
in the lock file before it builds anything, but never opens the sources
of one it does not compile. That keeps the tarball at about 0.6 MB
(xz); with every crate's sources it would be about 6.5 MB.
"""

import json
import os
import shutil
import subprocess
import sys


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    cargo = argv[1]
    root = os.environ["MESON_DIST_ROOT"]
    manifest = os.path.join(root, "Cargo.toml")
    vendor = os.path.join(root, "vendor")

    # cargo names every crate it copies; only a failure is worth reading.
    r = subprocess.run([cargo, "vendor", "--locked", "--versioned-dirs",
                        "--manifest-path", manifest, vendor],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"dist-vendor.py: cargo vendor failed:\n{r.stderr}")

    # What the C library compiles: "name vversion" for each crate from a
    # registry (path crates print their directory as well).
    tree = subprocess.run(
        [cargo, "tree", "--locked", "--manifest-path", manifest,
         "-p", "barrier-capi", "-e", "normal,build", "--target", "all",
         "--prefix", "none", "--format", "{p}"],
        check=True, stdout=subprocess.PIPE, text=True).stdout
    needed = set()
    for line in tree.splitlines():
        words = line.split()
        if len(words) == 2 and words[1].startswith("v"):
            needed.add(f"{words[0]}-{words[1][1:]}")
    if not any(n.startswith("libc-") for n in needed):
        sys.exit(f"dist-vendor.py: libc missing from barrier-capi's dependencies:\n{tree}")

    kept, stubbed = [], []
    for crate in sorted(os.listdir(vendor)):
        path = os.path.join(vendor, crate)
        if crate in needed:
            kept.append(crate)
            continue
        for entry in os.listdir(path):
            if entry not in ("Cargo.toml", ".cargo-checksum.json"):
                full = os.path.join(path, entry)
                if os.path.isdir(full) and not os.path.islink(full):
                    shutil.rmtree(full)
                else:
                    os.remove(full)
        # A manifest without targets is refused; an empty library is one.
        os.mkdir(os.path.join(path, "src"))
        open(os.path.join(path, "src", "lib.rs"), "w").close()
        # The package checksum (compared with Cargo.lock) stays; the list
        # of file checksums goes with the files.
        checksum = os.path.join(path, ".cargo-checksum.json")
        with open(checksum, encoding="utf-8") as f:
            sums = json.load(f)
        sums["files"] = {}
        with open(checksum, "w", encoding="utf-8") as f:
            json.dump(sums, f)
        stubbed.append(crate)
    missing = needed - set(kept)
    if missing:
        sys.exit(f"dist-vendor.py: not vendored: {sorted(missing)}")

    os.makedirs(os.path.join(root, ".cargo"), exist_ok=True)
    with open(os.path.join(root, ".cargo", "config.toml"), "w", encoding="utf-8") as f:
        f.write("# Written by meson/dist-vendor.py: crates come from vendor/, not the network.\n"
                "[source.crates-io]\n"
                "replace-with = \"vendored-sources\"\n"
                "\n"
                "[source.vendored-sources]\n"
                "directory = \"vendor\"\n")
    print(f"dist-vendor.py: vendored {', '.join(kept)}; "
          f"manifests only: {len(stubbed)} crates used by the Rust tests")


if __name__ == "__main__":
    main(sys.argv)
