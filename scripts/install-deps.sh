#!/usr/bin/env bash
# Install the Debian packages the lab needs (only those missing), as root.
# Used by `make setup`, and so by `make test`, `make demo` and .ci/run.
set -euo pipefail
PACKAGES=(qemu-system-arm gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi
          iproute2 nftables tcpdump tshark dpkg-dev python3-venv make
          chromium)  # chromium: the report's headless-browser test
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: Debian packages already installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing Debian packages (${missing[*]}); run 'make setup' as root" >&2
  exit 2
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: Debian packages installed"
