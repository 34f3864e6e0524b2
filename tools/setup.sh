#!/usr/bin/env bash
# Installs everything the kit needs, idempotently; `make setup` calls it and
# every other make target depends on it. Three parts:
#   1. Debian packages (installed when run as root, else one line says what to install);
#   2. a virtual environment in .venv with the pinned requirements and kitlib;
#   3. the npm assets the offline website needs (MathJax, the widget manager), in .web/.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

# Commands the kit uses, each with the Debian package that provides it. A
# command already on PATH (however it got there) is left alone.
declare -A DEBIAN_PACKAGES=(
    [dot]=graphviz [busybox]=busybox-static [ip]=iproute2 [etcd]=etcd-server
    [etcdctl]=etcd-client [chromium]=chromium [npm]=npm
)

say() { printf 'kit setup: %s\n' "$*"; }

missing=()
for cmd in "${!DEBIAN_PACKAGES[@]}"; do
    if ! command -v "$cmd" >/dev/null 2>&1 && [[ ! -x /usr/sbin/$cmd ]]; then
        missing+=("${DEBIAN_PACKAGES[$cmd]}")
    fi
done
if ((${#missing[@]})); then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        say "installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        say "missing Debian packages (chapters that need them will say so): sudo apt-get install ${missing[*]}"
    fi
fi

# 2. The virtual environment. The stamp records which requirements it holds,
# so a changed pin reinstalls and an unchanged one costs nothing.
stamp="$VENV/.kit-installed"
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    if [[ ! -x $VENV/bin/python ]]; then
        say "creating the virtual environment in $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    say "installing pinned Python packages (requirements.txt)"
    # (pip's notes about this machine's extra package folders are noise here.)
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt 2> >(grep -v "^WARNING: Location 'file:" >&2)
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2> >(grep -v "^WARNING: Location 'file:" >&2)
    echo "$want" >"$stamp"
fi

# 3. Website assets for offline math and widgets (never committed).
if [[ ! -f .web/.kit-installed || tools/web/package-lock.json -nt .web/.kit-installed ]]; then
    if command -v npm >/dev/null; then
        say "installing website assets with npm (tools/web/package-lock.json)"
        "$VENV/bin/python" tools/web/install_assets.py
        touch .web/.kit-installed
    else
        say "npm is missing, so the website's offline assets (MathJax, widgets) cannot be installed and make book will fail: sudo apt-get install npm, then make setup"
    fi
fi
