#!/usr/bin/env bash
# Run one cross-built Windows test under wine: run_wine.sh PREFIX_DIR TEST.exe [ARGS]
#
# The tests get a wine prefix of their own under the build directory (made
# on first use), never the user's ~/.wine. Exit 77 (skipped) only when
# there is no wine to run them with; any other failure is the test's.
set -u
prefix=$1; shift
wine=$(command -v wine64 || command -v wine || true)
if [ -z "$wine" ]; then
  echo "wine is not installed (Debian: apt-get install wine64): the Windows tests cannot run on this host" >&2
  exit 77
fi
export WINEPREFIX=$prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -d "$prefix/drive_c" ]; then
  mkdir -p "$prefix"
  # One prefix set up at a time: ctest runs tests in parallel.
  ( flock 9; [ -d "$prefix/drive_c" ] || "$wine" wineboot -i >/dev/null 2>&1 ) 9>"$prefix.lock"
fi
exec "$wine" "$@"
