#!/usr/bin/env bash
# tests/integration/peer_run.sh — `cordon-peer run` on the real network, on 127.0.0.1.
#
# Four peers enrolled through a real `cordon-enroll serve` run as separate processes: the
# first with no bootstrap, the others bootstrapping from it. Each reports its port and node
# ID in its ready file, joins, and ends up with a non-empty routing table (its log shows
# peer.joined and a peer.table line with size >= 1). A fifth peer enrolled in another
# overlay (a second CA, same overlay name) bootstraps from the first and gets no link: its
# log shows the refusal of the first peer's certificate. SIGTERM stops every peer with
# exit status 0 and the log lines peer.stopping and peer.stopped. No key material in logs.
# The control API: every peer serves DIR/control.sock (mode 0600) for `cordon` and curl
# (status, peers, /metrics), every peer's lookup of every other node ID finds it, a second
# peer cannot take a live control socket, and the socket file is gone after SIGTERM.
# A plain `openssl s_client -dtls1_2` without a certificate completes no handshake, and the
# refusal shows in the peer's counters. Garbage datagrams are dropped and counted, and the
# peer goes on answering lookups.
# check's condition is evaluated when check runs, so it is written in single quotes:
# shellcheck disable=SC2016
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${CORDON_CLI:?set CORDON_CLI to the cordon binary (ctest does)}"
command -v jq >/dev/null || { echo "$TEST_NAME: jq is needed" >&2; exit 1; }

OVERLAY=acme
N=4
PEER_PIDS=()
PEER_IDS=()

# Peers still running when the script ends (an abort) are killed, then lib.sh's cleanup()
# runs with the script's exit status in $? (restored through `|| cleanup`, which neither
# errexit nor the ERR trap act on).
# shellcheck disable=SC2317 # invoked from the EXIT trap
stop_all_peers() {
    local pid
    for pid in "${PEER_PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    done
    return 0
}
trap 'rc=$?; stop_all_peers; if [ "$rc" = 0 ]; then cleanup; else (exit "$rc") || cleanup; fi' EXIT

# enroll_peers OVDIR PREFIX COUNT: a token, a server, COUNT enrollments into PREFIX.<i>.
enroll_peers() {
    local ov=$1 prefix=$2 count=$3 token fp i rc
    token=$("$CORDON_ENROLL" token --dir "$ov" --max-nodes "$count" --label peer-run)
    fp=$(fingerprint "$ov")
    start_server "$ov"
    for ((i = 1; i <= count; i++)); do
        rc=0
        "$CORDON_PEER" enroll --dir "$prefix.$i" --server "https://127.0.0.1:$PORT" \
            --token "$token" --ca-fingerprint "sha256:$fp" --timeout 10 \
            >"$prefix.$i.out" 2>"$prefix.$i.err" || rc=$?
        check_eq "$rc" 0 "$(basename "$prefix").$i enrolled ($(tr '\n' ' ' <"$prefix.$i.err"))"
    done
    stop_server
}

# start_peer NAME DIR [run args...]: starts cordon-peer run in the background; waits (at
# most 10 s) for its ready file; sets PEER_PORT and PEER_ID and appends its pid.
start_peer() {
    local name=$1 dir=$2 i
    shift 2
    local ready=$TMP/$name.ready
    "$CORDON_PEER" run --dir "$dir" --listen 127.0.0.1:0 --ready-file "$ready" "$@" \
        >"$TMP/$name.log" 2>&1 &
    PEER_PIDS+=($!)
    for ((i = 0; i < 100; i++)); do
        [ -s "$ready" ] && break
        kill -0 "$!" 2>/dev/null || break
        sleep 0.1
    done
    [ -s "$ready" ] || { cat "$TMP/$name.log"; die "$name wrote no ready file within 10 s"; }
    read -r PEER_PORT PEER_ID <"$ready"
    check '[[ "$PEER_PORT" =~ ^[1-9][0-9]*$ && "$PEER_ID" =~ ^[0-9a-f]{64}$ ]]' \
        "$name is listening on port $PEER_PORT as node ${PEER_ID:0:16}..."
}

# table_size NAME: the last routing table size the peer logged (0 if none yet).
table_size() {
    local s
    s=$(grep -oE 'event=peer.table .*size=[0-9]+' "$TMP/$1.log" | tail -n 1 |
        grep -oE 'size=[0-9]+' | cut -d = -f 2 || true)
    echo "${s:-0}"
}

# stop_peer NAME PID: SIGTERM, wait at most 10 s, assert exit status 0.
stop_peer() {
    local name=$1 pid=$2
    terminate "$name" "$pid"
    check 'grep -q "event=peer.stopping .*signal=TERM" "$TMP/$name.log" && grep -q "event=peer.stopped" "$TMP/$name.log"' \
        "$name logged peer.stopping and peer.stopped"
}

# ---- two overlays, five identities ---------------------------------------------------------------

"$CORDON_ENROLL" init --dir "$TMP/ov" --overlay "$OVERLAY" >/dev/null 2>"$TMP/init.err"
# Every peer sits in 127.0.0.0/24: the per-prefix limit (2 per bucket by default) would keep
# some of them out of each other's tables, so this overlay allows k per prefix.
sed -i -E 's/"per_prefix_contacts": *[0-9]+/"per_prefix_contacts": 20/' "$TMP/ov/params.json"
check 'grep -q "\"per_prefix_contacts\": 20" "$TMP/ov/params.json"' "params.json allows 20 contacts per prefix"
enroll_peers "$TMP/ov" "$TMP/p" "$N"
"$CORDON_ENROLL" init --dir "$TMP/ov2" --overlay "$OVERLAY" >/dev/null 2>"$TMP/init2.err"
enroll_peers "$TMP/ov2" "$TMP/foreign" 1
check '! cmp -s "$TMP/ov/ca.crt" "$TMP/ov2/ca.crt"' "the second overlay has its own CA"

# ---- the four peers -------------------------------------------------------------------------------

start_peer p1 "$TMP/p.1"
FIRST_PORT=$PEER_PORT
# shellcheck disable=SC2034 # used in a check condition
FIRST_ID=$PEER_ID
PEER_IDS+=("$PEER_ID")
check 'grep -q "event=peer.started node=$FIRST_ID .*port=$FIRST_PORT" "$TMP/p1.log"' \
    "p1 logged peer.started with its node ID and port"
for ((i = 2; i <= N; i++)); do
    start_peer "p$i" "$TMP/p.$i" --bootstrap "127.0.0.1:$FIRST_PORT"
    PEER_IDS+=("$PEER_ID")
done

# Bounded: at most 30 s for every peer to have joined with a non-empty table.
for ((t = 0; t < 300; t++)); do
    done_n=0
    for ((i = 1; i <= N; i++)); do
        if grep -q "event=peer.joined" "$TMP/p$i.log" && [ "$(table_size "p$i")" -ge 1 ]; then
            done_n=$((done_n + 1))
        fi
    done
    [ "$done_n" -eq "$N" ] && break
    sleep 0.1
done
for ((i = 1; i <= N; i++)); do
    size=$(table_size "p$i")
    check 'grep -q "event=peer.joined" "$TMP/p$i.log" && [ "$size" -ge 1 ]' \
        "p$i joined and its routing table is not empty (size $size)"
done
# Give lookups a moment to spread the contacts, then expect more than the bootstrap node.
for ((t = 0; t < 100; t++)); do
    [ "$(table_size p1)" -ge $((N - 1)) ] && break
    sleep 0.1
done
check '[ "$(table_size p1)" -eq $((N - 1)) ]' "p1 (the bootstrap node) knows all $((N - 1)) others (size $(table_size p1))"

# ---- the control API --------------------------------------------------------------------------------

# ctl NAME ARGS...: the cordon CLI against peer NAME's control socket (pN: DIR $TMP/p.N).
ctl() {
    local n=${1#p}
    shift
    "$CORDON_CLI" --control "$TMP/p.$n/control.sock" "$@"
}

for ((i = 1; i <= N; i++)); do
    sock=$TMP/p.$i/control.sock
    id=${PEER_IDS[$((i - 1))]}
    check '[ -S "$sock" ]' "p$i serves its control socket at DIR/control.sock"
    check '[ "$(stat -c %a "$sock")" = 600 ]' "p$i's control socket is mode 0600 (got $(stat -c %a "$sock" 2>/dev/null))"
    rc=0
    ctl "p$i" status >"$TMP/p$i.status" 2>"$TMP/p$i.status.err" || rc=$?
    check_eq "$rc" 0 "cordon status of p$i exits 0 ($(tr '\n' ' ' <"$TMP/p$i.status.err"))"
    check 'grep -Eq "^node ID +$id\$" "$TMP/p$i.status"' "cordon status of p$i shows its node ID"
    size=$(grep -E '^table size ' "$TMP/p$i.status" | grep -oE '[0-9]+$' || echo 0)
    check '[ "$size" -ge 1 ]' "cordon status of p$i shows a non-empty table (table size $size)"
    rc=0
    curl -sS --max-time 10 --unix-socket "$sock" -o "$TMP/p$i.status.json" http://peer/v1/status || rc=$?
    check '[ "$rc" = 0 ] && [ "$(jq -r .node_id "$TMP/p$i.status.json")" = "$id" ]' \
        "curl --unix-socket .../v1/status of p$i is JSON with its node ID (curl rc $rc)"
    check '[ "$(jq -r .overlay "$TMP/p$i.status.json")" = "$OVERLAY" ] && jq -e ".counters.link_handshakes_full >= 1 and .links >= 1" "$TMP/p$i.status.json" >/dev/null' \
        "p$i's status names the overlay and counts its links and handshakes"
done

# Every peer looks up every other peer's node ID: the target answers, so it comes first.
for ((i = 1; i <= N; i++)); do
    for ((j = 1; j <= N; j++)); do
        [ "$i" = "$j" ] && continue
        target=${PEER_IDS[$((j - 1))]}
        out=$TMP/lookup.$i.$j.json
        rc=0
        ctl "p$i" --json lookup "$target" >"$out" 2>"$out.err" || rc=$?
        check '[ "$rc" = 0 ] && jq -e --arg t "$target" ".found == true and .target == \$t and .closest[0].node_id == \$t" "$out" >/dev/null' \
            "p$i finds p$j by lookup (rc $rc, $(jq -c '{found, queried, first: .closest[0].node_id[0:16]}' "$out" 2>/dev/null || tr '\n' ' ' <"$out.err"))"
    done
done
rc=0
ctl p2 lookup "${PEER_IDS[0]}" >"$TMP/lookup.human" 2>&1 || rc=$?
check '[ "$rc" = 0 ] && grep -q ": found" "$TMP/lookup.human" && grep -q "${PEER_IDS[0]}" "$TMP/lookup.human"' \
    "cordon lookup (human output) of p1 from p2 says found"

for ((i = 1; i <= N; i++)); do
    rc=0
    ctl "p$i" --json peers >"$TMP/p$i.peers.json" 2>/dev/null || rc=$?
    missing=0
    for ((j = 1; j <= N; j++)); do
        [ "$i" = "$j" ] && continue
        jq -e --arg t "${PEER_IDS[$((j - 1))]}" 'any(.peers[]; .node_id == $t)' "$TMP/p$i.peers.json" >/dev/null ||
            missing=$((missing + 1))
    done
    check '[ "$rc" = 0 ] && [ "$missing" = 0 ] && ! jq -e --arg s "${PEER_IDS[$((i - 1))]}" "any(.peers[]; .node_id == \$s)" "$TMP/p$i.peers.json" >/dev/null' \
        "cordon --json peers of p$i lists the $((N - 1)) others and not itself (rc $rc, missing $missing)"
done
rc=0
ctl p1 peers >"$TMP/p1.peers.txt" 2>&1 || rc=$?
check '[ "$rc" = 0 ] && grep -q "^$((N - 1)) peers" "$TMP/p1.peers.txt"' "cordon peers (human output) of p1 counts $((N - 1)) peers"

rc=0
curl -sS --max-time 10 --unix-socket "$TMP/p.1/control.sock" -D "$TMP/metrics.h" -o "$TMP/metrics" http://peer/metrics || rc=$?
check '[ "$rc" = 0 ] && grep -qi "^content-type: text/plain; version=0.0.4" "$TMP/metrics.h"' "/metrics answers Prometheus text (curl rc $rc)"
check 'grep -q "^# TYPE cordon_peer_table_size gauge" "$TMP/metrics" && grep -Eq "^cordon_peer_link_handshakes_full_total [1-9][0-9]*$" "$TMP/metrics" && grep -q "cordon_peer_info{node_id=\"${PEER_IDS[0]}\"" "$TMP/metrics"' \
    "/metrics has the table gauge, the handshake counter and the node ID"
check '! grep -Ev "^(# (HELP|TYPE) .*|[a-z_:]+(\{[^}]*\})? [0-9]+(\.[0-9]+)?)$" "$TMP/metrics"' \
    "every /metrics line is a comment or a sample"
check 'grep -q "^# TYPE cordon_peer_link_sessions gauge" "$TMP/metrics" && grep -Eq "^cordon_peer_socket_rcvbuf_bytes [1-9][0-9]*$" "$TMP/metrics" && ! grep -q "socket_rcvbuf_bytes_total" "$TMP/metrics"' \
    "/metrics serves levels (stored sessions, the socket's receive buffer) as gauges, without _total"

# A second peer cannot take a live control socket: it refuses to start.
rc=0
"$CORDON_PEER" run --dir "$TMP/p.2" --listen 127.0.0.1:0 --control "$TMP/p.1/control.sock" \
    >"$TMP/dup.log" 2>&1 &
dup_pid=$!
for ((t = 0; t < 100; t++)); do
    kill -0 "$dup_pid" 2>/dev/null || break
    sleep 0.1
done
kill -KILL "$dup_pid" 2>/dev/null || true
wait "$dup_pid" || rc=$?
check '[ "$rc" = 1 ] && grep -q "event=peer.start_failed .*stage=control reason=" "$TMP/dup.log" && [ -S "$TMP/p.1/control.sock" ]' \
    "a second peer on p1's live control socket refuses to start and leaves it alone (rc $rc)"
rc=0
ctl p1 status >/dev/null 2>&1 || rc=$?
check_eq "$rc" 0 "p1 still answers on its control socket"

# ---- a plain DTLS client without a certificate gets no handshake -----------------------------------

# p1_metric NAME: the value of one of p1's metrics now (empty if absent).
p1_metric() {
    curl -sS --max-time 10 --unix-socket "$TMP/p.1/control.sock" http://peer/metrics 2>/dev/null |
        awk -v n="$1" '$1 == n { print $2 }' || true
}
failed_before=$(p1_metric cordon_peer_link_handshakes_failed_total)
rc=0
timeout 10 openssl s_client -dtls1_2 -connect "127.0.0.1:$FIRST_PORT" -quiet </dev/null \
    >"$TMP/sclient.out" 2>&1 || rc=$?
failed_after=$(p1_metric cordon_peer_link_handshakes_failed_total)
check '[ "$rc" != 0 ] && ! grep -q "Verification: OK" "$TMP/sclient.out"' \
    "openssl s_client -dtls1_2 without a certificate completes no handshake (rc $rc)"
check '[ "${failed_after:-0}" -gt "${failed_before:-0}" ]' \
    "p1 counts the refused handshake (handshakes_failed ${failed_before:-?} -> ${failed_after:-?})"
check '[ "$(table_size p1)" -eq $((N - 1)) ]' "the prober did not enter p1's table"

# ---- garbage datagrams harm nothing -----------------------------------------------------------------

garbage_before=$(p1_metric cordon_peer_link_dropped_garbage_total)
head -c 400000 /dev/urandom >"$TMP/garbage"
for ((g = 0; g < 500; g++)); do
    # One datagram of 1..800 random bytes per write (a new source port each time).
    dd if="$TMP/garbage" iflag=skip_bytes skip=$((g * 700)) bs=$((1 + g % 800)) count=1 status=none \
        >"/dev/udp/127.0.0.1/$FIRST_PORT" 2>/dev/null || true
done
garbage_after=$(p1_metric cordon_peer_link_dropped_garbage_total)
check '[ "${garbage_after:-0}" -gt "${garbage_before:-0}" ]' \
    "p1 drops and counts garbage datagrams (${garbage_before:-?} -> ${garbage_after:-?})"
check 'kill -0 "${PEER_PIDS[0]}" 2>/dev/null' "p1 is still running after the garbage"
rc=0
ctl p1 --json lookup "${PEER_IDS[1]}" >"$TMP/after-garbage.json" 2>&1 || rc=$?
check '[ "$rc" = 0 ] && jq -e ".found == true" "$TMP/after-garbage.json" >/dev/null' \
    "after the garbage, p1 still finds p2 by lookup (rc $rc)"

# ---- a peer of another overlay gets no link ---------------------------------------------------------

start_peer foreign "$TMP/foreign.1" --bootstrap "127.0.0.1:$FIRST_PORT"
for ((t = 0; t < 200; t++)); do
    grep -q "event=peer.link_refused" "$TMP/foreign.log" && break
    sleep 0.1
done
check 'grep -q "event=peer.link_refused .*addr=127.0.0.1:$FIRST_PORT .*reason=cert_untrusted" "$TMP/foreign.log"' \
    "the foreign peer refuses p1's certificate: $(grep -m 1 -o 'event=peer.link_refused.*' "$TMP/foreign.log" || echo none)"
check '! grep -q "event=peer.joined" "$TMP/foreign.log"' "the foreign peer never joins"
check '[ "$(table_size foreign)" -eq 0 ]' "the foreign peer's table stays empty"
FOREIGN_PID=${PEER_PIDS[-1]}

# ---- shutdown ---------------------------------------------------------------------------------------

stop_peer foreign "$FOREIGN_PID"
for ((i = 1; i <= N; i++)); do
    stop_peer "p$i" "${PEER_PIDS[$((i - 1))]}"
done
for ((i = 1; i <= N; i++)); do
    check '[ ! -e "$TMP/p.$i/control.sock" ]' "p$i removed its control socket on SIGTERM"
done
check 'grep -Eq "event=peer.stopped .*handshakes_failed=[1-9]" "$TMP/p1.log"' \
    "p1's counters show the failed handshake of the foreign peer: $(grep -o 'handshakes_failed=[0-9]*' "$TMP/p1.log" || true)"
FIRST_TABLE_END=$(grep -oE 'event=peer.stopped node=[0-9a-f]+ table=[0-9]+' "$TMP/p1.log" | grep -oE '[0-9]+$' || true)
check '[ "${FIRST_TABLE_END:-0}" -eq $((N - 1)) ]' "the foreign peer never entered p1's table (table=${FIRST_TABLE_END:-?} at stop)"

# Nothing secret in any log: no private key PEM, no token.
check '! grep -l "PRIVATE KEY\|cdt_" "$TMP"/p*.log "$TMP"/foreign.log' "no key material or token in the peer logs"

pass
