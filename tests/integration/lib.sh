# tests/integration/lib.sh — shared helpers for the integration scripts.
#
# Sourced (never run) by tests/integration/*.sh. It provides:
#   strict mode, a temporary directory $TMP removed on exit (CORDON_IT_KEEP=1 keeps it),
#   start_server DIR [serve args...]   exports PORT, SERVER_PID, SERVER_LOG
#   stop_server                        SIGTERM, bounded wait, asserts exit status 0
#   fingerprint DIR                    hex SHA-256 of DIR/ca.crt in DER
#   http OUT METHOD PATH [curl args]   prints the HTTP status (000: no HTTP answer);
#                                      the body goes to OUT, the headers to OUT.hdr
#   ok MSG / fail MSG / check COND MSG / check_eq ACTUAL EXPECTED MSG   assertions
#   die MSG                            a failure that ends the script
#   pass                               prints "NAME: N passed, N failed" and exits
# The scripts talk to 127.0.0.1 only, and every wait is a bounded loop.
# shellcheck shell=bash
# check's condition is evaluated when check runs, so it is written in single quotes:
# shellcheck disable=SC2016

set -Eeuo pipefail
umask 077

TEST_NAME=$(basename "$0" .sh)
MAIN_PID=$BASHPID
PASSED=0
FAILED=0
FINISHED=0
SERVER_PID=""
SERVER_LOG=""
SERVER_RUNS=0
PORT=""

: "${CORDON_ENROLL:?set CORDON_ENROLL to the cordon-enroll binary (ctest does)}"
: "${CORDON_PEER:?set CORDON_PEER to the cordon-peer binary (ctest does)}"
[ -x "$CORDON_ENROLL" ] || { echo "$TEST_NAME: $CORDON_ENROLL is not executable" >&2; exit 1; }
[ -x "$CORDON_PEER" ] || { echo "$TEST_NAME: $CORDON_PEER is not executable" >&2; exit 1; }
for tool in openssl curl sha256sum; do
    command -v "$tool" >/dev/null || { echo "$TEST_NAME: needs $tool" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cordon-it-$TEST_NAME.XXXXXX")
export TMP

# ---- assertions ---------------------------------------------------------------------------

ok() {
    PASSED=$((PASSED + 1))
    printf 'ok   - %s\n' "$1"
}

fail() {
    FAILED=$((FAILED + 1))
    printf 'FAIL - %s\n' "$1"
}

# check 'SHELL CONDITION' 'message': the condition is evaluated; on failure the message
# and the condition's text are printed. Write the values into the message, e.g.
#   check '[ "$code" = 201 ]' "enrollment answered 201 (got $code)"
check() {
    local cond=$1 msg=$2
    if eval "$cond"; then
        ok "$msg"
    else
        fail "$msg    [condition: $cond]"
    fi
}

check_eq() {
    local actual=$1 expected=$2 msg=$3
    if [ "$actual" = "$expected" ]; then
        ok "$msg"
    else
        fail "$msg    [expected '$expected', got '$actual']"
    fi
}

# The last lines of every server log, for diagnosing a failure.
show_server_logs() {
    local f
    for f in "$TMP"/server.*.log; do
        [ -e "$f" ] || continue
        echo "---- last lines of $(basename "$f") ----"
        tail -n 30 "$f" | sed 's/^/    /'
    done
}

summary() {
    printf '%s: %d passed, %d failed\n' "$TEST_NAME" "$PASSED" "$FAILED"
}

die() {
    fail "$1"
    echo "ABORTED: $TEST_NAME cannot go on"
    show_server_logs
    FINISHED=1
    summary
    exit 1
}

pass() {
    FINISHED=1
    [ "$FAILED" -eq 0 ] || show_server_logs
    summary
    if [ "$FAILED" -eq 0 ]; then exit 0; else exit 1; fi
}

# An unexpected failure of a command in the script itself ends it, saying where. Inside a
# command substitution or a background job the failure is left to the caller to judge.
on_error() {
    local rc=$1 line=$2 cmd=$3
    [ "$BASHPID" = "$MAIN_PID" ] || return 0
    trap - ERR
    FINISHED=1
    fail "unexpected error: '$cmd' exited with status $rc at line $line"
    echo "ABORTED: $TEST_NAME cannot go on"
    show_server_logs
    summary
    exit 1
}
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR

cleanup() {
    local rc=$?
    trap - ERR
    set +e
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        local i
        for ((i = 0; i < 100; i++)); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    if [ "$FINISHED" -eq 0 ]; then
        # Left by `exit` somewhere other than pass/die: still say what happened.
        echo "ABORTED: $TEST_NAME exited early (status $rc)"
        FAILED=$((FAILED + 1))
        summary
        rc=1
    fi
    if [ "${CORDON_IT_KEEP:-0}" = 1 ]; then
        echo "(kept $TMP)"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT

# ---- the server -----------------------------------------------------------------------------

# start_server DIR [extra serve args...]: runs cordon-enroll serve in the background on
# 127.0.0.1 with a free port, waits (at most 10 s) for its ready file, exports PORT,
# SERVER_PID and SERVER_LOG (its stdout and stderr).
start_server() {
    local dir=$1 i
    shift
    [ -z "$SERVER_PID" ] || die "start_server: a server (pid $SERVER_PID) is already running"
    SERVER_RUNS=$((SERVER_RUNS + 1))
    local ready="$TMP/ready.$SERVER_RUNS"
    SERVER_LOG="$TMP/server.$SERVER_RUNS.log"
    rm -f "$ready"
    "$CORDON_ENROLL" serve --dir "$dir" --listen 127.0.0.1:0 --ready-file "$ready" "$@" \
        >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    for ((i = 0; i < 100; i++)); do
        [ -s "$ready" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ ! -s "$ready" ]; then
        local rc=0
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            kill -TERM "$SERVER_PID" 2>/dev/null || true
        fi
        wait "$SERVER_PID" || rc=$?
        SERVER_PID=""
        die "server did not write its ready file within 10 s (exit status $rc)"
    fi
    PORT=$(head -n 1 "$ready")
    if ! [[ "$PORT" =~ ^[1-9][0-9]*$ ]]; then
        die "ready file holds '$PORT', not a port"
    fi
    export PORT SERVER_PID SERVER_LOG
}

# terminate NAME PID: SIGTERM, wait at most 10 s (then SIGKILL, a failure), and assert that
# the process exited with status 0.
terminate() {
    local name=$1 pid=$2 i rc=0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        fail "$name (pid $pid) still running 10 s after SIGTERM; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" || rc=$?
    check_eq "$rc" 0 "$name stopped on SIGTERM with exit status 0"
}

# stop_server: SIGTERM, wait at most 10 s, and assert a clean exit (status 0) that also took
# the signer process down.
stop_server() {
    local i signer
    [ -n "$SERVER_PID" ] || die "stop_server: no server running"
    signer=$(ps -o pid= --ppid "$SERVER_PID" 2>/dev/null | tr -d ' ' || true)
    check '[ "$(grep -c . <<<"$signer")" = 1 ]' "the server runs with one child process, its signer (pid ${signer//$'\n'/ })"
    terminate server "$SERVER_PID"
    local left=""
    for i in $signer; do
        kill -0 "$i" 2>/dev/null && left="$left $i"
    done
    check_eq "$left" "" "no child of the server (signer) is left running"
    SERVER_PID=""
}

server_alive() {
    [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null
}

# ---- clients ---------------------------------------------------------------------------------

# fingerprint DIR: the SHA-256 of DIR/ca.crt in DER, as 64 lower-case hex digits.
fingerprint() {
    openssl x509 -in "$1/ca.crt" -outform DER | sha256sum | cut -d ' ' -f 1
}

# http OUT METHOD PATH [curl args...]: one HTTPS request to the server under test, trusting
# $CACERT. Prints the status code ("000" when there was no HTTP answer); the body goes to
# OUT and the response headers to OUT.hdr; curl's own complaints go to OUT.err.
http() {
    local out=$1 method=$2 path=$3
    shift 3
    local args=(-sS --max-time 30 --cacert "$CACERT" -o "$out" -D "$out.hdr" -w '%{http_code}')
    if [ "$method" = HEAD ]; then
        args+=(-I)
    else
        args+=(-X "$method")
    fi
    curl "${args[@]}" "$@" "https://127.0.0.1:$PORT$path" 2>"$out.err" || true
}

# content_type OUT: the Content-Type the last http call into OUT received.
content_type() {
    grep -i '^content-type:' "$1.hdr" | tail -n 1 | cut -d ' ' -f 2- | tr -d '\r' || true
}

# is_json_error FILE: the body is exactly one line {"error":"<non-empty message>"}.
is_json_error() {
    local body re='^\{"error":"([^"\\]|\\.)+"\}$'
    [ -f "$1" ] || return 1
    body=$(<"$1")
    [[ "$body" != *$'\n'* && "$body" =~ $re ]]
}

# metric NAME_WITH_LABELS: its value on /metrics now (empty if absent).
metric() {
    local m="$TMP/metrics.$$"
    [ "$(http "$m" GET /metrics)" = 200 ] || { echo ""; return 0; }
    awk -v name="$1" '$1 == name { print $2 }' "$m"
}

# make_csr KEYTYPE KEYFILE CSRFILE [openssl req args...]: a PEM CSR with a fresh key;
# KEYTYPE is p256, ed25519 or rsa.
make_csr() {
    local type=$1 key=$2 csr=$3
    shift 3
    local newkey
    case $type in
        p256) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
        ed25519) newkey=(-newkey ed25519) ;;
        rsa) newkey=(-newkey rsa:2048) ;;
        *) die "make_csr: unknown key type $type" ;;
    esac
    openssl req -new "${newkey[@]}" -nodes -keyout "$key" -out "$csr" "$@" 2>/dev/null
}

# random_hex N: N random bytes as hex.
random_hex() {
    openssl rand -hex "$1"
}

# node_id_of CERT: the 64-hex node ID in the certificate's cordon:// URI (empty if none).
node_id_of() {
    openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null |
        grep -oE 'URI:cordon://[a-z0-9-]+/node/[0-9a-f]{64}' | head -n 1 | sed 's#.*/node/##' ||
        true
}

# san_of CERT: the subjectAltName value, on one line.
san_of() {
    openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | sed -n '2,$p' | tr -d ' \n' ||
        true
}

# same_public_key A B: the two files (keys, CSRs or certificates) hold the same public key.
pubkey_of() {
    case $(head -n 1 "$1") in
        *CERTIFICATE\ REQUEST*) openssl req -in "$1" -noout -pubkey ;;
        *CERTIFICATE*) openssl x509 -in "$1" -noout -pubkey ;;
        *) openssl pkey -in "$1" -pubout ;;
    esac
}
same_public_key() {
    [ "$(pubkey_of "$1")" = "$(pubkey_of "$2")" ]
}

# closed_port: a TCP port on 127.0.0.1 that nothing listens on (empty if none found).
closed_port() {
    local p
    for p in 1 9 13 37 79; do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    echo ""
}
