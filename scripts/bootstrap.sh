#!/usr/bin/env bash
# Create (or refresh) the virtual environments of the test legs. Idempotent and quiet when done.
#   .venvs/py311-dj52  Python 3.11 + Django 5.2 LTS (also the demo's environment)
#   .venvs/py3XX-dj61  Python 3.12+ + Django 6.1, when such an interpreter exists
# Usage: scripts/bootstrap.sh [main|all]
set -euo pipefail
cd "$(dirname "$0")/.."
which_legs=${1:-all}

# mysqlclient compiles against the MariaDB client headers.
if ! pkg-config --exists mysqlclient 2>/dev/null && ! pkg-config --exists libmariadb 2>/dev/null; then
  echo "bootstrap: installing Debian packages for mysqlclient (libmariadb-dev, pkg-config)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libmariadb-dev pkg-config >/dev/null
fi

# The admin's browser tests drive Debian's headless Chromium through its chromedriver.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "bootstrap: installing Debian packages for the browser tests (chromium, chromium-driver)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi

find_python() {  # find_python 3.11 -> path of an interpreter of that minor version
  local v=$1 p
  for p in "python$v" "$HOME/.pyenv/versions/$v"*/bin/python3 "/usr/bin/python$v" "/usr/local/bin/python$v"; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$v'.split('.'))))" 2>/dev/null; then
      command -v "$p"; return 0
    fi
  done
  return 1
}

make_venv() {  # make_venv NAME PYTHON DJANGO_SPEC
  local name=$1 py=$2 django=$3 dir=.venvs/$1
  local stamp="$dir/.rowsync-stamp" want
  # Rebuild only when the dependencies change (the [project] table), not for tool settings.
  want="$(sed -n '/^\[project\]/,/^\[tool/p' pyproject.toml | sha1sum | cut -c1-12) $django"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  echo "bootstrap: building $dir ($("$py" --version), $django)"
  rm -rf "$dir"
  "$py" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --upgrade pip
  "$dir/bin/python" -m pip install -q -e ".[test,lint,bench]" "$django"
  echo "$want" > "$stamp"
}

mkdir -p .venvs
make_venv py311-dj52 "$(find_python 3.11)" "Django~=5.2.0"
if [ "$which_legs" = all ]; then
  for v in 3.13 3.12; do
    if py=$(find_python $v); then
      make_venv "py${v/./}-dj61" "$py" "Django~=6.1.0"
      break
    fi
  done
fi
