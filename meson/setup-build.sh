#!/usr/bin/env bash
# meson-setup.sh BUILD-DIR [SETUP-OPTIONS...]: sets up a meson build
# directory, or reconfigures it with the options given if it exists. A
# directory from before a change of meson_options.txt may refuse to
# reconfigure (as does one set up by another meson): then it is set up
# anew. MESON names the meson to use (default: meson on the PATH). Used by
# test.sh and footprint.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

meson=${MESON:-meson}
build=$1
shift
if ! { [ -f "$build/meson-private/coredata.dat" ] && "$meson" setup --reconfigure "$build" "$@"; }; then
    rm -rf "$build"
    "$meson" setup "$build" "$@"
fi
