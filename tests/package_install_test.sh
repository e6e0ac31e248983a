#!/usr/bin/env bash
# The .deb on a clean Debian 12 machine (issue 11):
#
#   ORDERD_INSTALL_TEST=1 tests/package_install_test.sh BUILD_DIR VERSION
#
# cpack -G DEB builds the package (or ORDERD_DEB=path/to/orderd_*.deb takes
# one); `debootstrap --variant=minbase bookworm` makes a clean root, with
# the sources a Debian 12 install has (bookworm, -updates, -security, from
# the mirror this machine's apt uses). In a chroot into it:
#   1. `apt-get install -y ./orderd_*.deb` resolves Depends from the
#      archive (so dpkg-shlibdeps named the right packages), then
#      `orderd --version`, ldd, the man page, the unit and /etc/default/orderd
#      where the package puts them, and orderd started on 127.0.0.1:0: its
#      "listening on" line, GET /healthz 200 (bash /dev/tcp: minbase has no
#      curl), SIGTERM and exit 0;
#   2. `apt-get purge` and `autoremove` bring the root back to its package
#      list from debootstrap, then plain `dpkg -i` shows what it does there:
#      on a clean root it leaves orderd unconfigured for the missing
#      libraries, and `apt-get -f install` finishes the job.
#
# Network-dependent and a few minutes long, so a SKIP (exit 77) unless
# ORDERD_INSTALL_TEST=1 (make package-install-test sets it), and a SKIP
# when the archive cannot be reached. Needs root (debootstrap, chroot); it
# installs debootstrap with apt-get when missing. The bootstrapped root is
# cached as a tarball in ${ORDERD_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/orderd}
# (about 90 MB; delete it to bootstrap again), so a rerun takes seconds plus
# the package downloads. ORDERD_INSTALL_TEST_KEEP=1 keeps the root.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR VERSION" >&2
  exit 2
fi
build=$(cd "$1" && pwd) version=$2
suite=bookworm
skip() {
  echo "SKIP: $*"
  exit 77
}
fail() {
  echo "FAIL: $*"
  exit 1
}

[ "${ORDERD_INSTALL_TEST:-}" = 1 ] ||
  skip "installs the .deb into a fresh debootstrap root from the Debian archive (minutes, network): run 'make package-install-test' or set ORDERD_INSTALL_TEST=1"
[ "$(id -u)" -eq 0 ] || skip "debootstrap and chroot need root"
arch=$(dpkg --print-architecture)

# The mirrors this machine's apt reads (the sources.list* entries for
# bookworm and bookworm-security), or deb.debian.org.
repo_uri() {
  apt-get indextargets --format '$(REPO_URI) $(CODENAME)' 'Created-By: Packages' 2>/dev/null |
    awk -v c="$1" '$2 == c { print $1; exit }'
}
mirror=${ORDERD_DEBIAN_MIRROR:-$(repo_uri "$suite")}
mirror=${mirror:-http://deb.debian.org/debian/}
security=${ORDERD_DEBIAN_SECURITY:-$(repo_uri "$suite-security")}
security=${security:-http://deb.debian.org/debian-security/}

if ! command -v debootstrap >/dev/null; then
  echo "      installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null 2>&1 ||
    skip "debootstrap is not installed and apt-get install debootstrap failed (no archive?)"
fi
wget -q --spider --timeout=20 --tries=2 "${mirror%/}/dists/$suite/Release" ||
  skip "the Debian archive ${mirror%/}/dists/$suite/Release cannot be reached"

out=$build/package-install-test
root=$out/root
start=$SECONDS
orderd_pid=
# the mounts at or below the root, one a line (none: empty)
mounts_below() { awk -v r="$root" '$2 == r || index($2, r "/") == 1' /proc/mounts; }
# Every exit path: stop orderd, unmount /proc, and remove the root only
# when nothing is mounted below it any more (rm -rf through a live mount
# would reach the host's files).
cleanup() {
  local rc=$?
  # orderd, and anything else still running with the root as its /
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill -KILL "${p#/proc/}" 2>/dev/null
  done
  [ -z "$orderd_pid" ] || wait "$orderd_pid" 2>/dev/null || true
  if [ -d "$root/proc" ] && mountpoint -q "$root/proc"; then
    umount "$root/proc" || umount -l "$root/proc" || true
  fi
  if [ -n "$(mounts_below)" ]; then
    echo "WARNING: still mounted below $root; not removing it:" >&2
    mounts_below >&2
  elif [ "${ORDERD_INSTALL_TEST_KEEP:-}" = 1 ]; then
    echo "      kept the root: $root"
  else
    rm -rf "$root"
  fi
  echo "      took $((SECONDS - start)) s"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "$(mounts_below)" ]; then
  fail "something is mounted below $root from an earlier run: umount it first"
fi
rm -rf "$out"
mkdir -p "$out"

# The package
if [ -n "${ORDERD_DEB:-}" ]; then
  deb=$(cd "$(dirname "$ORDERD_DEB")" && pwd)/$(basename "$ORDERD_DEB")
else
  (cd "$build" && cpack -G DEB --config CPackConfig.cmake -B "$out") >"$out/cpack.log" 2>&1 ||
    { cat "$out/cpack.log"; fail "cpack -G DEB failed"; }
  deb=$out/orderd_${version}_$arch.deb
fi
[ -f "$deb" ] || fail "no package at $deb"
echo "ok    package: $deb (Depends: $(dpkg-deb -f "$deb" Depends))"

# The clean root, from the cache when there is one
cache=${ORDERD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/orderd}
tarball=$cache/debootstrap-$suite-minbase-$arch.tar.gz
mkdir -p "$root"
if [ -f "$tarball" ]; then
  tar --numeric-owner -xpzf "$tarball" -C "$root"
  echo "ok    clean $suite root from the cache $tarball"
else
  t=$SECONDS
  if ! debootstrap --variant=minbase --arch="$arch" "$suite" "$root" "$mirror" >"$out/debootstrap.log" 2>&1; then
    tail -20 "$out/debootstrap.log"
    if grep -qiE 'Failed getting release file|Couldn.t download|Temporary failure resolving|Connection (refused|timed out)' \
      "$out/debootstrap.log"; then
      skip "debootstrap cannot reach $mirror"
    fi
    fail "debootstrap --variant=minbase $suite failed ($out/debootstrap.log)"
  fi
  [ -z "$(mounts_below)" ] || fail "debootstrap left mounts below $root: $(mounts_below)"
  mkdir -p "$cache"
  tar --numeric-owner -czf "$tarball.tmp" -C "$root" .
  mv "$tarball.tmp" "$tarball"
  echo "ok    debootstrap --variant=minbase $suite $mirror: $((SECONDS - t)) s; cached as $tarball"
fi

mount -t proc proc "$root/proc"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cat >"$root/etc/apt/sources.list" <<EOF
deb ${mirror%/} $suite main
deb ${mirror%/} $suite-updates main
deb ${security%/} $suite-security main
EOF
cp "$deb" "$root/tmp/"
pkg=/tmp/$(basename "$deb")
# in the root, with a clean environment (no NOTIFY_SOCKET, no host PATH);
# a command, not a function, so that `"${in_root[@]}" orderd &` makes $! orderd
in_root=(chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8
  DEBIAN_FRONTEND=noninteractive)
in_root() { "${in_root[@]}" "$@"; }
packages() { in_root dpkg-query -W -f='${Package}\n' | sort; }
clean_list=$(packages)
in_root apt-get update -qq >"$out/apt-update.log" 2>&1 || { cat "$out/apt-update.log"; fail "apt-get update in the root"; }
echo "ok    clean root: $(wc -l <<<"$clean_list") packages, $(in_root cat /etc/debian_version) (Debian $suite)"

# 1. apt-get install ./orderd_*.deb
in_root apt-get install -y "$pkg" >"$out/apt-install.log" 2>&1 ||
  { cat "$out/apt-install.log"; fail "apt-get install -y $pkg in the clean root"; }
added=$(comm -13 <(echo "$clean_list") <(packages) | { grep -vx orderd || true; } | paste -sd " ")
echo "ok    apt-get install -y ./$(basename "$deb"): also installed ${added:-nothing}"

got=$(in_root orderd --version 2>&1) || fail "orderd --version in the root failed: $got"
[ "$(head -1 <<<"$got")" = "orderd $version" ] || fail "orderd --version printed '$got', not 'orderd $version'"
echo "ok    orderd --version: $(tr '\n' ';' <<<"$got" | sed 's/;$//; s/;/; /g')"
libs=$(in_root ldd /usr/bin/orderd)
! grep -q 'not found' <<<"$libs" || fail "ldd /usr/bin/orderd in the root: $libs"

listed=$(in_root dpkg -L orderd)
for path in /usr/bin/orderd /usr/share/man/man8/orderd.8.gz /lib/systemd/system/orderd.service /etc/default/orderd; do
  grep -qx "$path" <<<"$listed" || fail "dpkg -L orderd does not list $path"
  in_root test -f "$path" || fail "$path is not in the root after the install"
done
in_root zcat /usr/share/man/man8/orderd.8.gz | grep -q '^\.TH ORDERD 8' || fail "orderd.8.gz is not the orderd(8) page"
in_root grep -qx 'ExecStart=/usr/bin/orderd $ORDERD_ARGS' /lib/systemd/system/orderd.service ||
  fail "/lib/systemd/system/orderd.service does not start /usr/bin/orderd \$ORDERD_ARGS"
in_root grep -q '^ORDERD_ARGS=' /etc/default/orderd || fail "/etc/default/orderd sets no ORDERD_ARGS"
echo "ok    /usr/bin/orderd (all libraries found), orderd.8.gz, orderd.service and /etc/default/orderd in place"

# orderd runs in the root: a fresh data directory, an ephemeral port
log=$out/orderd.log
"${in_root[@]}" orderd --listen 127.0.0.1:0 --data-dir /tmp/x >"$log" 2>&1 &
orderd_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's#^orderd: listening on http://127\.0\.0\.1:\([0-9]*\)$#\1#p' "$log")
  [ -n "$port" ] && break
  kill -0 "$orderd_pid" 2>/dev/null || { cat "$log"; fail "orderd exited before listening"; }
  sleep 0.1
done
[ -n "$port" ] || { cat "$log"; fail "orderd printed no 'listening on' line in 10 s"; }
reply=$(in_root timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" >&3
  cat <&3' _ "$port" | tr -d '\r') || true
grep -qE '^HTTP/1\.[01] 200' <<<"$reply" || { cat "$log"; fail "GET /healthz in the root: '$reply'"; }
kill -TERM "$orderd_pid"
rc=0
wait "$orderd_pid" || rc=$?
orderd_pid=
[ "$rc" -eq 0 ] || { cat "$log"; fail "orderd exited $rc after SIGTERM, not 0"; }
echo "ok    orderd in the root: listening on 127.0.0.1:$port, GET /healthz $(head -1 <<<"$reply"), SIGTERM, exit 0"

# 2. back to the clean package list, then plain dpkg -i
{ in_root apt-get purge -y orderd && in_root apt-get autoremove --purge -y; } >"$out/apt-purge.log" 2>&1 ||
  { cat "$out/apt-purge.log"; fail "apt-get purge orderd / autoremove"; }
[ "$(packages)" = "$clean_list" ] ||
  fail "after purge and autoremove the root's packages differ from the clean root's:"$'\n'"$(diff <(echo "$clean_list") <(packages))"
echo "ok    apt-get purge orderd && apt-get autoremove --purge: the clean root's package list again"

rc=0
said=$(in_root dpkg -i "$pkg" 2>&1) || rc=$?
echo "      dpkg -i ./$(basename "$deb") on the clean root: exit $rc"
sed 's/^/        /' <<<"$said"
status=$(in_root dpkg-query -W -f='${Status}' orderd)
if [ "$rc" -eq 0 ]; then
  # only right when minbase already has every library in Depends
  [ "$status" = "install ok installed" ] || fail "dpkg -i exited 0 but orderd is '$status'"
  echo "ok    dpkg -i alone installed orderd: minbase has all of Depends"
else
  grep -q 'dependency problems' <<<"$said" || fail "dpkg -i failed for another reason than missing dependencies"
  [ "$status" = "install ok unpacked" ] || fail "after dpkg -i orderd is '$status', not 'install ok unpacked'"
  in_root apt-get -f install -y >"$out/apt-f.log" 2>&1 || { cat "$out/apt-f.log"; fail "apt-get -f install -y"; }
  status=$(in_root dpkg-query -W -f='${Status}' orderd)
  [ "$status" = "install ok installed" ] || fail "after apt-get -f install orderd is '$status'"
  [ "$(in_root orderd --version | head -1)" = "orderd $version" ] || fail "orderd --version after apt-get -f install"
  echo "ok    dpkg -i left orderd unpacked (dependency problems); apt-get -f install -y configured it, orderd --version works"
fi
