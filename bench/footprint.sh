#!/usr/bin/env bash
# Prints what libbarrier costs in bytes, against its targets:
#   - libbarrier.so, stripped (target: at most 24 KiB);
#   - the text that linking libbarrier.a adds to a C program that uses
#     every function of the two-party barrier, compared with the same
#     program whose functions are empty stubs (target with
#     -Wl,--gc-sections: at most 8 KiB, so that such a program pays
#     nothing for groups); the same for a program that uses every
#     barrier_group_* function (target with -Wl,--gc-sections: at most
#     16 KiB); each also linked without --gc-sections, for information.
# "text" is the Berkeley figure of `size`: code, read-only data, unwind
# tables and dynamic-linking tables. The shared library is measured twice:
# as cargo links it (target/release/libbarrier.so, no SONAME), and as meson
# links and installs it (release build in target/meson-release, with lld;
# skipped if meson is not installed: bash scripts/setup.sh). Extra
# arguments name more shared libraries to measure stripped.
# barrier-capi/tests/footprint.rs asserts the targets in `cargo test`, the
# meson test `size` those of meson's library.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
cargo build --release --locked -q -p barrier-capi
lib=$target/release
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

shared_max=24576
static_max=8192
group_max=16384
status=0

# Sets `verdict` to whether figure meets limit, and status to 1 if not.
# (Called directly, not in $(...), whose subshell would lose the status.)
judge() { # figure limit
    if [ "$1" -le "$2" ]; then
        verdict="met"
    else
        verdict="NOT met"
        status=1
    fi
}

stripped_size() {
    cp "$1" "$tmp/stripped.so"
    strip --strip-all "$tmp/stripped.so"
    stat -c %s "$tmp/stripped.so"
}

echo "== libbarrier.so ($lib/libbarrier.so)"
so=$(stripped_size "$lib/libbarrier.so")
echo "  unstripped: $(stat -c %s "$lib/libbarrier.so") bytes"
judge "$so" $shared_max
echo "  stripped:   $so bytes (target <= $shared_max: $verdict)"
size -A "$tmp/stripped.so" | awk '$2 > 0 && $1 ~ /^\./ { printf "    %-20s %6d\n", $1, $2 }'
meson_build=target/meson-release
meson_release() {
    bash meson/setup-build.sh "$meson_build" --buildtype=release -Dlinker=lld
    meson compile -C "$meson_build" barrier
}
if command -v meson >/dev/null; then
    meson_release >"$tmp/meson.log" 2>&1 || {
        cat "$tmp/meson.log"
        exit 1
    }
    set -- "$meson_build/libbarrier.so" "$@"
else
    echo "  (meson is not installed: the library meson links is not measured)"
fi
for extra in "$@"; do
    s=$(stripped_size "$extra")
    judge "$s" $shared_max
    echo "  $extra stripped: $s bytes (target <= $shared_max: $verdict)"
done

# A program that takes the address of every function named on standard
# input, so that the linker keeps them all; with STUBS, each is an empty
# function instead.
program() { # file.c
    local names
    mapfile -t names
    {
        printf 'void %s(void);\n' "${names[@]}"
        echo '#ifdef STUBS'
        printf 'void %s(void) {}\n' "${names[@]}"
        echo '#endif'
        echo 'void (*volatile keep[])(void) = {'
        printf '        %s,\n' "${names[@]}"
        echo '};'
        echo 'int main(void) { return keep[0] == 0; }'
    } >"$1"
    echo "${#names[@]}"
}
nm -D --defined-only "$lib/libbarrier.so" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u >"$tmp/names"
two_party=$(grep -v '^barrier_group_' "$tmp/names" | program "$tmp/two-party.c")
group=$(grep '^barrier_group_' "$tmp/names" | program "$tmp/group.c")

text() { size "$1" | awk 'NR == 2 { print $1 }'; }

static_link() { # name title target
    echo "== static linking: $2"
    for gc in "" "-Wl,--gc-sections"; do
        cc -O2 $gc "$tmp/$1.c" "$lib/libbarrier.a" -o "$tmp/with"
        cc -O2 $gc -DSTUBS "$tmp/$1.c" -o "$tmp/stubs"
        a=$(text "$tmp/with")
        b=$(text "$tmp/stubs")
        added=$((a - b))
        if [ -z "$gc" ]; then
            echo "  default link: text $a - $b (stubs) = $added bytes added (for information)"
            size -A "$tmp/with" >"$tmp/with.A"
            size -A "$tmp/stubs" >"$tmp/stubs.A"
            join <(awk '$1 ~ /^\./ { print $1, $2 }' "$tmp/with.A" | sort) \
                <(awk '$1 ~ /^\./ { print $1, $2 }' "$tmp/stubs.A" | sort) |
                awk '$2 != $3 { printf "    %-20s %+6d\n", $1, $2 - $3 }'
        else
            judge $added "$3"
            echo "  $gc: text $a - $b (stubs) = $added bytes added (target <= $3: $verdict)"
        fi
    done
}
static_link two-party "a program using the $two_party functions of the two-party barrier" $static_max
static_link group "a program using the $group barrier_group_* functions" $group_max
exit $status
