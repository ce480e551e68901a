#!/usr/bin/env bash
# tests/integration/peer_store_burst.sh — one real peer takes a burst of pipelined STOREs.
#
# The writer of bench/storage (cordon-bench-storage) signs 2,000 owned objects, opens one
# DTLS link to a `cordon-peer run` on 127.0.0.1 and keeps 1,024 STOREs in flight, then
# FETCHes every one back. That is the group commit's largest case (peer/runtime.c,
# read_socket): a burst reads on past 256 datagrams into one store batch, the accepted
# answers it holds until the commit grow from 64 to 1,024, and the socket needs the
# receive buffer the peer asks for. Checked: every STORE accepted and every FETCH
# returning the bytes stored (none lost, none wrong), the peer's counters agreeing, the
# peer stopping cleanly, and, after a SIGKILL right after the burst and a restart, the
# peer still holding every object (a second burst of the same names and seq, --run fixing
# the names, is refused as stale by the store, which compares against what it holds).
# Every wait is bounded.
# check's condition is evaluated when check runs, so it is written in single quotes:
# shellcheck disable=SC2016
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${CORDON_BENCH_STORAGE:?set CORDON_BENCH_STORAGE to cordon-bench-storage (ctest does)}"
command -v jq >/dev/null || { echo "$TEST_NAME: jq is needed" >&2; exit 1; }

OVERLAY=burst
COUNT=2000
# 1,024 in flight need the 4 MiB receive buffer the peer asks for, which the kernel grants
# only up to net.core.rmem_max; on a stock kernel (208 KiB, ~90 datagrams) a window that
# fits is used, and batches past 256 are not reached here (bench/storage has the same rule).
rmem_max=$(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo 0)
if ((rmem_max >= 4194304)); then WINDOW=1024; else WINDOW=64; fi

# shellcheck source=peers.sh
. "$(dirname "$0")/peers.sh"

counter() {
    ctl 1 --json status 2>/dev/null | jq -r --arg c "$1" '.counters[$c] // empty' 2>/dev/null || true
}

burst() {
    local out=$1 rc=0
    "$CORDON_BENCH_STORAGE" --dir "$TMP/p.2" --overlay "$OVERLAY" \
        --server "127.0.0.1:$PEER_PORT" --count "$COUNT" --window "$WINDOW" \
        --value-size 64 --run 7 >"$out" 2>"$out.err" || rc=$?
    return "$rc"
}

"$CORDON_ENROLL" init --dir "$TMP/ov" --overlay "$OVERLAY" >/dev/null 2>"$TMP/init.err"
P=$TMP/ov/params.json
jq '.writer_quota_objects = 100000 | .request_rate = 100000 | .request_burst = 100000 |
    .inbound_rate = 10000000' "$P" >"$TMP/params.json"
cp "$TMP/params.json" "$P"
check '[ "$(jq .writer_quota_objects "$P")" = 100000 ]' \
    "params.json: one writer may hold 100,000 objects, one node send 100,000 requests/s"
token=$("$CORDON_ENROLL" token --dir "$TMP/ov" --max-nodes 2 --label peer-store-burst)
fp=$(fingerprint "$TMP/ov")
start_server "$TMP/ov"
enroll_peers 2 "$token" "$fp"
ok "a peer and a writer enrolled"
stop_server

RUN_ARGS=(--store-rate 100000 --store-burst 100000 --store-global-rate 100000
    --crl-refresh 0 --renew-before 0)
start_peer 1 "${RUN_ARGS[@]}"
rcvbuf=$(counter socket_rcvbuf_bytes)
check '[ "$rcvbuf" -gt 0 ]' \
    "the peer reports the receive buffer the kernel gave it ($rcvbuf bytes; rmem_max $rmem_max)"

rc=0
burst "$TMP/burst1" || rc=$?
check_eq "$rc" 0 "cordon-bench-storage ran to the end ($(head -c 300 "$TMP/burst1.err"))"
check 'grep -q "^put count=$COUNT window=$WINDOW ok=$COUNT refused=0 lost=0 wrong=0 " "$TMP/burst1"' \
    "$COUNT STOREs, $WINDOW in flight: every one accepted, none lost"
check 'grep -q "^fetch count=$COUNT window=$WINDOW ok=$COUNT refused=0 lost=0 wrong=0 " "$TMP/burst1"' \
    "every object fetched back with the bytes stored"
check_eq "$(counter store_accepted)" "$COUNT" "the peer's store counted $COUNT accepted"
check_eq "$(counter core_stores_accepted)" "$COUNT" \
    "the core counted $COUNT STOREs accepted"

kill -KILL "${PID[1]}"
wait "${PID[1]}" 2>/dev/null || true
start_peer 1 "${RUN_ARGS[@]}"
rc=0
burst "$TMP/burst2" || rc=$?
check 'grep -q "^put count=$COUNT window=$WINDOW ok=0 refused=$COUNT lost=0 " "$TMP/burst2"' \
    "killed and restarted, the peer refuses the same $COUNT names as stale: it kept them all"
check_eq "$(counter store_accepted)" 0 "nothing was stored again"

kill -TERM "${PID[1]}"
for ((t = 0; t < 100; t++)); do
    kill -0 "${PID[1]}" 2>/dev/null || break
    sleep 0.1
done
rc=0
kill -0 "${PID[1]}" 2>/dev/null && rc=timeout # still running after 10 s: the trap kills it
[ "$rc" = timeout ] || wait "${PID[1]}" || rc=$?
check_eq "$rc" 0 "the peer stopped cleanly (SIGTERM, exit 0)"
pass
