#!/usr/bin/env bash
# Makes sure the machine has what the test suite needs, and says which test needs what.
#
# Tools: the DNS clients the suite drives (dig, kdig), chromium, promtool, systemd-analyze; and
# iproute2 (ip netns), python3, named-checkzone and kzonecheck for single tests. As root (CI, a fresh container) it installs the
# missing Debian packages; otherwise it says what to install, and fails unless only the packages
# of single tests are missing (those tests are then reported as ignored).
#
# Preconditions of single tests (reported; as root created where possible): root, tmpfs mounts,
# ::1 (re-enabled with sysctl when disabled), a non-loopback client address (a network namespace
# with a veth pair, created by the test itself), python3. A test whose precondition is missing is
# reported by deno as ignored, never passed, and `.ci/run` fails on any ignored test under CI=true.
# To see what a poorer machine reports, list checks to treat as missing in DJDNS_TEST_WITHOUT
# (comma-separated: root, ipv6, python3, netns, tmpfs); tests/helpers/preconditions.ts reads it too.
#
# Extra arguments name tools of the benchmarks to install as well: dnsperf, dnsmasq.
set -euo pipefail
say() { echo "test deps: $*" >&2; }
without() { [[ ",${DJDNS_TEST_WITHOUT:-}," == *",$1,"* ]]; }
is_root() { ! without root && [ "$(id -u)" -eq 0 ]; }

missing=()
optional=() # needed by single tests only, which are ignored without them
command -v ip >/dev/null 2>&1 || optional+=(iproute2)
command -v python3 >/dev/null 2>&1 || optional+=(python3)
command -v named-checkzone >/dev/null 2>&1 || optional+=(bind9-utils)
command -v kzonecheck >/dev/null 2>&1 || optional+=(knot-dnssecutils)
command -v dig >/dev/null 2>&1 || missing+=(bind9-dnsutils)
command -v kdig >/dev/null 2>&1 || missing+=(knot-dnsutils)
# The status page is tested in a real browser, metrics with promtool, the unit with systemd.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
# A non-root process with one capability (tests/port53_test.ts).
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
command -v ps >/dev/null 2>&1 || missing+=(procps)
# Zone files exported by `djdns zone export` are checked by BIND's and Knot's zone checkers.
command -v named-checkzone >/dev/null 2>&1 || missing+=(bind9-utils)
command -v kzonecheck >/dev/null 2>&1 || missing+=(knot-dnssecutils)
# DNS over TLS is forwarded to a real Unbound in a test, with certificates made by openssl.
command -v unbound >/dev/null 2>&1 || [ -x /usr/sbin/unbound ] || missing+=(unbound)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
for extra in "$@"; do
  case "$extra" in
    dnsperf) command -v dnsperf >/dev/null 2>&1 || missing+=(dnsperf) ;;
    dnsmasq) command -v dnsmasq >/dev/null 2>&1 || missing+=(dnsmasq-base) ;;
    unbound) command -v unbound >/dev/null 2>&1 || missing+=(unbound) ;;
  esac
done
if [ $((${#missing[@]} + ${#optional[@]})) -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${missing[*]} ${optional[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" "${optional[@]}" >&2
  elif [ ${#missing[@]} -gt 0 ]; then
    say "please install the Debian packages: ${missing[*]} ${optional[*]}"
    exit 1
  else
    say "missing (the tests that need them will be ignored): ${optional[*]}"
  fi
fi

# ::1 exists unless IPv6 is disabled on lo (some CI containers do that); as root, enable it.
ipv6_reason=""
if without ipv6; then
  ipv6_reason="DJDNS_TEST_WITHOUT names ipv6"
elif [ ! -e /proc/sys/net/ipv6 ]; then
  ipv6_reason="this kernel has no IPv6"
else
  if [ "$(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null || echo 0)" = 1 ] && is_root; then
    say "enabling IPv6 on lo (sysctl net.ipv6.conf.lo.disable_ipv6=0) for the ::1 tests"
    sysctl -q -w net.ipv6.conf.lo.disable_ipv6=0 || true
  fi
  if command -v ip >/dev/null 2>&1 && ! ip -6 addr show dev lo 2>/dev/null | grep -q '::1/128'; then
    is_root && ip -6 addr add ::1/128 dev lo 2>/dev/null || true
  fi
  if ! grep -Eq '^0{31}1 .* lo$' /proc/net/if_inet6 2>/dev/null; then
    ipv6_reason="lo has no ::1 (as root: sysctl -w net.ipv6.conf.lo.disable_ipv6=0)"
  fi
fi

tmpfs_reason=""
if without tmpfs; then
  tmpfs_reason="DJDNS_TEST_WITHOUT names tmpfs"
elif ! is_root; then
  tmpfs_reason="mounting needs root"
else
  probe=$(mktemp -d)
  if mount -t tmpfs -o size=64k tmpfs "$probe" 2>/dev/null; then
    umount "$probe"
  else
    tmpfs_reason="mount -t tmpfs failed (a container without CAP_SYS_ADMIN?)"
  fi
  rmdir "$probe"
fi

netns_reason=""
if without netns; then
  netns_reason="DJDNS_TEST_WITHOUT names netns"
elif ! is_root; then
  netns_reason="creating a network namespace needs root"
elif ! command -v ip >/dev/null 2>&1; then
  netns_reason="no ip (iproute2)"
else
  # Namespaces left by test runs that were killed (their pid is gone) are removed first.
  for ns in $(ip netns list 2>/dev/null | awk '/^djdns-t[0-9]+x/ {print $1}'); do
    pid=${ns#djdns-t}
    pid=${pid%%x*}
    [ -d "/proc/$pid" ] || ip netns del "$ns" 2>/dev/null || true
  done
  name="djdns-deps-$$"
  if ip netns add "$name" 2>/dev/null; then
    ip netns del "$name"
  else
    netns_reason="ip netns add failed"
  fi
fi
unshare_reason=""
if ! is_root; then
  unshare_reason="unshare --net needs root"
elif ! unshare --net -- true 2>/dev/null; then
  unshare_reason="unshare --net failed"
fi
tool_reason() { # command...: why not, or nothing
  local t
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || echo -n "no $t "; done
}

python_reason=""
if without python3; then
  python_reason="DJDNS_TEST_WITHOUT names python3"
elif ! command -v python3 >/dev/null 2>&1; then
  python_reason="no python3"
fi
root_reason=""
is_root || root_reason="not running as root"

report() { # name, reason, tests
  if [ -z "$2" ]; then
    say "$(printf '%-34s yes   for: %s' "$1" "$3")"
  else
    say "$(printf '%-34s NO (%s)   ignored: %s' "$1" "$2" "$3")"
  fi
}
report "root" "$root_reason" "hostile: a query from source port 0 (raw socket)"
report "python3" "$python_reason" "hostile: a query from source port 0 (crafts the datagram)"
report "tmpfs mounts" "$tmpfs_reason" "store faults: the 4 tests on a real tmpfs (full disk, almost-full creation and import, read-only)"
report "::1" "$ipv6_reason" "e2e: listens on IPv6 loopback; forwarder: IPv6 upstream on ::1"
report "non-loopback address (netns+veth)" "$netns_reason" "e2e: not an open resolver"
report "network namespace (unshare --net)" "$unshare_reason" "rrl e2e: a non-loopback /24 …"
report "named-checkzone, kzonecheck" "$(tool_reason named-checkzone kzonecheck)" \
  "zone import → one BATCH proposal → export accepted by …"
report "systemd-analyze" "$(tool_reason systemd-analyze)" "deploy: systemd accepts the unit …"
exit 0
