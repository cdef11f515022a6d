#!/usr/bin/env bash
# test_man.sh: the man pages under man/ are complete and clean.
#  1. Every function libshmkit.so exports (nm -D --defined-only, so a
#     function added later without a page fails here) has a page of its own
#     or an alias (a one-line ".so man3/PAGE.3") whose target names it in
#     its NAME section.
#  2. Every page renders without a single warning, with man(1) and with
#     groff -ww, and every .so alias points at a page that exists.
#  3. shmkit(1) has a section for every subcommand that `shmkit --help`,
#     `shmkit chan --help` and `shmkit heap --help` list, and names every
#     long option that each subcommand's --help lists.
#  4. `cmake --install` into a temporary prefix puts the pages where
#     `man -M PREFIX/share/man -w` finds them, aliases included.
# It makes no shared memory. Needs man-db and groff-base (.ci/run installs
# them) and nm (binutils, which gcc needs anyway).
set -u

SRC=${SHMKIT_SRC:?set SHMKIT_SRC to the source tree}
BUILD=${SHMKIT_BUILD:?set SHMKIT_BUILD to the build tree}
CLI=${SHMKIT_CLI:?set SHMKIT_CLI to the shmkit binary}
MAN="$SRC/man"
LIB="$BUILD/libshmkit.so"
fails=0

fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}

for tool in man groff nm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "SKIP: $tool is not installed (Debian: man-db, groff-base, binutils)"
    exit 77
  fi
done
[ -f "$LIB" ] || { echo "FAIL: $LIB not built"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmkit-test-man.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT

# -- 1. every exported function has a page ---------------------------------

funcs=$(nm -D --defined-only "$LIB" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u)
nfuncs=$(printf '%s\n' "$funcs" | grep -c .)
if [ "$nfuncs" -lt 50 ]; then
  fail "only $nfuncs functions exported by $LIB: nm output not understood"
fi

# The NAME section of a page: the names before "\-".
page_names() {
  awk '/^\.SH/ { inname = ($2 == "NAME"); next }
       inname { line = line " " $0 }
       END { sub(/\\-.*/, "", line); gsub(/[ ,\\]+/, " ", line); print line }' "$1"
}

for f in $funcs; do
  page="$MAN/man3/$f.3"
  if [ ! -f "$page" ]; then
    fail "$f: no man page man/man3/$f.3"
    continue
  fi
  target=$page
  first=$(head -n 1 "$page")
  case $first in
  .so\ *)
    target="$MAN/${first#.so }"
    if [ ! -f "$target" ]; then
      fail "man/man3/$f.3: '.so ${first#.so }' points at no page"
      continue
    fi
    ;;
  esac
  if ! page_names "$target" | tr ' ' '\n' | grep -qx -- "$f"; then
    fail "$f: ${target#"$MAN"/} does not name it in its NAME section"
  fi
done

# A page for a function that is not exported is a stale page.
for page in "$MAN"/man3/*.3; do
  name=$(basename "$page" .3)
  printf '%s\n' "$funcs" | grep -qx -- "$name" ||
    fail "man/man3/$name.3 documents no exported function"
done

# -- 2. every page renders without a warning -------------------------------

npages=0
for page in "$MAN"/man[137]/*.[137]; do
  rel=${page#"$MAN"/}
  npages=$((npages + 1))
  # .so requests resolve relative to the man directory, as they do when
  # installed.
  # An alias renders its target, which is rendered in its own right: groff
  # alone checks that the .so resolves.
  if ! head -n 1 "$page" | grep -q '^\.so '; then
    out=$(cd "$MAN" && MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings=w -E UTF-8 -l "$rel" 2>&1 >"$tmp/render")
    [ -z "$out" ] || fail "$rel: man --warnings: $out"
    [ -s "$tmp/render" ] || fail "$rel: man rendered nothing"
  fi
  # -Tascii: the narrowest device; a character only UTF-8 has warns there.
  out=$(cd "$MAN" && groff -man -ww -z -Tascii -rLL=78n "$rel" 2>&1)
  [ -z "$out" ] || fail "$rel: groff -ww: $out"
done
[ "$npages" -gt 0 ] || fail "no pages under man/"
# Every reference to a shmkit page, as ".BR shmkit_x (3)", names a page that
# exists.
refs=$(cat "$MAN"/man[137]/*.[137] | grep -oE '^\.BR? shmkit[a-z_]* \([137]\)' |
  sed -E 's/^\.BR? //; s/ \(/ /; s/\)$//' | sort -u)
while read -r name sec; do
  [ -n "$name" ] || continue
  [ -f "$MAN/man$sec/$name.$sec" ] || fail "a page refers to $name($sec), which does not exist"
done <<<"$refs"
for s in man1/shmkit.1 man7/shmkit.7; do
  [ -f "$MAN/$s" ] || fail "man/$s is missing"
done

# -- 3. shmkit(1) covers every subcommand and option -----------------------

page1="$MAN/man1/shmkit.1"
# The page's source with roff's \- turned into -, for option names.
sed 's/\\-/-/g' "$page1" >"$tmp/shmkit.1.txt"

# The commands a help text lists: indented words under "Commands:".
commands_of() {
  awk '/^Commands:/ { on = 1; next } on && /^$/ { exit }
       on && /^  [a-z]/ { print $1 }'
}

check_options() { # "$@": the command words after shmkit
  local opts o
  opts=$("$CLI" "$@" --help 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u)
  for o in $opts; do
    grep -q -- "$o\b" "$tmp/shmkit.1.txt" ||
      fail "shmkit(1) does not mention option $o of 'shmkit $*'"
  done
}

top=$("$CLI" --help | commands_of)
[ -n "$top" ] || fail "'shmkit --help' lists no commands"
for c in $top; do
  grep -Eq "^\.SS \"?shmkit $c( |\"|\$)" "$page1" ||
    fail "shmkit(1) has no section for 'shmkit $c' (.SS \"shmkit $c ...\")"
  check_options "$c"
  case $c in
  chan | heap)
    subs=$("$CLI" "$c" --help | commands_of)
    [ -n "$subs" ] || fail "'shmkit $c --help' lists no commands"
    for s in $subs; do
      grep -Eq "^\.SS \"?shmkit $c $s( |\"|\$)" "$page1" ||
        fail "shmkit(1) has no section for 'shmkit $c $s'"
      check_options "$c" "$s"
    done
    ;;
  esac
done
check_options # the top-level options

# -- 4. the install puts them where man finds them -------------------------

prefix="$tmp/prefix"
if ! cmake --install "$BUILD" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
  fail "cmake --install failed: $(tail -n 5 "$tmp/install.log")"
else
  for name in shmkit shmkit_create shmkit_attach shmkit_chan_send shmkit_heap_alloc; do
    where=$(man -M "$prefix/share/man" -w "$name" 2>/dev/null)
    case $where in
    "$prefix"/share/man/*) ;;
    *) fail "man -M PREFIX/share/man -w $name: '$where', not under the prefix" ;;
    esac
  done
  where=$(man -M "$prefix/share/man" -w 7 shmkit 2>/dev/null)
  [ "$where" = "$prefix/share/man/man7/shmkit.7" ] || fail "shmkit(7) not installed: '$where'"
  # An alias renders its family's page.
  text=$(MANWIDTH=80 man -M "$prefix/share/man" 3 shmkit_attach 2>/dev/null | sed 's/.\x08//g')
  printf '%s\n' "$text" | grep -q 'shmkit_create' ||
    fail "man -M PREFIX/share/man shmkit_attach does not show shmkit_create(3)"
  for f in $funcs; do
    [ -f "$prefix/share/man/man3/$f.3" ] || fail "$f.3 not installed"
  done
fi

if [ "$fails" -gt 0 ]; then
  echo "$fails failure(s)"
  exit 1
fi
echo "ok: $nfuncs functions, $npages pages"
