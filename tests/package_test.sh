#!/usr/bin/env bash
# The .deb and the systemd unit (cmake/package.cmake, docs/deploy/):
#
#   tests/package_test.sh BUILD_DIR VERSION
#
# cpack -G DEB builds the package into BUILD_DIR/package-test/; dpkg-deb -c
# lists the binary, the unit, the man page and /etc/default/orderd (a
# conffile); dpkg-shlibdeps filled Depends; lintian reports no error (E:);
# the packaged binary runs and prints `orderd VERSION`; systemd-analyze
# verify says nothing about the packaged unit, and `systemd-analyze security
# --offline=yes` rates it at most 2.0 (and rates a copy without its sandbox
# above 2.0, so the check can fail). A missing tool is a SKIP (exit 77):
# .ci/deps installs them all.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR VERSION" >&2
  exit 2
fi
build=$(cd "$1" && pwd) version=$2
max_exposure=2.0
fail() {
  echo "FAIL: $*"
  exit 1
}

for tool in cpack dpkg-deb dpkg-shlibdeps lintian systemd-analyze; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (bash .ci/deps installs it)"; exit 77; }
done

out=$build/package-test
rm -rf "$out"
mkdir -p "$out"
log=$out/cpack.log
(cd "$build" && cpack -G DEB --config CPackConfig.cmake -B "$out") >"$log" 2>&1 ||
  { cat "$log"; fail "cpack -G DEB failed"; }
deb=$out/orderd_${version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || { cat "$log"; fail "cpack made no $deb"; }
echo "ok    cpack -G DEB: $deb"

listing=$(dpkg-deb -c "$deb")
for path in ./usr/bin/orderd ./lib/systemd/system/orderd.service ./usr/share/man/man8/orderd.8.gz \
            ./etc/default/orderd ./usr/share/doc/orderd/copyright ./usr/share/doc/orderd/changelog.gz; do
  grep -q " $path\$" <<<"$listing" || fail "dpkg-deb -c does not list $path:"$'\n'"$listing"
done
echo "ok    dpkg-deb -c lists the binary, the unit, the man page, /etc/default/orderd and the doc files"

dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/default/orderd ||
  fail "/etc/default/orderd is not a conffile: an upgrade would overwrite the admin's flags"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libh2o-evloop libyajl libssl libsystemd0 libjemalloc libcurl4; do
  grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib (dpkg-shlibdeps): $depends"
done
echo "ok    conffiles, Depends: $depends"

lint=$(lintian --tag-display-limit 0 "$deb" 2>&1 | grep -v '^running with root privileges' || true)
[ -z "$lint" ] || echo "$lint"
if grep -q '^E: ' <<<"$lint"; then
  fail "lintian reports errors on $deb"
fi
echo "ok    lintian: no error ($(grep -c '^W: ' <<<"$lint" || true) warnings)"

root=$out/root
dpkg-deb -x "$deb" "$root"
got=$("$root/usr/bin/orderd" --version)
[ "$(head -1 <<<"$got")" = "orderd $version" ] || fail "packaged orderd --version printed '$got', not 'orderd $version'"
echo "ok    packaged /usr/bin/orderd --version: $(head -1 <<<"$got")"

# verify: every key known, the man page named; ExecStart is pointed at the
# extracted binary (systemd checks it is executable) and nothing else changes.
unit=$root/lib/systemd/system/orderd.service
grep -qx 'ExecStart=/usr/bin/orderd' "$unit" || fail "$unit: ExecStart is not /usr/bin/orderd"
sed "s#^ExecStart=/usr/bin/orderd#ExecStart=$root/usr/bin/orderd#" "$unit" >"$out/orderd.service"
said=$(systemd-analyze verify --man=no "$out/orderd.service" 2>&1) || fail "systemd-analyze verify: $said"
[ -z "$said" ] || fail "systemd-analyze verify on the unit: $said"
echo "ok    systemd-analyze verify: no complaint"

# exposure of a unit file: "→ Overall exposure level for orderd.service: 1.2 OK"
exposure() {
  systemd-analyze security --offline=yes "$1" 2>&1 |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
e=$(exposure "$unit")
[ -n "$e" ] || fail "systemd-analyze security printed no overall exposure for $unit"
awk -v e="$e" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }' ||
  fail "systemd-analyze security --offline=yes: exposure $e is above $max_exposure"
mkdir -p "$out/bare"
grep -v '^\(Protect\|Private\|Restrict\|SystemCall\|Capability\|NoNewPriv\|MemoryDeny\|LockPers\|DynamicUser\)' \
  "$unit" >"$out/bare/orderd.service"
b=$(exposure "$out/bare/orderd.service")
awk -v e="$b" -v m="$max_exposure" 'BEGIN { exit !(e > m) }' ||
  fail "the unit without its sandbox rates $b, not above $max_exposure: the exposure check cannot fail"
echo "ok    systemd-analyze security --offline=yes: exposure $e <= $max_exposure (without the sandbox: $b)"
