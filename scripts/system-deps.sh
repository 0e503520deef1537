#!/usr/bin/env bash
# Install the Debian packages refkit's setup, tests and demo need, if they are missing.
# Only packages from the machine's configured Debian archive; versions are the suite's.
set -euo pipefail

# tool-to-check  package
needs=(
  "python3.11:python3.11"
  "dpkg-deb:dpkg"
  # peers of the differential tests, and tools refkit runs (see README, *Requirements*)
  "mkfs.erofs:erofs-utils"
  "veritysetup:cryptsetup-bin"
  "pesign:pesign"
  "tpm2_eventlog:tpm2-tools"
  "/lib/systemd/systemd-measure:systemd"
  "skopeo:skopeo"
  "umoci:umoci"
  "mmdebstrap:mmdebstrap"
  "cpio:cpio"
  "nix:nix-bin"
)
missing=()
for pair in "${needs[@]}"; do
  tool=${pair%%:*} pkg=${pair##*:}
  command -v "$tool" >/dev/null 2>&1 || missing+=("$pkg")
done
# The venv module is a separate package on Debian.
py=$(command -v python3.11 || command -v python3 || true)
if [ -n "$py" ] && ! "$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  missing+=("python3.11-venv")
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "system-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "system-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 3; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
