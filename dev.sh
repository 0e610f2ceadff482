#!/usr/bin/env bash
# Journeys developer entry point.
#
#   ./dev.sh setup            create .venv and install Journeys with its gui/postgres/dev extras
#   ./dev.sh run [ARGS...]    setup, check the system libraries a real window needs, run journeys
#   ./dev.sh test [ARGS...]   setup, ensure PostgreSQL and Dovecot (IMAP) servers are installed, then
#                             ruff check, ruff format --check, mypy, lint-imports, pytest ARGS
#
# CI runs `./dev.sh test` (see .ci/run). Works as root or not, without a terminal.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

VENV=.venv
STAMP="$VENV/.journeys-installed"
MIN_PY="3.11"

# Debian package -> shared library that Qt's xcb platform plugin loads but the wheel lacks.
XCB_LIBS=(
    "libxcb-cursor0:libxcb-cursor.so.0"
    "libxcb-icccm4:libxcb-icccm.so.4"
    "libxcb-keysyms1:libxcb-keysyms.so.1"
    "libxcb-image0:libxcb-image.so.0"
    "libxcb-render-util0:libxcb-render-util.so.0"
    "libxcb-xkb1:libxcb-xkb.so.1"
    "libxkbcommon-x11-0:libxkbcommon-x11.so.0"
    "libxcb-shape0:libxcb-shape.so.0"
)

say() { printf 'dev.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Prints a python3 that is >= MIN_PY, or nothing.
find_python() {
    local candidate
    for candidate in python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 0
}

venv_ok() {
    [ -x "$VENV/bin/python" ] &&
        "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

cmd_setup() {
    if ! venv_ok; then
        local python
        python="$(find_python)"
        if [ -z "$python" ]; then
            local found="none"
            command -v python3 >/dev/null 2>&1 && found="$(python3 --version 2>&1)"
            die "Python >= $MIN_PY is required (python3 found: $found). Install it, e.g." \
                "'sudo apt-get install python3 python3-venv' on Debian 12 or newer."
        fi
        say "creating $VENV with $python ($("$python" --version 2>&1))"
        rm -rf "$VENV"
        if ! "$python" -m venv "$VENV"; then
            rm -rf "$VENV"
            die "'$python -m venv' failed; on Debian/Ubuntu install the venv module:" \
                "sudo apt-get install python3-venv"
        fi
    fi
    if [ -f "$STAMP" ] && [ "$STAMP" -nt pyproject.toml ]; then
        return 0
    fi
    say "installing Journeys and its dependencies into $VENV (pip install -e '.[gui,postgres,dev]'; a few minutes the first time)"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q \
        -e '.[gui,postgres,dev]'
    touch "$STAMP"
}

# Prints the Debian packages of the xcb libraries that are missing, space-separated.
missing_xcb_packages() {
    local ldconfig="" libs="" entry missing=()
    ldconfig="$(command -v ldconfig || true)"
    [ -z "$ldconfig" ] && [ -x /sbin/ldconfig ] && ldconfig=/sbin/ldconfig
    if [ -n "$ldconfig" ]; then
        libs="$("$ldconfig" -p 2>/dev/null || true)"
    fi
    for entry in "${XCB_LIBS[@]}"; do
        local pkg="${entry%%:*}" lib="${entry#*:}"
        if [ -n "$libs" ]; then
            grep -qF "$lib " <<<"$libs" && continue
        elif command -v dpkg-query >/dev/null 2>&1; then
            dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' &&
                continue
        fi
        missing+=("$pkg")
    done
    echo "${missing[*]}"
}

cmd_run() {
    cmd_setup
    local platform="${QT_QPA_PLATFORM:-}"
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "$platform" != offscreen ] &&
        [ "$platform" != minimal ]; then
        local missing
        missing="$(missing_xcb_packages)"
        if [ -n "$missing" ]; then
            say "Qt needs system libraries that are not installed. Install them with:"
            echo "sudo apt-get install $missing" >&2
            exit 1
        fi
    elif [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "$platform" ] && [ $# -eq 0 ]; then
        say "warning: neither DISPLAY nor WAYLAND_DISPLAY is set; the window may not open"
    fi
    exec "$VENV/bin/journeys" "$@"
}

# Prints the directory holding pg_ctl and initdb, or nothing.
find_pg_bindir() {
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 0
}

ensure_postgres() {
    [ -n "$(find_pg_bindir)" ] && return 0
    if ! is_root; then
        die "the tests start their own PostgreSQL server, but pg_ctl/initdb were not found." \
            "Install it with: sudo apt-get install postgresql"
    fi
    command -v apt-get >/dev/null 2>&1 ||
        die "pg_ctl/initdb not found and apt-get is unavailable: install a PostgreSQL server"
    say "installing the PostgreSQL server (apt-get install postgresql) for the tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q </dev/null
    apt-get install -y -q --no-install-recommends postgresql </dev/null
    [ -n "$(find_pg_bindir)" ] || die "postgresql installed but pg_ctl/initdb still not found"
}

# The inbound-mail tests start their own Dovecot IMAP server (tests/imapserver.py).
ensure_dovecot() {
    { command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; } &&
        [ -x /usr/lib/dovecot/imap ] && return 0
    if ! is_root; then
        die "the tests start their own IMAP server, but Dovecot's was not found." \
            "Install it with: sudo apt-get install dovecot-imapd"
    fi
    command -v apt-get >/dev/null 2>&1 ||
        die "dovecot not found and apt-get is unavailable: install Dovecot's IMAP server"
    say "installing the Dovecot IMAP server (apt-get install dovecot-imapd) for the tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q </dev/null
    apt-get install -y -q --no-install-recommends dovecot-imapd </dev/null
    [ -x /usr/lib/dovecot/imap ] || die "dovecot-imapd installed but /usr/lib/dovecot/imap is missing"
}

step() {
    say "==> $*"
    "$@"
}

cmd_test() {
    cmd_setup
    ensure_postgres
    ensure_dovecot
    export PATH="$PWD/$VENV/bin:$PATH"
    export PYTHONFAULTHANDLER=1 QT_QPA_PLATFORM=offscreen
    step ruff check .
    step ruff format --check .
    step mypy
    step lint-imports
    step pytest -n 2 "$@"
}

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

case "${1:-}" in
setup) shift; cmd_setup "$@" ;;
run) shift; cmd_run "$@" ;;
test) shift; cmd_test "$@" ;;
*) usage ;;
esac
