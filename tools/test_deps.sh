#!/usr/bin/env bash
# Makes sure the DNS clients the test suite drives (dig, kdig) are installed. As root (CI, a
# fresh container) it installs Debian's packages; otherwise it says what to install and fails.
set -euo pipefail
missing=()
command -v dig >/dev/null 2>&1 || missing+=(bind9-dnsutils)
command -v kdig >/dev/null 2>&1 || missing+=(knot-dnsutils)
# The status page is tested in a real browser, metrics with promtool, the unit with systemd.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
for extra in "$@"; do
  case "$extra" in
    dnsperf) command -v dnsperf >/dev/null 2>&1 || missing+=(dnsperf) ;;
    dnsmasq) command -v dnsmasq >/dev/null 2>&1 || missing+=(dnsmasq-base) ;;
    unbound) command -v unbound >/dev/null 2>&1 || missing+=(unbound) ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
else
  echo "test deps: please install the Debian packages: ${missing[*]}" >&2
  exit 1
fi
