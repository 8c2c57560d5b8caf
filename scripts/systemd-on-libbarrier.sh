#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# systemd-on-libbarrier.sh [--pam] [252|257]: systemd itself on
# libbarrier. For Debian's systemd 252 (bookworm) and 257 (trixie), or the
# one named: fetches the source package, unpacks it twice, applies
# contrib/systemd/systemd-VERSION.patch to one copy (its barrier.[ch]
# deleted, libbarrier found with pkg-config), builds both with the same
# meson options against a libbarrier built by this project's meson and
# installed into a prefix, and runs both side by side: systemd's own
# test-barrier, systemd-nspawn containers on a busybox tree, and
# nspawn's children killed at several points of their set-up. Every
# scenario must end the same way on both builds. Prints one line per
# scenario and "systemd-on-libbarrier: N passed, M failed"; exits 1 on
# any failure.
#
# Needs a Debian 12 machine, root (nspawn runs containers) and network
# access to deb.debian.org; installs the Debian packages it needs with
# apt-get. Debian's sources come through a private apt configuration
# (deb-src entries for bookworm and trixie), never the machine's own.
# Everything it downloads and builds stays in
# target/systemd-on-libbarrier/; ccache's directory is there too, so that
# the patched tree reuses the objects of the unpatched one.
#
# The one change made to both trees alike: test-barrier skips itself on
# virtual machines (its timing is fragile there); that skip is removed
# from src/test/test-barrier.c so that the test runs here and in CI.
#
# --pam: also PID 1's PAM session child (the barrier's other user): PID 1
# built with PAM from each tree boots a Debian tree made by mmdebstrap
# into a service with PAMName=login, once as it is and once with the
# (sd-pam) child killed before it syncs. About a minute more (PID 1's
# build, mmdebstrap). test.sh runs it with --pam.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$repo/target/systemd-on-libbarrier
me=systemd-on-libbarrier

pam=0
if [ "${1:-}" = --pam ]; then
    pam=1
    shift
fi
case ${1:-both} in
252) versions=(252) ;;
257) versions=(257) ;;
both) versions=(252 257) ;;
*)
    echo "usage: $0 [--pam] [252|257]" >&2
    exit 2
    ;;
esac
if [ "$(id -u)" -ne 0 ]; then
    echo "$me: needs root (apt-get, systemd-nspawn)" >&2
    exit 2
fi

say() { echo "$me: $*"; }
die() {
    echo "$me: FAIL: $*" >&2
    exit 1
}

# ---- Debian packages --------------------------------------------------
# What a minimal systemd build needs (its meson.build requires gperf,
# libcap, libmount, libcrypt and python3's jinja2) and PAM, the
# container's busybox, strace for the kills, ccache, dpkg-source; meson
# and ninja come from setup.sh like the rest of the project's build.
packages=(gcc pkg-config gperf libcap-dev libmount-dev libcrypt-dev libpam0g-dev python3-jinja2
    busybox-static strace ccache dpkg-dev xz-utils)
[ "$pam" = 0 ] || packages+=(mmdebstrap)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "apt-get install ${missing[*]}"
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v meson >/dev/null || ! command -v ninja >/dev/null; then
    bash scripts/setup.sh
fi
# systemd's meson.build imports jinja2 with the python3 found on PATH,
# which may not be Debian's.
if ! python3 -c 'import jinja2' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore jinja2 2>/dev/null ||
        python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
            --break-system-packages jinja2
fi

# ---- Debian's sources, through a private apt configuration -----------
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/apt/parts" \
    "$work/apt/preferences.d" "$work/dl"
cat >"$work/apt/sources.list" <<'EOF'
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
EOF
apt_private=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o "Dir::Etc::SourceParts=$work/apt/parts"
    -o "Dir::Etc::PreferencesParts=$work/apt/preferences.d" -o "Dir::State::Lists=$work/apt/lists"
    -o "Dir::Cache=$work/apt/cache")
apt-get "${apt_private[@]}" update -qq

suite_of() { case $1 in 252) echo bookworm ;; 257) echo trixie ;; esac }
declare -A version_of
for v in "${versions[@]}"; do
    suite=$(suite_of "$v")
    (
        cd "$work/dl"
        apt-get "${apt_private[@]}" source -qq --download-only "systemd/$suite" 2>&1 |
            { grep -v 'unsandboxed as root' || true; }
    )
    version_of[$v]=$(apt-cache "${apt_private[@]}" showsrc systemd 2>/dev/null |
        sed -n "s/^Version: \\($v\\.\\)/\\1/p" | sort -V | tail -1)
    [ -n "${version_of[$v]}" ] || die "no systemd source in $suite"
    [ -f "$work/dl/systemd_${version_of[$v]#*:}.dsc" ] || die "apt-get source fetched no systemd_${version_of[$v]}.dsc"
    say "$v: Debian's source package systemd ${version_of[$v]} ($suite)"
done

# ---- libbarrier, built by the project's meson into a prefix ----------
prefix=$work/prefix
bash meson/setup-build.sh "$work/libbarrier-build" --buildtype=release \
    --prefix="$prefix" --libdir=lib >"$work/libbarrier-setup.log" ||
    die "meson setup of libbarrier failed (see $work/libbarrier-setup.log)"
meson compile -C "$work/libbarrier-build" >"$work/libbarrier-build.log" 2>&1 ||
    die "libbarrier build failed (see $work/libbarrier-build.log)"
rm -rf "$prefix"
meson install -C "$work/libbarrier-build" --tags runtime,devel --quiet >/dev/null
if [ ! -f "$prefix/lib/libbarrier.so.1" ] || [ ! -f "$prefix/lib/pkgconfig/libbarrier.pc" ]; then
    die "the install into $prefix has no libbarrier.so.1 or libbarrier.pc"
fi
say "libbarrier $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --modversion libbarrier) installed into $prefix"

# ---- the two trees of each version, built alike ---------------------
export CCACHE_DIR=$work/ccache CCACHE_NOHASHDIR=1 CCACHE_MAXSIZE=2G
# Everything off that can be but PAM: only libsystemd-shared,
# systemd-nspawn and test-barrier are built, and with --pam PID 1.
# (Used as "options_$v[@]".)
# shellcheck disable=SC2034
options_252=(-Dmode=release -Dtests=true -Dslow-tests=false -Dfuzz-tests=false
    -Dtranslations=false -Dman=false -Dhtml=false -Danalyze=false -Dkernel-install=false
    -Durlify=false -Dlog-message-verification=false -Ddns-over-tls=false -Defi=false -Dtpm=false
    -Dsmack=false -Didn=false -Dacl=false -Daudit=false -Dapparmor=false -Dblkid=false
    -Dbpf-framework=false -Dbzip2=false -Ddbus=false -Delfutils=false -Dgnu-efi=false
    -Dfdisk=false -Dgcrypt=false -Dglib=false -Dgnutls=false -Dhomed=false -Dimportd=false
    -Dkmod=false -Dlibcryptsetup=false -Dlibcurl=false -Dlibfido2=false -Dlibidn=false
    -Dlibidn2=false -Dlibiptc=false -Dlz4=false -Dmicrohttpd=false -Dnss-mymachines=false
    -Dnss-resolve=false -Dopenssl=false -Dp11kit=false -Dpam=true -Dpcre2=false
    -Dpolkit=false -Dpwquality=false -Dqrencode=false -Dremote=false -Drepart=false
    -Dseccomp=false -Dselinux=false -Dsysupdate=false -Dtpm2=false -Dxkbcommon=false
    -Dxz=false -Dzlib=false -Dzstd=false)
# shellcheck disable=SC2034
options_257=(-Dauto_features=disabled -Dmode=release -Dtests=true -Dslow-tests=false
    -Dfuzz-tests=false -Dtranslations=false -Danalyze=false -Dkernel-install=false
    -Durlify=false -Dvcs-tag=false -Ddns-over-tls=false -Defi=false -Dtpm=false -Dsmack=false
    -Dima=false -Dipe=false -Didn=false -Dvmlinux-h=disabled -Dpam=enabled)

# build_version VERSION: unpacks, patches and builds both trees, unless
# they were built already from the same source and patch with the same
# options.
build_version() {
    local v=$1 dsc tree opts="options_$1[@]" stamp start=$SECONDS
    dsc=$work/dl/systemd_${version_of[$v]#*:}.dsc
    stamp=$({ cat "$dsc" "contrib/systemd/systemd-$v.patch"; echo "${!opts}"; } | sha256sum)
    if [ "$(cat "$work/$v/stamp" 2>/dev/null)" = "$stamp" ] &&
        [ -x "$work/$v/orig/build/systemd-nspawn" ] && [ -x "$work/$v/patched/build/systemd-nspawn" ]; then
        say "$v: both trees built already from this source and patch"
        return
    fi
    rm -rf "${work:?}/$v"
    mkdir -p "$work/$v"
    for tree in orig patched; do
        dpkg-source -q -x "$dsc" "$work/$v/$tree" >/dev/null 2>"$work/$v/$tree.unpack.log" ||
            die "dpkg-source -x $dsc failed (see $work/$v/$tree.unpack.log)"
        # test-barrier's skip on virtual machines, out of both trees alike.
        local test_c=$work/$v/$tree/src/test/test-barrier.c
        grep -q 'if (v != VIRTUALIZATION_NONE)' "$test_c" || die "$v: no VM skip in test-barrier.c"
        sed -i '/if (v != VIRTUALIZATION_NONE)/,+1d' "$test_c"
        ! grep -q 'VIRTUALIZATION_NONE' "$test_c" || die "$v: the VM skip of test-barrier.c is still there"
    done
    patch -p1 -s -d "$work/$v/patched" <"contrib/systemd/systemd-$v.patch" ||
        die "contrib/systemd/systemd-$v.patch does not apply to systemd ${version_of[$v]}"
    if [ -e "$work/$v/patched/src/shared/barrier.c" ] || [ -e "$work/$v/patched/src/shared/barrier.h" ]; then
        die "$v: the patch left barrier.[ch] in place"
    fi
    for tree in orig patched; do
        # Build directories inside the trees, each tree its base directory:
        # the compiler sees the same relative paths in both, and ccache
        # hands the patched tree the unpatched tree's objects.
        [ "$tree" = orig ] || ccache --zero-stats >/dev/null
        (
            cd "$work/$v/$tree"
            CCACHE_BASEDIR=$PWD PKG_CONFIG_PATH=$prefix/lib/pkgconfig meson setup build "${!opts}" \
                >build-setup.log 2>&1 ||
                die "$v $tree: meson setup failed (see $work/$v/$tree/build-setup.log)"
            CCACHE_BASEDIR=$PWD ninja -C build systemd-nspawn test-barrier >build.log 2>&1 ||
                die "$v $tree: build failed (see $work/$v/$tree/build.log)"
        )
    done
    echo "$stamp" >"$work/$v/stamp"
    say "$v: both trees built in $((SECONDS - start)) s; the patched tree's compilations: $(ccache --print-stats |
        awk '/^(direct|preprocessed)_cache_hit/ { hit += $2 } /^cache_miss/ { miss = $2 }
            END { printf "%d from ccache, %d compiled", hit, miss }')"
}

# ---- the container's tree: busybox and little else --------------------
os=$work/os
rm -rf "$os"
mkdir -p "$os/usr/bin" "$os/etc" "$os/proc" "$os/sys" "$os/dev" "$os/run" "$os/tmp" "$os/var"
cp /bin/busybox "$os/usr/bin/busybox"
ln -s usr/bin "$os/bin"
ln -s usr/bin "$os/sbin"
for applet in sh cat echo id true false ls sleep; do
    ln -s busybox "$os/usr/bin/$applet"
done
printf 'ID=busybox\nNAME="busybox"\n' >"$os/etc/os-release"

# ---- scenarios ---------------------------------------------------------
passed=0
failed=0
result() { # pass|FAIL TEXT
    if [ "$1" = pass ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    printf '%-4s  %s\n' "$1" "$2"
}

# run_nspawn OUT-PREFIX BUILD-DIR [STRACE-ARGS... --] NSPAWN-ARGS...: runs
# the build's systemd-nspawn on the busybox tree (through strace when
# strace arguments come first), under a timeout; writes OUT.out, OUT.err,
# OUT.status.
run_nspawn() {
    local out=$1 build=$2 pre=()
    shift 2
    if [ "${1:-}" = strace ]; then
        while [ "$1" != -- ]; do
            pre+=("$1")
            shift
        done
        shift
        pre+=(-f -qq -o /dev/null)
    fi
    local status=0
    timeout -k 10 120 "${pre[@]}" "$build/systemd-nspawn" --register=no --keep-unit -q \
        -D "$os" -M sdlb "$@" >"$out.out" 2>"$out.err" || status=$?
    echo "$status" >"$out.status"
}

# ending OUT-PREFIX: how a run ended, comparable between the builds: the
# exit status, stdout and the last line on stderr, with every number
# written N and blanks squeezed. Earlier lines on stderr are left out:
# when a child dies, what the parent was doing in the meantime (say,
# moving it into a cgroup) may fail too, and whether it got that far
# varies from run to run with either build. So is the warning about
# /run/systemd/nspawn/propagate on a machine whose /run is no tmpfs.
ending() {
    local out=$1
    echo "exit $(cat "$out.status")"
    normalize <"$out.out" | sed 's/^/out: /'
    { grep -v 'Attempted to remove disk file system' "$out.err" || true; } | tail -n 1 | normalize | sed 's/^/err: /'
}
normalize() { sed -E 's/\x1b\[[0-9;]*m//g; s/[0-9]+/N/g; s/[[:space:]]+/ /g; s/^ //; s/ $//'; }

# summary_of OUT-PREFIX: the ending on one line.
summary_of() {
    ending "$1" | paste -sd'|' | sed 's/|/; /g'
}

# uid_map_ok OUT-PREFIX: the output (through the container's pty, lines
# end in CR LF) is one uid map line, 0 mapped to a picked uid other than
# 0, 65536 long.
uid_map_ok() {
    tr -d '\r' <"$1.out" |
        awk 'NF == 3 && $1 == 0 && $2 > 0 && $3 == 65536 { ok++ } END { exit !(NR == 1 && ok == 1) }'
}

# raw_line OUT-PREFIX: stdout on one line, blanks squeezed.
raw_line() { tr -d '\r' <"$1.out" | paste -sd' ' | tr -s ' ' | sed 's/^ //'; }

# side_by_side V NAME EXPECT [STRACE-ARGS... --] NSPAWN-ARGS...: runs the
# scenario on both builds and compares the endings; EXPECT, a grep
# pattern, must match the unpatched build's ending (the scenario does
# what it says). With SHOW_UID_MAP=1 the uid maps are checked and shown.
side_by_side() {
    local v=$1 name=$2 expect=$3 tree o=$work/$1/run/orig p=$work/$1/run/patched end_o end_p
    shift 3
    mkdir -p "$work/$v/run"
    for tree in orig patched; do
        run_nspawn "$work/$v/run/$tree" "$work/$v/$tree/build" "$@"
    done
    end_o=$(ending "$o")
    end_p=$(ending "$p")
    if [ "$(cat "$o.status")" = 124 ] || [ "$(cat "$p.status")" = 124 ]; then
        result FAIL "$v $name: timed out (unpatched: exit $(cat "$o.status"), patched: exit $(cat "$p.status"))"
    elif [ "$end_o" != "$end_p" ]; then
        result FAIL "$v $name: unpatched: $(summary_of "$o") <> patched: $(summary_of "$p")"
    elif ! grep -q -- "$expect" <<<"$end_o"; then
        result FAIL "$v $name: both ended as $(summary_of "$o"), expected /$expect/"
    elif [ "${SHOW_UID_MAP:-}" = 1 ] && ! { uid_map_ok "$o" && uid_map_ok "$p"; }; then
        result FAIL "$v $name: uid maps: unpatched '$(normalize <"$o.out")', patched '$(normalize <"$p.out")'"
    elif [ "${SHOW_UID_MAP:-}" = 1 ]; then
        result pass "$v $name: both: exit 0, uid map: unpatched '$(raw_line "$o")', patched '$(raw_line "$p")'"
    else
        result pass "$v $name: both: $(summary_of "$o")"
    fi
}

# bound_barrier_symbols LD_DEBUG_OUTPUT-PREFIX: "LIBRARY SYMBOL" for every
# barrier_* symbol the dynamic linker bound for systemd-nspawn itself.
bound_barrier_symbols() {
    cat "$1".* | sed -n "s/.*binding file [^ ]*systemd-nspawn \[0\] to \([^ ]*\) \[0\]: normal symbol \`\(barrier_[a-z_]*\)'.*/\1 \2/p" |
        sort -u
}

scenarios() { # VERSION
    local v=$1 o=$work/$1/orig/build p=$work/$1/patched/build tree
    mkdir -p "$work/$v/run"

    # systemd's own test of its barrier, from each tree.
    for tree in orig patched; do
        local status=0
        SYSTEMD_SLOW_TESTS=1 timeout -k 10 120 "$work/$v/$tree/build/test-barrier" \
            >"$work/$v/run/test-barrier-$tree.log" 2>&1 || status=$?
        echo "$status" >"$work/$v/run/test-barrier-$tree.status"
    done
    local tests_o tests_p
    tests_o=$(grep -c '^/\* test_' "$work/$v/run/test-barrier-orig.log" || true)
    tests_p=$(grep -c '^/\* test_' "$work/$v/run/test-barrier-patched.log" || true)
    if [ "$(cat "$work/$v/run/test-barrier-orig.status")" = 0 ] &&
        [ "$(cat "$work/$v/run/test-barrier-patched.status")" = 0 ] &&
        [ "$tests_o" = "$tests_p" ] && [ "$tests_o" -gt 0 ]; then
        result pass "$v test-barrier (systemd's src/test/test-barrier.c): both: exit 0, $tests_p tests"
    else
        result FAIL "$v test-barrier: unpatched: exit $(cat "$work/$v/run/test-barrier-orig.status"), $tests_o tests; patched: exit $(cat "$work/$v/run/test-barrier-patched.status"), $tests_p tests (logs in $work/$v/run)"
    fi

    # The patched libsystemd-shared has no barrier, neither exported nor
    # in its symbol table; the unpatched one has.
    local shared_o shared_p n_o n_p all_o all_p
    shared_o=$(find "$o/src/shared" -maxdepth 1 -name 'libsystemd-shared-*.so' | head -1)
    shared_p=$(find "$p/src/shared" -maxdepth 1 -name 'libsystemd-shared-*.so' | head -1)
    n_o=$(nm -D --defined-only "$shared_o" | grep -c ' barrier_' || true)
    n_p=$(nm -D --defined-only "$shared_p" | grep -c ' barrier_' || true)
    all_o=$(nm --defined-only "$shared_o" | grep -c ' barrier_' || true)
    all_p=$(nm --defined-only "$shared_p" | grep -c ' barrier_' || true)
    if [ "$n_p" = 0 ] && [ "$all_p" = 0 ] && [ "$n_o" -gt 0 ]; then
        result pass "$v $(basename "$shared_p") defines barrier_*: unpatched: $n_o exported ($all_o in its symbol table), patched: none"
    else
        result FAIL "$v $(basename "$shared_p") defines barrier_*: unpatched: $n_o exported ($all_o in all), patched: $n_p exported ($all_p in all)"
    fi

    # Where the dynamic linker binds nspawn's barrier calls.
    for tree in orig patched; do
        rm -f "$work/$v/run/bindings-$tree".*
        LD_DEBUG=bindings LD_DEBUG_OUTPUT=$work/$v/run/bindings-$tree \
            timeout -k 10 120 "$work/$v/$tree/build/systemd-nspawn" --register=no --keep-unit -q \
            -D "$os" -M sdlb true >/dev/null 2>&1 || true
    done
    # "LIBRARY SYMBOL" for each barrier_* symbol that systemd-nspawn binds.
    local bound_p bound_o libs_p libs_o
    bound_p=$(bound_barrier_symbols "$work/$v/run/bindings-patched")
    bound_o=$(bound_barrier_symbols "$work/$v/run/bindings-orig")
    libs_p=$(cut -d' ' -f1 <<<"$bound_p" | sort -u | paste -sd' ')
    libs_o=$(cut -d' ' -f1 <<<"$bound_o" | sort -u | paste -sd' ')
    if [ "$libs_p" = "$prefix/lib/libbarrier.so.1" ] && grep -q ' barrier_place_and_sync$' <<<"$bound_p" &&
        [ "$libs_o" = "$shared_o" ]; then
        result pass "$v systemd-nspawn's barrier_* calls bind to: patched: libbarrier.so.1 ($(cut -d' ' -f2 <<<"$bound_p" | paste -sd' ')); unpatched: $(basename "$shared_o")"
    else
        result FAIL "$v systemd-nspawn's barrier_* calls bind to: patched: ${libs_p:-nothing}; unpatched: ${libs_o:-nothing}"
    fi

    # Containers.
    side_by_side "$v" "a command and its exit status" '^exit 7$' \
        sh -c 'echo hello from the container; exit 7'
    SHOW_UID_MAP=1 side_by_side "$v" "--private-users=pick" '^out: N N N$' \
        --private-users=pick cat /proc/self/uid_map
    side_by_side "$v" "--private-network (interfaces)" '^out: lo$' \
        --private-network ls /sys/class/net
    side_by_side "$v" "a missing command" 'No such file or directory' /no/such/command

    # Children killed during their set-up: strace delivers SIGKILL when the
    # child enters a system call that no other process of nspawn's makes
    # before (-P: on that path only). The outer child forks the inner one,
    # which becomes the container's PID 1; the numbers are those of the
    # barrier's sync points in nspawn.c. (257's parent calls setresuid()
    # too, but only once its sync #5.1 is over, which a child killed before
    # its #5 never lets happen.)
    side_by_side "$v" "outer child killed at keyctl (early in its set-up)" 'terminated by signal KILL' \
        strace -e trace=keyctl -e inject=keyctl:signal=SIGKILL:when=1 -- true
    side_by_side "$v" "outer child killed at unlink(/run/host/notify) (just before it forks the inner child)" \
        'terminated by signal KILL' \
        strace -P /run/host/notify -e trace=unlink -e inject=unlink:signal=SIGKILL:when=1 -- true
    side_by_side "$v" "inner child killed at setresuid (after the uid map handshake)" 'Child died too early' \
        strace -e trace=setresuid -e inject=setresuid:signal=SIGKILL:when=1 -- --private-users=pick true
    side_by_side "$v" "inner child killed at unshare(CLONE_NEWNET) (before sync #3)" 'Child died too early' \
        strace -e trace=unshare -e inject=unshare:signal=SIGKILL:when=1 -- --private-network true
    # 257's parent waits there with barrier_sync(), which returns at once
    # when the child has placed as many barriers as the parent: it learns
    # of the death from SIGCHLD. 252's parent calls barrier_place_and_sync().
    local after_hostname='Child died too early'
    [ "$v" = 257 ] && after_hostname='Container sdlb terminated by signal KILL'
    side_by_side "$v" "inner child killed at sethostname (before sync #5)" "$after_hostname" \
        strace -e trace=sethostname -e inject=sethostname:signal=SIGKILL:when=1 -- true
    side_by_side "$v" "container's command killed at its execve (after the last sync)" 'terminated by signal KILL' \
        strace -P /usr/bin/true -e trace=execve -e inject=execve:signal=SIGKILL:when=1 -- /usr/bin/true

    # Twenty user-namespace containers in a row on each build.
    local ok_o=0 ok_p=0 u=$work/$v/run/userns
    for _ in $(seq 1 20); do
        run_nspawn "$u" "$o" --private-users=pick cat /proc/self/uid_map
        [ "$(ending "$u")" = "$(printf 'exit 0\nout: N N N')" ] && uid_map_ok "$u" && ok_o=$((ok_o + 1))
    done
    for _ in $(seq 1 20); do
        run_nspawn "$u" "$p" --private-users=pick cat /proc/self/uid_map
        [ "$(ending "$u")" = "$(printf 'exit 0\nout: N N N')" ] && uid_map_ok "$u" && ok_p=$((ok_p + 1))
    done
    if [ "$ok_o" = 20 ] && [ "$ok_p" = 20 ]; then
        result pass "$v 20 --private-users=pick containers in a row: both: 20 of 20 exit 0 with their uid map"
    else
        result FAIL "$v 20 --private-users=pick containers in a row: unpatched: $ok_o of 20 fine, patched: $ok_p of 20"
    fi
}

# ---- --pam: PID 1's PAM session child --------------------------------
# PID 1 of each tree (for 257 also systemd-executor, which runs the PAM
# code) boots a Debian tree made by mmdebstrap, under the same unpatched
# systemd-nspawn, straight into a oneshot service with PAMName=login. The
# build directory is bind-mounted at its own path, so that the binaries
# find their libraries there (and 257's PID 1 its executor); of the
# tree's own systemd only systemd-shutdown runs, at power-off.

# pam_build VERSION: PID 1 (and 257's systemd-executor) of each tree.
pam_build() {
    local v=$1 tree targets=(systemd) start=$SECONDS
    [ "$v" = 252 ] || targets+=(systemd-executor)
    for tree in orig patched; do
        (
            cd "$work/$v/$tree"
            CCACHE_BASEDIR=$PWD ninja -C build "${targets[@]}" >build-pid1.log 2>&1 ||
                die "$v $tree: build of ${targets[*]} failed (see $work/$v/$tree/build-pid1.log)"
        )
    done
    say "$v: ${targets[*]} built from both trees in $((SECONDS - start)) s"
}

# pam_tree VERSION: the Debian tree to boot, with the units of the test.
pam_tree() {
    local v=$1 root=$work/pam/os-$1 start=$SECONDS
    if [ ! -f "$root.done" ]; then
        rm -rf "$root"
        mkdir -p "$work/pam"
        mmdebstrap --quiet --variant=minbase --include=systemd,libpam-modules "$(suite_of "$v")" "$root" ||
            die "mmdebstrap $(suite_of "$v") failed"
        touch "$root.done"
        say "$v: Debian tree made by mmdebstrap $(suite_of "$v") in $((SECONDS - start)) s"
    fi
    mkdir -p "$root/sdlb-go" "$root/etc/systemd/system"
    # A root service with a PAM session: pam_loginuid and pam_mail show in
    # its loginuid and $MAIL; it looks for its (sd-pam) process and the
    # program that forked it (BUILD/: the build directory, not the tree's
    # own systemd).
    cat >"$root/etc/systemd/system/pam-test.service" <<'UNIT'
[Unit]
Description=A service with a PAM session
DefaultDependencies=no
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
User=root
PAMName=login
TimeoutStopSec=20
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console
ExecStart=/bin/sh -c 'echo "pam-test: loginuid $(cat /proc/self/loginuid), MAIL=$MAIL"; \
    for p in /proc/[0-9]*; do [ "$(cat $p/comm)" = "(sd-pam)" ] || continue; \
    echo "pam-test: (sd-pam) running as uid $(awk "/^Uid:/ {print \\$2}" $p/status)," \
    "forked by $(readlink $p/exe | sed "s|^/.*/build/|BUILD/|")"; \
    grep -q libbarrier.so.1 $p/maps && echo "pam-test: (sd-pam) maps libbarrier.so.1"; done; true'
UNIT
    # The same service, once /sdlb-go/go exists: strace attaches to PID 1
    # first.
    cat >"$root/etc/systemd/system/pam-test.path" <<'UNIT'
[Unit]
Description=Starts pam-test.service once /sdlb-go/go exists
DefaultDependencies=no

[Path]
PathExists=/sdlb-go/go
UNIT
}

# pam_boot OUT-PREFIX VERSION TREE [kill]: boots PID 1 of TREE's PAM
# build; with "kill", (sd-pam) is killed by strace when it drops its
# supplementary groups (setgroups), before it places its barrier.
pam_boot() {
    local out=$1 v=$2 tree=$3 kill=${4:-} root=$work/pam/os-$2 build=$work/$2/$3/build
    local unit=pam-test.service status=0 runner nspawn_pid pid1="" strace_pid="" deadline
    [ -z "$kill" ] || unit="pam-test.path"
    rm -f "$root/sdlb-go/go"
    timeout -k 10 120 "$work/$v/orig/build/systemd-nspawn" --register=no --keep-unit -q \
        -D "$root" -M "sdlbpam$v" --bind-ro="$build" --bind-ro="$prefix" --bind="$root/sdlb-go:/sdlb-go" \
        "$build/systemd" "systemd.unit=$unit" >"$out.out" 2>"$out.err" &
    runner=$!
    if [ -n "$kill" ]; then
        # The container's PID 1: nspawn's child named systemd (nspawn is
        # the child of timeout).
        deadline=$((SECONDS + 60))
        while [ -z "$pid1" ] && [ $SECONDS -lt $deadline ] && kill -0 "$runner" 2>/dev/null; do
            nspawn_pid=$(pgrep -P "$runner" | head -1 || true)
            [ -z "$nspawn_pid" ] || pid1=$(pgrep -P "$nspawn_pid" -x systemd | head -1 || true)
            [ -n "$pid1" ] || sleep 0.05
        done
        if [ -n "$pid1" ]; then
            timeout -k 10 120 strace -f -qq -o /dev/null -p "$pid1" \
                -e trace=setgroups -e inject=setgroups:signal=SIGKILL:when=1 &
            strace_pid=$!
            # Attached once PID 1 shows a tracer.
            while [ $SECONDS -lt $deadline ] && kill -0 "$strace_pid" 2>/dev/null &&
                [ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$pid1/status" 2>/dev/null || echo 0)" = 0 ]; do
                sleep 0.05
            done
        fi
        touch "$root/sdlb-go/go"
    fi
    wait "$runner" || status=$?
    [ -z "$strace_pid" ] || wait "$strace_pid" || true
    echo "$status" >"$out.status"
    [ -z "$kill" ] || [ -n "$pid1" ] || echo "no PID 1 found to attach strace to" >>"$out.err"
}

# pam_ending OUT-PREFIX: the exit status, the service's lines (but the
# one about libbarrier), PID 1's errors about PAM and its messages about
# the service (its status lines, "Finished ...", are left out: PID 1 shows
# them only until start-up is over, which the path unit may outlast).
pam_ending() {
    local out=$1 console
    console=$(sed 's/\x1b\[[0-9;]*m//g; s/\r//g' "$out.out" "$out.err")
    echo "exit $(cat "$out.status")"
    grep '^pam-test:' <<<"$console" | grep -v 'maps libbarrier' || true
    grep -o 'PAM initialization failed\|PAM failed.*' <<<"$console" || true
    grep -o '^pam-test.service: .*' <<<"$console" || true
}

one_line() { paste -sd'|' | sed 's/|/; /g'; }

pam_scenarios() { # VERSION
    local v=$1 o=$work/$1/run/pam-orig p=$work/$1/run/pam-patched end_o end_p maps_o maps_p
    mkdir -p "$work/$v/run"

    pam_boot "$o" "$v" orig
    pam_boot "$p" "$v" patched
    end_o=$(pam_ending "$o")
    end_p=$(pam_ending "$p")
    maps_o=$(grep -c 'maps libbarrier.so.1' "$o.out" || true)
    maps_p=$(grep -c 'maps libbarrier.so.1' "$p.out" || true)
    if [ "$end_o" = "$end_p" ] && grep -q '(sd-pam) running' <<<"$end_o" &&
        grep -q '^pam-test.service: Deactivated successfully' <<<"$end_o" && ! grep -q '^PAM' <<<"$end_o" &&
        [ "$maps_o" = 0 ] && [ "$maps_p" = 1 ]; then
        result pass "$v PID 1, a service with PAMName=login: both: $(one_line <<<"$end_o"); patched: (sd-pam) maps libbarrier.so.1"
    else
        result FAIL "$v PID 1, a service with PAMName=login: unpatched: $(one_line <<<"$end_o"), libbarrier mapped: $maps_o; patched: $(one_line <<<"$end_p"), libbarrier mapped: $maps_p (console in $work/$v/run)"
    fi

    pam_boot "$o" "$v" orig kill
    pam_boot "$p" "$v" patched kill
    end_o=$(pam_ending "$o")
    end_p=$(pam_ending "$p")
    if [ "$end_o" = "$end_p" ] && grep -q '^PAM initialization failed$' <<<"$end_o" &&
        grep -q '^pam-test.service: Deactivated successfully' <<<"$end_o" && ! grep -q '(sd-pam) running' <<<"$end_o"; then
        result pass "$v PID 1, (sd-pam) killed at setgroups, before it syncs: both: $(one_line <<<"$end_o")"
    else
        result FAIL "$v PID 1, (sd-pam) killed at setgroups, before it syncs: unpatched: $(one_line <<<"$end_o"); patched: $(one_line <<<"$end_p") (console in $work/$v/run)"
    fi
}

for v in "${versions[@]}"; do
    build_version "$v"
done
for v in "${versions[@]}"; do
    say "$v: scenarios, unpatched systemd ${version_of[$v]} and the same on libbarrier"
    scenarios "$v"
    if [ "$pam" = 1 ]; then
        pam_build "$v"
        pam_tree "$v"
        say "$v: PID 1's PAM session, unpatched systemd ${version_of[$v]} and the same on libbarrier"
        pam_scenarios "$v"
    fi
done
say "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
