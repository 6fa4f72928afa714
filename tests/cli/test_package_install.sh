#!/usr/bin/env bash
# The Debian package installed and started as an operator would (issue 18 item 7): a minimal
# Debian 12 made by debootstrap, systemd booted in it as PID 1 (its own mount, PID, UTS, IPC
# and network namespaces: the machine's own system and ports are not touched), then inside:
#  1. `apt-get install ./lorageo_*.deb` against a real dpkg database: the postinst creates
#     the lorageo user and /var/lib/lorageo, enables and starts the service;
#  2. the service is active, runs as lorageo, sees / read-only (ProtectSystem=strict) and
#     only its state directory writable; the console and the API answer; a device
#     provisioned through the API survives `systemctl restart`;
#  3. `systemctl stop` ends it cleanly (SIGTERM, exit 0) with its database, key-encryption
#     key and journal in /var/lib/lorageo, owned by lorageo;
#  4. `apt-get remove` keeps configuration and data, `apt-get purge` removes both and the user.
# It changes nothing outside its temporary directory (the container gets a /dev of its own
# and read-only /sys and /proc/sys; units that would touch the kernel's settings, modules,
# consoles or ttys are masked; what systemd leaves are empty control groups under the
# test's own), but it needs root, debootstrap and
# Debian's mirror (the dependencies are resolved by apt as a user's would be), so it runs
# only when LORAGEO_TEST_INSTALL=1 (.ci/run sets it); otherwise ctest reports it skipped.
# A machine that cannot host the container (no namespaces, Debian's mirror unreachable,
# systemd unable to boot in it) is also a skip, with the reason: none of that is lorageo.
# Everything from resolving the package's own dependencies on is a FAIL.
# Usage: test_package_install.sh BUILD_DIR
set -uo pipefail
build=${1:?usage: test_package_install.sh BUILD_DIR}
if [ "${LORAGEO_TEST_INSTALL:-}" != 1 ]; then
  echo "skipped: set LORAGEO_TEST_INSTALL=1 to install the package into a debootstrapped Debian (root)"
  exit 77
fi
build=$(cd "$build" && pwd)
for c in debootstrap unshare nsenter cpack; do
  command -v "$c" >/dev/null || { echo "FAIL: $c is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "FAIL: LORAGEO_TEST_INSTALL=1 needs root" >&2; exit 1; }
skip() { echo "skipped: $* (this machine cannot host the test's container)"; exit 77; }
unshare --mount --pid --fork --uts --ipc --net true 2>/dev/null || skip "unshare cannot make namespaces here"
mirror=${LORAGEO_TEST_MIRROR:-http://deb.debian.org/debian}
checks=0 fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); "$@" || fail "${FAIL_MSG:-$*}"; }
tmp=$(mktemp -d /var/tmp/lorageo-install.XXXXXX) && [ -d "$tmp" ] ||
  { echo "FAIL: mktemp" >&2; exit 1; }
case $tmp in /var/tmp/lorageo-install.?*) ;; *) echo "FAIL: odd temporary directory '$tmp'" >&2; exit 1 ;; esac
root=$tmp/root
ns=          # the unshare process whose child is the container's systemd
sd=          # that systemd, PID 1 of the container: killing it ends everything in there
cleanup() {
  # the container's mounts live in its own mount namespace and go with it
  if [ -n "$ns" ]; then
    [ -n "$sd" ] || sd=$(pgrep -P "$ns" | head -n 1)
    [ -n "$sd" ] && kill -KILL "$sd" 2>/dev/null
    kill -KILL "$ns" 2>/dev/null
    wait "$ns" 2>/dev/null
  fi
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

# ---- the package and a minimal Debian 12
(cd "$tmp" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1) ||
  { cat "$tmp/cpack.log" >&2; echo "FAIL: cpack" >&2; exit 1; }
deb=$(ls "$tmp"/out/lorageo_*.deb 2>/dev/null | head -n 1)
[ -f "$deb" ] || { echo "FAIL: no .deb made" >&2; exit 1; }
# in a mount namespace of its own: what it mounts in the tree goes with it, even if killed
unshare --mount debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,curl,procps,ca-certificates \
  bookworm "$root" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
  { tail -n 20 "$tmp/debootstrap.log" >&2; skip "debootstrap from $mirror failed"; }
cp "$deb" "$root/root/lorageo.deb"
cp /etc/resolv.conf "$root/etc/resolv.conf"
echo "deb $mirror bookworm main" >"$root/etc/apt/sources.list"
# the dependencies are fetched now, with the machine's network; the container has none
inroot() { unshare --mount sh -c "mount -t proc proc '$root/proc' && chroot '$root' $*"; }
inroot apt-get update -q >"$tmp/fetch.log" 2>&1 ||
  { tail -n 20 "$tmp/fetch.log" >&2; skip "apt-get update from $mirror failed"; }
inroot apt-get install -y -q --download-only /root/lorageo.deb >>"$tmp/fetch.log" 2>&1 ||
  { tail -n 20 "$tmp/fetch.log" >&2; echo "FAIL: apt-get could not resolve or fetch the package's dependencies" >&2; exit 1; }

# ---- boot systemd in the tree, kept off the machine's own kernel settings and devices:
# a /dev of its own with only the harmless nodes, /sys and /proc/sys read-only (systemd
# skips what needs them writable), and the units that touch kernel, consoles or ttys masked
for u in systemd-sysctl.service systemd-tmpfiles-setup-dev.service systemd-modules-load.service \
         systemd-binfmt.service proc-sys-fs-binfmt_misc.automount sys-kernel-debug.mount \
         sys-kernel-tracing.mount sys-kernel-config.mount sys-fs-fuse-connections.mount \
         getty@.service serial-getty@.service console-getty.service getty.target \
         systemd-remount-fs.service; do
  ln -sf /dev/null "$root/etc/systemd/system/$u"
done
cat >"$tmp/boot.sh" <<EOF
#!/bin/sh
set -e
mount --make-rprivate /
mount --bind '$root' '$root'
mount -t proc proc '$root/proc'
mount --bind '$root/proc/sys' '$root/proc/sys'
mount -o remount,bind,ro '$root/proc/sys'
mount --bind '$root/proc/sysrq-trigger' '$root/proc/sysrq-trigger' 2>/dev/null &&
  mount -o remount,bind,ro '$root/proc/sysrq-trigger' || true
mount --rbind /sys '$root/sys'
mount -o remount,bind,ro '$root/sys'
mount -t tmpfs -o mode=755,nosuid tmpfs '$root/dev'
for d in null zero full random urandom tty; do
  touch '$root/dev/'\$d && mount --bind /dev/\$d '$root/dev/'\$d
done
mkdir -p '$root/dev/pts' '$root/dev/shm'
mount -t devpts -o newinstance,ptmxmode=0666 devpts '$root/dev/pts'
ln -s pts/ptmx '$root/dev/ptmx'
mount -t tmpfs -o nosuid,nodev tmpfs '$root/dev/shm'
exec chroot '$root' /usr/bin/env -i container=lorageo-test /lib/systemd/systemd
EOF
chmod +x "$tmp/boot.sh"
unshare --mount --pid --fork --uts --ipc --net "$tmp/boot.sh" >"$tmp/boot.log" 2>&1 &
ns=$!
for _ in $(seq 100); do sd=$(pgrep -P "$ns" | head -n 1); [ -n "$sd" ] && break; sleep 0.1; done
[ -n "$sd" ] || { cat "$tmp/boot.log" >&2; skip "systemd did not start in the container"; }
ct() { nsenter -t "$sd" -a -r -w env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
state=
for _ in $(seq 300); do
  state=$(ct systemctl is-system-running 2>/dev/null)
  case $state in running | degraded) break ;; esac
  sleep 0.1
done
case $state in running | degraded) ;; *)
  in_log=$(ct journalctl -b --no-pager 2>/dev/null | tail -n 20)
  echo "$in_log" >&2; skip "systemd in the container did not come up: '$state'" ;;
esac

# ---- 1. install as an operator would
ct env DEBIAN_FRONTEND=noninteractive apt-get install -y -q /root/lorageo.deb >"$tmp/install.log" 2>&1 ||
  { tail -n 20 "$tmp/install.log" >&2; echo "FAIL: apt-get install of the package failed" >&2; exit 1; }
checks=$((checks + 1))
FAIL_MSG="the postinst did not create the lorageo user" ok ct getent passwd lorageo
FAIL_MSG="the service is not enabled: $(ct systemctl is-enabled lorageo 2>&1)" \
  ok test "$(ct systemctl is-enabled lorageo 2>/dev/null)" = enabled
url=http://127.0.0.1:8080
up() { for _ in $(seq 150); do ct curl -sf "$url/api/health" -o /dev/null && return 0; sleep 0.1; done; return 1; }
FAIL_MSG="the installed service does not answer: $(ct systemctl status lorageo --no-pager 2>&1 | tail -n 8)" ok up

# ---- 2. what it runs as and what it may touch
FAIL_MSG="the service is not active" ok test "$(ct systemctl is-active lorageo)" = active
pid=$(ct systemctl show -p MainPID --value lorageo)
FAIL_MSG="no main PID" ok test "${pid:-0}" -gt 0
FAIL_MSG="it runs as '$(ct ps -o user= -p "$pid")', not lorageo" ok test "$(ct ps -o user= -p "$pid" | tr -d ' ')" = lorageo
mounts=$(ct cat "/proc/$pid/mountinfo")
FAIL_MSG="/ is writable for the service (ProtectSystem=strict)" \
  ok grep -qE '^[0-9]+ [0-9]+ [^ ]+ [^ ]+ / ro,' <<<"$mounts"
FAIL_MSG="/var/lib/lorageo is not writable for the service" \
  ok grep -qE '^[0-9]+ [0-9]+ [^ ]+ [^ ]+ /var/lib/lorageo rw,' <<<"$mounts"
FAIL_MSG="the console is not served from the installed web root" ok \
  cmp -s <(ct curl -sf "$url/") "$root/usr/share/lorageo/web/index.html"
dev='{"dev_eui":"0102030405060708","dev_addr":"01020304","nwk_s_key":"000102030405060708090a0b0c0d0e0f","app_s_key":"000102030405060708090a0b0c0d0e0f"}'
FAIL_MSG="provisioning a device failed" ok ct curl -sf -X POST -H 'Content-Type: application/json' \
  -d "$dev" "$url/api/devices" -o /dev/null
ct systemctl restart lorageo
ok up
FAIL_MSG="the device did not survive a restart" ok ct curl -sf "$url/api/devices/0102030405060708" -o /dev/null

# ---- 3. a clean stop leaves its state, and only its state
ct systemctl stop lorageo
FAIL_MSG="the stop was not clean: $(ct systemctl show -p Result -p ExecMainStatus lorageo | tr '\n' ' ')" \
  ok test "$(ct systemctl show -p Result --value lorageo)/$(ct systemctl show -p ExecMainStatus --value lorageo)" = success/0
for f in lorageo.db lorageo.kek lorageo.journal; do
  FAIL_MSG="/var/lib/lorageo/$f is missing or not lorageo's: $(ls -l "$root/var/lib/lorageo" | tail -n +2)" \
    ok test "$(ct stat -c %U "/var/lib/lorageo/$f" 2>/dev/null)" = lorageo
done
FAIL_MSG="the key-encryption key is readable by others: $(stat -c %a "$root/var/lib/lorageo/lorageo.kek")" \
  ok test "$(stat -c %a "$root/var/lib/lorageo/lorageo.kek" 2>/dev/null | cut -c3)" = 0

# ---- 4. remove keeps, purge clears
ct env DEBIAN_FRONTEND=noninteractive apt-get remove -y -q lorageo >"$tmp/remove.log" 2>&1
FAIL_MSG="apt-get remove failed: $(tail -n 5 "$tmp/remove.log")" ok test $? -eq 0
FAIL_MSG="remove took the binary but left the service runnable" ok test ! -e "$root/usr/bin/lorageo"
FAIL_MSG="remove deleted the data or the configuration" \
  ok test -e "$root/var/lib/lorageo/lorageo.db" -a -e "$root/etc/lorageo/lorageo.ini"
ct env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q lorageo >"$tmp/purge.log" 2>&1
FAIL_MSG="apt-get purge failed: $(tail -n 5 "$tmp/purge.log")" ok test $? -eq 0
FAIL_MSG="purge left data or configuration" ok test ! -e "$root/var/lib/lorageo" -a ! -e "$root/etc/lorageo"
FAIL_MSG="purge left the lorageo user" ok test -z "$(ct getent passwd lorageo)"

echo "test_package_install: $checks checks, $fails failed ($(basename "$deb") into Debian $(cat "$root/etc/debian_version"))"
[ "$fails" -eq 0 ]
