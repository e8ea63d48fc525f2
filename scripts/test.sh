#!/usr/bin/env bash
# Runs every test of the workspace, the MongoDB ones included: THE test command.
#
#   bash scripts/test.sh [extra cargo test arguments, e.g. -- --nocapture]
#
# No MongoDB is needed on the machine. The tests run against SecantusDB, a MongoDB
# wire-compatible server (test-time only, never shipped) that presents itself as a one-node
# replica set, so transactions work as in production. It is installed on first use into a
# Python venv (default target/secantus-venv, so a fresh clone builds it itself), started on a
# free loopback port with a temporary storage directory, and always stopped on exit.
#
# The tests get:
#   PLADMED_TEST_MONGODB_URI  connection string of that server
#   PLADMED_TEST_SECANTUSD    the secantusd-py binary, for tests that start their own server
#   PLADMED_TEST_SOCKETIO_PYTHON  a Python with python-socketio $SOCKETIO_VERSION (the version
#                             pladmed-client pins), from a second venv (default
#                             target/legacy-venv), for tests/legacy_probe.rs
#
# Environment knobs:
#   PLADMED_SECANTUS_VENV     where the venv lives (default: <repo>/target/secantus-venv)
#   PLADMED_LEGACY_VENV       where the python-socketio venv lives (default: <repo>/target/legacy-venv)
#   PYTHON                    the Python 3 to build the venv with (default: python3)
#
# If the server cannot be installed or started, this fails: MongoDB is never skipped silently.
set -euo pipefail

readonly SECANTUS_VERSION="0.7.0b3"
# What pladmed-client's requirements.txt pins, and the Engine.IO client it was tested with.
readonly SOCKETIO_VERSION="5.0.4"
readonly ENGINEIO_VERSION="4.15.1"
# Seconds to wait for the server to answer, and for it to stop after SIGTERM.
readonly START_TIMEOUT=60
readonly STOP_TIMEOUT=20

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PLADMED_SECANTUS_VENV:-$repo/target/secantus-venv}"
legacy_venv="${PLADMED_LEGACY_VENV:-$repo/target/legacy-venv}"
python="${PYTHON:-python3}"

log() { printf 'test.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Creates the venv DIR and pip-installs the remaining arguments into it, or reuses it when its
# MARKER says it already holds them and it has bin/EXECUTABLE. The marker is written last, so an
# interrupted install is redone rather than half-used.
install_venv() {
    local dir="$1" marker="$1/.$2" executable="$3"
    shift 3
    if [[ -f "$marker" && -x "$dir/bin/$executable" ]]; then
        return
    fi
    log "installing $* into $dir"
    rm -rf "$dir"
    "$python" -m venv "$dir" || die "cannot create a Python venv (is python3-venv installed?)"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$@" || die "cannot install $*"
    [[ -x "$dir/bin/$executable" ]] || die "$* installed no $executable"
    touch "$marker"
}

# The MongoDB-compatible test server.
ensure_venv() {
    install_venv "$venv" "secantusdb-$SECANTUS_VERSION" secantusd-py \
        --pre "SecantusDB==$SECANTUS_VERSION"
}

# The original probe's Socket.IO client (tests/legacy/pladmed_client.py).
ensure_legacy_venv() {
    install_venv "$legacy_venv" "python-socketio-$SOCKETIO_VERSION-$ENGINEIO_VERSION" python \
        "python-socketio[client]==$SOCKETIO_VERSION" "python-engineio==$ENGINEIO_VERSION"
}

# A loopback port nobody listens on right now.
free_port() {
    "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

server_pid=""
workdir=""

stop_server() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        local waited=0
        while kill -0 "$server_pid" 2>/dev/null && ((waited < STOP_TIMEOUT * 10)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$server_pid" 2>/dev/null; then
            log "secantusd did not stop within ${STOP_TIMEOUT}s; killing it"
            kill -KILL "$server_pid" 2>/dev/null || true
        fi
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}

cleanup() {
    stop_server
    [[ -n "$workdir" ]] && rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Whether the server at $1 answers a ping as a replica set primary (transactions need that).
answers() {
    "$venv/bin/python" - "$1" <<'EOF' >/dev/null 2>&1
import sys
import pymongo
client = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=1000)
hello = client.admin.command("hello")
sys.exit(0 if hello.get("setName") and hello.get("isWritablePrimary") else 1)
EOF
}

# Starts secantusd and waits until it answers; sets server_pid and uri.
start_server() {
    workdir="$(mktemp -d "${TMPDIR:-/tmp}/pladmed-secantus.XXXXXX")"
    local port
    port="$(free_port)"
    uri="mongodb://127.0.0.1:$port/?directConnection=true"
    "$venv/bin/secantusd-py" --host 127.0.0.1 --port "$port" \
        --storage-path "$workdir/data" --sync-on-commit --log-level WARNING \
        >"$workdir/secantusd.log" 2>&1 &
    server_pid=$!
    local deadline=$((SECONDS + START_TIMEOUT))
    until answers "$uri"; do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            cat "$workdir/secantusd.log" >&2
            die "secantusd exited during startup (log above)"
        fi
        if ((SECONDS >= deadline)); then
            cat "$workdir/secantusd.log" >&2
            die "secantusd did not answer on port $port within ${START_TIMEOUT}s (log above)"
        fi
        sleep 0.2
    done
}

started=$SECONDS
ensure_venv
ensure_legacy_venv
start_server
log "SecantusDB $SECANTUS_VERSION answers at $uri (setup took $((SECONDS - started))s)"

export PLADMED_TEST_MONGODB_URI="$uri"
export PLADMED_TEST_SECANTUSD="$venv/bin/secantusd-py"
export PLADMED_TEST_SOCKETIO_PYTHON="$legacy_venv/bin/python"
# This command always tests MongoDB, whatever the caller's environment says.
unset PLADMED_TEST_SKIP_MONGODB

cd "$repo"
status=0
# Every test binary runs even if an earlier one failed, so one run shows every failure.
cargo test --workspace --all-targets --no-fail-fast "$@" || status=$?
if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$workdir/secantusd.log" >&2
    log "error: secantusd died while the tests ran (log above)"
    status=1
fi
exit "$status"
