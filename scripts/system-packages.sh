#!/usr/bin/env bash
# The Debian/Ubuntu packages the course needs; installs only what is missing.
#
#   Go and govmomi's sources   build the lab simulator (vCenter); patch applies the
#                              course's fixes to a private copy of those sources
#   QEMU, busybox-static, gcc  the real-migration lab guest (lesson 03b)
#   bubblewrap                 labkit grade's sandbox: each student's notebook runs in one
#   chromium (Debian)          the real-browser tests, driven by Playwright; Ubuntu ships
#                              chromium only as a snap, so there those tests are skipped
#
# QEMU must be 9.0 or later: older releases lose dirty pages when they migrate
# a guest under TCG (fixed upstream by "physmem: Fix migration dirty bitmap
# coherency with TCG memory access"). Debian 12 ships 7.2, so on Debian 12 the
# QEMU packages come from bookworm-backports, which this script adds.
set -euo pipefail

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

BASE=(golang-go golang-github-vmware-govmomi-dev patch python3-venv openssl busybox-static gcc libc6-dev bubblewrap)
QEMU=(qemu-system-x86 qemu-system-common qemu-system-data seabios)

codename=""
distro=""
[ -r /etc/os-release ] && codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -r /etc/os-release ] && distro=$(. /etc/os-release && echo "${ID:-}")
[ "$distro" = debian ] && BASE+=(chromium)

missing=()
for p in "${BASE[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done

qemu_major() {   # the installed (not merely configured) qemu-system-x86's major version, or nothing
    dpkg-query -W -f='${db:Status-Abbrev}|${Version}\n' qemu-system-x86 2>/dev/null \
        | awk -F'|' '$1 ~ /^ii/ { v = $2; sub(/^[0-9]+:/, "", v); split(v, n, "."); print n[1] }'
}
need_qemu=no
major=$(qemu_major || true)
if [ -z "$major" ] || ! command -v qemu-system-x86_64 >/dev/null \
        || { [ "$codename" = bookworm ] && [ "$major" -lt 9 ]; }; then
    need_qemu=yes
fi

if [ ${#missing[@]} -eq 0 ] && [ "$need_qemu" = no ]; then
    exit 0
fi

target=()
if [ "$codename" = bookworm ] && [ "$need_qemu" = yes ]; then
    if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        echo "adding bookworm-backports (for QEMU >= 9.0)"
        printf '%s\n' "Types: deb" "URIs: http://deb.debian.org/debian" "Suites: bookworm-backports" \
            "Components: main" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" \
            | $SUDO tee /etc/apt/sources.list.d/labkit-bookworm-backports.sources >/dev/null
    fi
    target=(-t bookworm-backports)
fi

$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ "$need_qemu" = yes ]; then
    echo "installing QEMU: ${QEMU[*]} ${target[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${target[@]}" "${QEMU[@]}"
fi
