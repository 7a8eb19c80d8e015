#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: system packages, the .venv with pinned
# dependencies, then the main job on the embedded default (the demo school).
set -euo pipefail
cd "$(dirname "$0")"

# chromium: the headless browser of the web page's tests (tests/test_web.py, driven by Playwright)
DEBIAN_PACKAGES=(python3-venv libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core poppler-utils openssl libxml2-utils chromium)
missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "==> Installing Debian packages: ${missing[*]}"
  sudo_cmd=(); [[ $(id -u) == 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [[ ! -x .venv/bin/python ]]; then
  echo "==> Creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
echo "==> Installing pinned dependencies (requirements.lock)"
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.lock 2> >(grep -v "is ignored: it is neither" >&2)
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .

export PREFECT_SERVER_ANALYTICS_ENABLED=false
echo "==> Generating the demo school into the journal (home: ${JOURNAL_ARCHIVE_HOME:-~/.local/share/journal-archive})"
.venv/bin/journal-archive demo --size small --force
echo "==> Checking the journal"
.venv/bin/journal-archive check --year 2024/2025
echo "==> Archiving the first quarter of every class to both storage targets"
.venv/bin/journal-archive archive period --year 2024/2025 --period Q1
echo "==> Done. Run the commands as .venv/bin/journal-archive (or '. .venv/bin/activate' first); see README.md."
