#!/usr/bin/env bash
# Layers only point down (STYLE.md): no two files of src/ call each other.
#
#   tests/callgraph.sh ARCHIVE_OR_OBJECT...
#
# Reads the symbols of every object (the members of liborderd_core.a and the
# other objects built from src/) with nm. A uses B when A leaves undefined a
# global symbol (function or variable) that B defines. Fails, naming the
# symbols both ways, for each pair of objects where A uses B and B uses A,
# unless the pair is in KNOWN below. Calls through a function pointer (a
# callback registered at run time) are not links and do not count.
set -euo pipefail

# Pairs that still call each other, "a.c.o b.c.o" in name order, one a line.
KNOWN=(
)

if [ $# -eq 0 ]; then
  echo "usage: $0 ARCHIVE_OR_OBJECT..." >&2
  exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# "object kind symbol" for every global symbol: kind D (defined) or U (undefined).
for f in "$@"; do
  nm -A --defined-only -g "$f" | awk -F'[: ]+' '{ o = $(NF-3); sub(/.*\//, "", o); print o, "D", $NF }'
  nm -A --undefined-only -g "$f" | awk -F'[: ]+' '{ o = $(NF-2); sub(/.*\//, "", o); print o, "U", $NF }'
done | sort -u >"$tmp/syms"

objects=$(awk '{ print $1 }' "$tmp/syms" | sort -u)
nobj=$(printf '%s\n' "$objects" | grep -c .)
if [ "$nobj" -lt 2 ]; then
  echo "callgraph: only $nobj object(s) read from $*: nothing to check" >&2
  exit 2
fi
# Two members of one name (src/a.c and src/http/a.c) would be read as one.
dups=$(for f in "$@"; do case "$f" in *.a) ar t "$f" ;; *) basename "$f" ;; esac; done | sort | uniq -d)
if [ -n "$dups" ]; then
  echo "callgraph: objects with the same name, cannot tell them apart: $dups" >&2
  exit 2
fi

# "user definer symbol": user leaves symbol undefined, definer defines it.
awk '$2 == "D" { def[$3] = def[$3] " " $1 }
     $2 == "U" { use[$1, $3] = 1; users[$3] = users[$3] " " $1 }
     END {
       for (s in users) {
         if (!(s in def)) continue
         n = split(users[s], u, " "); m = split(def[s], d, " ")
         for (i = 1; i <= n; i++) for (j = 1; j <= m; j++)
           if (u[i] != d[j]) print u[i], d[j], s
       }
     }' "$tmp/syms" | sort -u >"$tmp/edges"

known() {
  local k
  for k in "${KNOWN[@]}"; do [ "$k" = "$1 $2" ] && return 0; done
  return 1
}

bad=0 excused=0
while read -r a b; do
  [[ "$a" < "$b" ]] || continue
  grep -q "^$b $a " "$tmp/edges" || continue
  ab=$(awk -v a="$a" -v b="$b" '$1 == a && $2 == b { printf " %s", $3 }' "$tmp/edges")
  ba=$(awk -v a="$a" -v b="$b" '$1 == b && $2 == a { printf " %s", $3 }' "$tmp/edges")
  if known "$a" "$b"; then
    echo "known: $a <-> $b ($a uses$ab; $b uses$ba)"
    excused=$((excused + 1))
  else
    echo "FAIL: $a and $b call each other: $a uses$ab; $b uses$ba"
    bad=$((bad + 1))
  fi
done < <(awk '{ print $1, $2 }' "$tmp/edges" | sort -u)

# A known pair that no longer calls both ways should leave the list.
for k in "${KNOWN[@]}"; do
  set -- $k
  if ! { grep -q "^$1 $2 " "$tmp/edges" && grep -q "^$2 $1 " "$tmp/edges"; }; then
    echo "note: known pair '$k' no longer calls both ways: remove it from KNOWN in $0"
  fi
done

echo "callgraph: $nobj objects, $(wc -l <"$tmp/edges") links, $bad mutual pair(s), $excused known"
[ "$bad" -eq 0 ]
