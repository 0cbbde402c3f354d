# Shared by the benchmarks that load `medtwin serve` over HTTP (sourced, not run).
#
#   ensure_oha                  puts cargo's bin folder on PATH and installs the
#                               load generator oha (pinned version) if it is missing
#   start_server BIN LOG ARGS…  runs `BIN serve ARGS… --addr 127.0.0.1:0` with its
#                               stderr in LOG, waits up to two minutes for the
#                               start-up line, and sets `server_pid` and `addr`
#                               (127.0.0.1:PORT, the port chosen by the OS); exits
#                               with the log if the server stops or never reports
#   stop_server                 SIGTERM to the server and waits for it (for traps)

OHA_VERSION=1.16.0
server_pid=""

ensure_oha() {
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
    if ! command -v oha >/dev/null; then
        echo "run.sh: installing the load generator: cargo install oha --version $OHA_VERSION --locked (a few minutes, once)" >&2
        cargo install oha --version "$OHA_VERSION" --locked
    fi
}

start_server() {
    local bin="$1" log="$2"
    shift 2
    "$bin" serve "$@" --addr 127.0.0.1:0 2>"$log" &
    server_pid=$!
    addr=""
    for _ in $(seq 1 1200); do
        addr=$(sed -n 's|^medtwin: FHIR API at http://\([0-9.:]*\)/fhir.*|\1|p' "$log" | head -1)
        [ -n "$addr" ] && break
        kill -0 "$server_pid" 2>/dev/null || { echo "run.sh: the server exited:" >&2; cat "$log" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$addr" ] || { echo "run.sh: the server did not report its address:" >&2; cat "$log" >&2; exit 1; }
    case "$addr" in 127.0.0.1:*) ;; *) echo "run.sh: refusing to load a non-loopback address $addr" >&2; exit 1 ;; esac
}

stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}
