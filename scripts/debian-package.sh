#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# debian-package.sh [MESON-DIST-OPTIONS...]: the Debian package, built the
# way Debian builds it, then installed and used. Makes the release tarball
# with `meson dist` from the committed tree (which refuses uncommitted
# changes, or leaves them out with --allow-dirty), unpacks it in
# target/debian as libbarrier-X.Y.Z beside
# libbarrier_X.Y.Z.orig.tar.xz, makes the source package, installs the
# build dependencies (apt-get build-dep) and builds the binary packages
# with dpkg-buildpackage, with Debian's tools only (PATH of the system's
# directories, a HOME of its own, no CARGO_HOME or RUSTUP_HOME) and no
# network (unshare -n). Then: the packaging's licences against the
# vendored crates, lintian on the source and the binaries, blhc on the
# build log, readelf on the library; installs the packages and checks
# pkg-config, a C program built shared and static from its answers, the
# man pages and the autopkgtest; purges the packages again (and Debian's
# Rust toolchain, if it installed it).
#
# Builds with the oldest rustc-web and cargo-web the archive has (1.85 on
# Debian 12: the minimum debian/control asks for); DEBIAN_RUST=candidate
# takes apt's candidate instead (1.96 with bookworm-security).
#
# Needs root on Debian 12 or later. Run by test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "debian-package: FAIL: $*" >&2
    exit 1
}
say() {
    echo "debian-package: $*"
}
[ "$(id -u)" -eq 0 ] || fail "needs root (apt-get, dpkg, unshare -n)"

apt_get() {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -y -qq "$@"
}

# The tools that build and check the package, besides its build
# dependencies. man-db for `man`, which the tests run.
apt_get update
apt_get install --no-install-recommends dpkg-dev debhelper lintian blhc autopkgtest man-db >/dev/null

# The tarball, from the committed tree.
dist=target/meson-debian
bash meson/setup-build.sh "$dist" >/dev/null
rm -rf "$dist/meson-dist"
meson dist -C "$dist" --no-tests --formats xztar "$@" | tail -n 1
tarball=$(find "$dist/meson-dist" -name 'libbarrier-*.tar.xz')
[ -f "$tarball" ] || fail "meson dist made no tarball"

version=$(basename "$tarball" .tar.xz)
version=${version#libbarrier-}
work=$PWD/target/debian
rm -rf "$work"
mkdir -p "$work/home"
cp "$tarball" "$work/libbarrier_$version.orig.tar.xz"
tar -xf "$tarball" -C "$work"
src=$work/libbarrier-$version
[ -f "$src/debian/control" ] || fail "the tarball has no debian/"
[ -f "$src/.cargo/config.toml" ] || fail "the tarball has no vendored crates"
deb_version=$(cd "$src" && dpkg-parsechangelog -S Version)
[ "${deb_version%-*}" = "$version" ] || fail "debian/changelog's version $deb_version is not the tarball's $version"
say "$(basename "$tarball") ($(stat -c %s "$tarball") bytes), Debian version $deb_version"

# Every vendored crate is covered by a paragraph of debian/copyright with
# the licence its manifest declares (SPDX there, DEP-5 here).
python3 - "$src" <<'EOF'
import fnmatch, os, re, sys, tomllib

src = sys.argv[1]
paragraphs = []
for block in open(os.path.join(src, "debian", "copyright"), encoding="utf-8").read().split("\n\n"):
    fields, key = {}, None
    for line in block.splitlines():
        if line[:1] in (" ", "\t") and key:
            fields[key] += " " + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            fields[key] = value.strip()
    if "Files" in fields:
        paragraphs.append((fields["Files"].split(), fields["License"].splitlines()[0].strip()))

def dep5(spdx):
    """The DEP-5 form of an SPDX expression as crates write them."""
    s = spdx.replace(" OR ", " or ").replace(" AND ", " and ").replace("/", " or ")
    s = s.replace(" WITH LLVM-exception", " with LLVM exception").replace("-or-later", "+")
    s = s.replace("BSD-2-Clause", "BSD-2-clause")
    s = re.sub(r"^\((.*)\) and ", r"\1, and ", s)
    return s

def normal(expr):
    """Alternatives in a fixed order, so that "A or B" equals "B or A"."""
    return " or ".join(sorted(expr.split(" or "))) if "," not in expr and " and " not in expr else expr

bad = []
vendor = os.path.join(src, "vendor")
for crate in sorted(os.listdir(vendor)):
    with open(os.path.join(vendor, crate, "Cargo.toml"), "rb") as f:
        declared = tomllib.load(f)["package"].get("license")
    path = f"vendor/{crate}/Cargo.toml"
    # DEP-5: the last paragraph that matches a file is the one that counts.
    license = None
    for patterns, lic in paragraphs:
        if any(fnmatch.fnmatchcase(path, p) for p in patterns):
            license = lic
    if declared is None or license is None or normal(dep5(declared)) != normal(license):
        bad.append(f"{crate}: Cargo.toml says {declared!r}, debian/copyright {license!r}")
if bad:
    sys.exit("debian-package: FAIL: debian/copyright and the vendored crates disagree:\n  " + "\n  ".join(bad))
print(f"debian-package: debian/copyright covers the {len(os.listdir(vendor))} vendored crates with their licences")
EOF

# The source package (debian/ of the tarball as the Debian part), for
# lintian's checks of the source.
(cd "$work" && dpkg-source --build "$src" >/dev/null)

# The build dependencies. The Rust toolchain: the oldest rustc-web the
# archive has, unless DEBIAN_RUST=candidate. Where the system had no
# /usr/bin/cargo before, the packages that bring it are purged at the end,
# so that later steps find the cargo they found before.
toolchain_was_there=false
[ ! -e /usr/bin/cargo ] || toolchain_was_there=true
remove_toolchain() {
    local pkgs
    if ! $toolchain_was_there && pkgs=$(dpkg-query -S /usr/bin/cargo /usr/bin/rustc 2>/dev/null); then
        # shellcheck disable=SC2046 # one package name a word
        apt_get purge $(echo "$pkgs" | cut -d: -f1 | sort -u) >/dev/null 2>&1 || true
    fi
}
trap remove_toolchain EXIT
case ${DEBIAN_RUST:-oldest} in
oldest) rust_version=$(apt-cache madison rustc-web | awk '{ print $3 }' | sort -V | head -n 1) ;;
candidate) rust_version=$(apt-cache policy rustc-web | awk '$1 == "Candidate:" { print $2 }') ;;
*) fail "DEBIAN_RUST is oldest or candidate, not $DEBIAN_RUST" ;;
esac
# Where rustc-web is unknown (after Debian 12), build-dep takes rustc.
if [ -n "$rust_version" ] && [ "$rust_version" != "(none)" ]; then
    say "Rust toolchain: rustc-web and cargo-web $rust_version"
    apt_get install --no-install-recommends --allow-downgrades \
        "rustc-web=$rust_version" "cargo-web=$rust_version" "libstd-rust-web-dev=$rust_version" >/dev/null
fi
(cd "$src" && apt_get build-dep ./ >/dev/null)
say "build dependencies installed; Debian's cargo: $(/usr/bin/cargo --version), rustc: $(/usr/bin/rustc --version)"

# The build: Debian's tools only, no network. The log is kept for blhc.
log=$work/build.log
say "dpkg-buildpackage -us -uc -b (log: $log)"
if ! (cd "$src" && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$work/home" LANG=C.UTF-8 \
    unshare -n dpkg-buildpackage -us -uc -b >"$log" 2>&1); then
    tail -n 60 "$log"
    fail "dpkg-buildpackage failed"
fi
tail -n 6 "$log"
grep -q 'Program cargo found: YES (/usr/bin/cargo)' "$log" || fail "the build did not use Debian's cargo"
grep -Eq '^ *[0-9]+/[0-9]+ libbarrier:install / install +OK' "$log" || fail "the build's meson test did not pass its install test"
changes=$work/libbarrier_${deb_version}_$(dpkg --print-architecture).changes
[ -f "$changes" ] || fail "no $changes"

# dpkg-gensymbols, as dh_makeshlibs ran it (-c4): the library exports
# exactly what debian/libbarrier1.symbols lists.
(cd "$src" && dpkg-gensymbols -c4 -plibbarrier1 -Pdebian/libbarrier1 -Idebian/libbarrier1.symbols -O"$work/symbols")
say "dpkg-gensymbols -c4: $(grep -c '^ ' "$work/symbols") symbols, as debian/libbarrier1.symbols lists them"

# lintian: no error, no warning (info tags are shown). The tag
# initial-upload-closes-no-bugs is left out: the package is not uploaded
# to Debian, so there is no ITP bug for it to close.
say "lintian:"
lintian --fail-on error,warning --suppress-tags initial-upload-closes-no-bugs --display-info \
    "$changes" "$work/libbarrier_$deb_version.dsc" || fail "lintian"
say "lintian: no error, no warning"

# The compiler and linker flags in the build log (a C compiler compiles
# only the C programs of the tests, and links the library): those of
# hardening=+all, bindnow included (PIE is the compiler's default).
blhc --bindnow "$log" || fail "blhc: hardening flags missing in the build log"
say "blhc --bindnow: no hardening flag missing"

# The shared library as packaged: read-only relocations bound at load
# time, no executable stack, no text relocations.
unpacked=$work/unpacked
dpkg-deb -x "$work"/libbarrier1_"${deb_version}"_*.deb "$unpacked"
so=$(find "$unpacked" -name 'libbarrier.so.1.*' -type f)
readelf -l -W "$so" | grep -q GNU_RELRO || fail "$so: no RELRO"
readelf -d -W "$so" | grep -Eq '\((FLAGS|FLAGS_1)\).*\b(BIND_NOW|NOW)\b' || fail "$so: not BIND_NOW"
readelf -l -W "$so" | awk '$1 == "GNU_STACK" { exit ($7 ~ /E/) }' || fail "$so: executable stack"
! readelf -d -W "$so" | grep -q TEXTREL || fail "$so: text relocations"
say "readelf: $(basename "$so"): RELRO, BIND_NOW, no executable stack, no text relocations"

# Installed as a user installs it; purged again whatever happens next.
purge() {
    apt_get purge libbarrier1 libbarrier-dev >/dev/null 2>&1 || true
}
trap 'purge; remove_toolchain' EXIT
apt_get install "$work"/libbarrier1_"${deb_version}"_*.deb "$work"/libbarrier-dev_"${deb_version}"_*.deb >/dev/null
say "installed: $(dpkg-query -W -f '${Package} ${Version}\n' libbarrier1 libbarrier-dev | paste -sd ',' | sed 's/,/, /g')"

try=$work/try
mkdir -p "$try"
flags=$(env -u PKG_CONFIG_PATH -u PKG_CONFIG_LIBDIR pkg-config --cflags --libs libbarrier | xargs)
say "pkg-config --cflags --libs libbarrier: $flags"
[ "$flags" = "-I/usr/include/libbarrier -lbarrier" ] || fail "unexpected pkg-config answer: $flags"
for link in shared static; do
    if [ "$link" = shared ]; then
        static=() pc_static=()
    else
        static=(-static) pc_static=(--static)
    fi
    cflags=$(env -u PKG_CONFIG_PATH pkg-config "${pc_static[@]}" --cflags libbarrier | xargs)
    libs=$(env -u PKG_CONFIG_PATH pkg-config "${pc_static[@]}" --libs libbarrier | xargs)
    # shellcheck disable=SC2086 # pkg-config's answers are lists of words
    cc -std=c11 -Wall -Wextra -Wpedantic -Werror "${static[@]}" $cflags \
        examples/fork-sync.c -o "$try/fork-sync-$link" $libs
    out=$("$try/fork-sync-$link") || fail "the $link program failed: $out"
    [ "$(echo "$out" | tail -n 1)" = "parent: done" ] || fail "the $link program did not finish: $out"
    say "fork-sync.c, $link: cc ${static[*]}${static[*]:+ }$cflags ... $libs;" \
        "$(ldd "$try/fork-sync-$link" 2>&1 | grep -o 'libbarrier.so.1 => [^ ]*\|not a dynamic executable');" \
        "ran: $(echo "$out" | tr '\n' ' ')"
done

for page in barrier_sync barrier_group_new; do
    text=$(MANPAGER=cat MANWIDTH=1000 man 3 "$page" 2>&1) || fail "man 3 $page: $text"
    echo "$text" | grep -q "$page" || fail "man 3 $page does not show $page"
    say "man 3 $page: $(echo "$text" | sed -n '/^NAME/{n;p;q}' | sed 's/^ *//')"
done

say "autopkgtest (null runner):"
autopkgtest --output-dir "$work/autopkgtest" \
    "$work"/libbarrier1_"${deb_version}"_*.deb "$work"/libbarrier-dev_"${deb_version}"_*.deb "$src" -- null \
    >"$work/autopkgtest.log" 2>&1 || { cat "$work/autopkgtest.log"; fail "autopkgtest"; }
sed 's/^/  /' "$work/autopkgtest/summary"
grep -q ' PASS' "$work/autopkgtest/summary" || fail "autopkgtest: no test passed"

purge
remove_toolchain
trap - EXIT
if dpkg-query -W -f '${db:Status-Abbrev}\n' libbarrier1 libbarrier-dev 2>/dev/null | grep -q '^.i'; then
    fail "the packages are still installed"
fi
[ ! -e /usr/include/libbarrier ] || fail "/usr/include/libbarrier is still there"
if ! $toolchain_was_there; then
    [ ! -e /usr/bin/cargo ] || fail "/usr/bin/cargo is still there"
    say "Debian's Rust toolchain purged again"
fi
say "built, checked, installed, used and purged"
