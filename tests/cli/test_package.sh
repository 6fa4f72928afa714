#!/usr/bin/env bash
# The Debian package (docs/packages.md), built by CPack from this build directory, then:
#  1. inspected: its control fields (dependencies from dpkg-shlibdeps, libmujs2 among them),
#     its conffile (/etc/lorageo/lorageo.ini), its maintainer scripts (the postinst creates
#     the lorageo user and /var/lib/lorageo), and the files it ships (binary, unit, config,
#     web console with Leaflet);
#  2. extracted with dpkg -x into a throwaway root (the machine's own system is not
#     touched): every library the binary needs resolves; the systemd unit passes
#     `systemd-analyze verify` without a warning (its ExecStart pointed at the extracted
#     binary) and carries the hardening we promise; the postinst passes `sh -n`;
#  3. run: the extracted binary with the installed configuration, only /var/lib/lorageo and
#     the web root moved into the temporary root, serves — the console and Leaflet from the
#     installed web files, a device provisioned through the API — and after SIGTERM its
#     database, key-encryption key and journal are in the state directory, and nowhere else.
# What it does not prove: the postinst against a real dpkg database and systemd (that needs
# a throwaway machine: docs/packages.md says how to try it there).
# Usage: test_package.sh BUILD_DIR
set -uo pipefail
build=${1:?usage: test_package.sh BUILD_DIR}
build=$(cd "$build" && pwd)
checks=0 fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); "$@" || fail "${FAIL_MSG:-$*}"; }
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# ---- build
(cd "$tmp" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1) ||
  { cat "$tmp/cpack.log" >&2; echo "FAIL: cpack" >&2; exit 1; }
deb=$(ls "$tmp"/out/lorageo_*.deb 2>/dev/null | head -n 1)
[ -f "$deb" ] || { echo "FAIL: no .deb made" >&2; exit 1; }

# ---- 1. inspect
dpkg-deb -I "$deb" >"$tmp/info"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$tmp/files"
field() { dpkg-deb -f "$deb" "$1"; }
ok test "$(field Package)" = lorageo
checks=$((checks + 1))
libs="libmujs2 libjansson4 libmicrohttpd12 libmosquitto1 libcurl4 libsqlite3-0 libpq5 zlib1g adduser"
# jemalloc where the binary links it (not in the sanitizer build, which has its own allocator)
ldd "$build/lorageo" | grep -q libjemalloc && libs="$libs libjemalloc2"
for lib in $libs; do
  field Depends | grep -q "$lib" || fail "Depends lacks $lib: $(field Depends)"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$tmp" -f - ./conffiles ./postinst ./prerm ./postrm
ok grep -qx /etc/lorageo/lorageo.ini "$tmp/conffiles"
ok grep -q "adduser --system" "$tmp/postinst"
ok grep -q "chown lorageo:lorageo /var/lib/lorageo" "$tmp/postinst"
for s in postinst prerm postrm; do ok sh -n "$tmp/$s"; done
for f in /usr/bin/lorageo /usr/lib/systemd/system/lorageo.service /etc/lorageo/lorageo.ini \
         /usr/share/lorageo/web/index.html /usr/share/lorageo/web/app.js \
         /usr/share/lorageo/web/node_modules/leaflet/dist/leaflet.js /usr/share/doc/lorageo/README.md; do
  FAIL_MSG="the package lacks $f" ok grep -qx "$f" "$tmp/files"
done
FAIL_MSG="the package ships node_modules other than Leaflet's dist, or package.json" \
  ok test -z "$(grep -P 'package(-lock)?\.json$|node_modules/(?!leaflet)[^/]' "$tmp/files")"

# ---- 2. extract into a throwaway root
root=$tmp/root
dpkg -x "$deb" "$root"
bin=$root/usr/bin/lorageo
unit=$root/usr/lib/systemd/system/lorageo.service
ok test -x "$bin"
FAIL_MSG="libraries not found: $(ldd "$bin" | grep 'not found')" ok test -z "$(ldd "$bin" | grep 'not found')"
for d in "User=lorageo" "ProtectSystem=strict" "PrivateTmp=yes" "NoNewPrivileges=yes" \
         "ReadWritePaths=/var/lib/lorageo" "ExecStart=/usr/bin/lorageo serve -c /etc/lorageo/lorageo.ini"; do
  FAIL_MSG="the unit lacks $d" ok grep -qx "$d" "$unit"
done
if command -v systemd-analyze >/dev/null; then
  sed "s|^ExecStart=/usr/bin/lorageo|ExecStart=$bin|" "$unit" >"$tmp/lorageo.service"
  systemd-analyze verify "$tmp/lorageo.service" >"$tmp/verify" 2>&1
  rc=$?
  checks=$((checks + 1))
  [ "$rc" -eq 0 ] && [ ! -s "$tmp/verify" ] || fail "systemd-analyze verify: exit $rc: $(cat "$tmp/verify")"
else
  echo "note: systemd-analyze not installed; the unit's syntax is not verified" >&2
fi
conf=$root/etc/lorageo/lorageo.ini
for k in "database = /var/lib/lorageo/lorageo.db" "journal = /var/lib/lorageo/lorageo.journal" \
         "learned = /var/lib/lorageo/lorageo.geo.json" "learned = /var/lib/lorageo/lorageo.adr.json" \
         "web_root = /usr/share/lorageo/web"; do
  FAIL_MSG="the configuration lacks '$k'" ok grep -q "^$k" "$conf"
done

# ---- 3. run the installed binary with the installed configuration
state=$tmp/state
mkdir -p "$state"
sed -e "s|/var/lib/lorageo|$state|g" -e "s|/usr/share/lorageo/web|$root/usr/share/lorageo/web|" \
    -e "s|/etc/lorageo/codecs|$root/etc/lorageo/codecs|" "$conf" >"$tmp/lorageo.ini"
FAIL_MSG="the installed configuration differs in more than its paths" \
  ok test "$(diff "$conf" "$tmp/lorageo.ini" | grep -c '^<')" -eq \
          "$(grep -cE '/var/lib/lorageo|/usr/share/lorageo/web|/etc/lorageo/codecs' "$conf")"
port=$((32100 + RANDOM % 600)) # above the crosscheck harness's ports, below the ephemeral ones
(cd "$tmp" && LORAGEO_SERVER_UDP_BIND=127.0.0.1:$port LORAGEO_SERVER_HTTP_BIND=127.0.0.1:$((port + 1)) \
  exec "$bin" serve -c "$tmp/lorageo.ini" >"$tmp/serve.out" 2>"$tmp/serve.log") &
pid=$!
url=http://127.0.0.1:$((port + 1))
for _ in $(seq 100); do curl -sf "$url/api/health" >/dev/null && break; sleep 0.1; done
ok curl -sf "$url/api/health" -o /dev/null
FAIL_MSG="the console is not served from the installed web root" ok \
  cmp -s <(curl -sf "$url/") "$root/usr/share/lorageo/web/index.html"
FAIL_MSG="Leaflet is not served" ok curl -sf "$url/vendor/leaflet/leaflet.js" -o /dev/null
FAIL_MSG="provisioning a device failed" ok curl -sf -X POST -H 'Content-Type: application/json' \
  -d '{"dev_eui":"0102030405060708","dev_addr":"01020304","nwk_s_key":"000102030405060708090a0b0c0d0e0f","app_s_key":"000102030405060708090a0b0c0d0e0f"}' \
  "$url/api/devices" -o /dev/null
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
FAIL_MSG="serve exited $rc: $(tail -n 5 "$tmp/serve.log")" ok test "$rc" -eq 0
for f in lorageo.db lorageo.kek lorageo.journal; do
  FAIL_MSG="no $f in the state directory: $(ls "$state")" ok test -e "$state/$f"
done
FAIL_MSG="the server wrote outside its state directory: $(ls "$tmp")" \
  ok test -z "$(ls "$tmp" | grep -vxE 'out|root|state|conffiles|postinst|prerm|postrm|info|files|cpack.log|lorageo.ini|lorageo.service|verify|serve.out|serve.log|_CPack_Packages')"

echo "test_package: $checks checks, $fails failed ($(basename "$deb"), $(du -k "$deb" | cut -f1) KiB)"
[ "$fails" -eq 0 ]
