# shellcheck shell=bash
# Shared pieces of scripts/setup, scripts/test and scripts/demo. Sourced, not run.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/.build"
# Ansible finds the collection here: a symlink to the checkout, so edits are live.
COLLECTIONS="$BUILD/collections"
# The newest ansible-core needs Python >= 3.12: pyenv's if there is one, else the newest on PATH.
latest_python() {
    local p
    for p in /root/.pyenv/versions/3.13.*/bin/python3 /root/.pyenv/versions/3.12.*/bin/python3; do
        [ -x "$p" ] && { echo "$p"; return; }
    done
    for p in python3.13 python3.12; do
        command -v "$p" >/dev/null 2>&1 && { command -v "$p"; return; }
    done
    return 1
}
say() { printf '\n== %s\n' "$*"; }
need_root() { [ "$(id -u)" = 0 ] || { echo "$0: run as root (it installs packages, users and services)" >&2; exit 1; }; }
use_venv() {  # use_venv DIR: put a venv's bin and HTCondor first on PATH, point Ansible at the collection
    export VIRTUAL_ENV="$ROOT/$1"
    export PATH="$VIRTUAL_ENV/bin:/opt/condor/bin:/opt/condor/sbin:$PATH"
    export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS"
    export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
    export PYTHONPATH="$COLLECTIONS${PYTHONPATH:+:$PYTHONPATH}"
}
