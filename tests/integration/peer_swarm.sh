#!/usr/bin/env bash
# tests/integration/peer_swarm.sh — 34 real peers on loopback: a `cordon-peer swarm` of 32
# instances in one process plus two `cordon-peer run` processes, all enrolled through a real
# `cordon-enroll serve` (the swarm enrolls its own instances with --server).
#
# What it shows:
#   - the swarm's command line refuses what it cannot run, with a clear message;
#   - the swarm enrolls the 32 instances, starts them (one /24 per instance with --spread),
#     and every one joins (swarm.ready failed=0 slow_waves=0); its ready file names 32
#     distinct nodes; every instance serves its control socket DIR/<i>/control.sock, 0600;
#   - two separate processes join through the swarm;
#   - every peer's lookup of every other node ID (34 x 33 lookups) finds it;
#   - tables are healthy: every peer knows at least TABLE_MIN others, only nodes of this
#     overlay, never itself; no link was refused;
#   - two peers on IPv6 loopback ([::1]) join each other and find each other;
#   - one refresher serves the swarm: after `cordon-enroll revoke` of one instance, every
#     other instance fetches the CRL (once for all), closes its link and drops the node;
#   - SIGTERM stops the swarm with exit status 0 and removes its sockets; restarted with one
#     instance more, it enrolls only that one and the others keep their node IDs;
#   - no key material or token in any log.
# shellcheck disable=SC2016
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${CORDON_CLI:?set CORDON_CLI to the cordon binary (ctest does)}"
command -v jq >/dev/null || { echo "$TEST_NAME: jq is needed" >&2; exit 1; }

OVERLAY=swarmtest
N=32         # swarm instances
TABLE_MIN=20 # k: with 33 others, every bucket that has nodes should hold them all or k
SWARM_PID=""
PEER_PIDS=()
V6_PIDS=()

# shellcheck disable=SC2317 # invoked from the EXIT trap
stop_all() {
    local pid
    for pid in "${PEER_PIDS[@]}" "${V6_PIDS[@]}" $SWARM_PID; do
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    done
    return 0
}
trap 'rc=$?; stop_all; if [ "$rc" = 0 ]; then cleanup; else (exit "$rc") || cleanup; fi' EXIT

# start_swarm COUNT: starts the swarm (enrolling what is missing) and waits at most 180 s
# for its ready file.
start_swarm() {
    local count=$1 i
    rm -f "$TMP/swarm.ready"
    "$CORDON_PEER" swarm --dir "$TMP/swarm" --count "$count" --listen 127.0.0.1:0 --spread \
        --ready-file "$TMP/swarm.ready" --server "https://127.0.0.1:$PORT" --token "$TOKEN" \
        --ca-fingerprint "sha256:$FP" --timeout 10 --crl-refresh 1 >>"$TMP/swarm.log" 2>&1 &
    SWARM_PID=$!
    for ((i = 0; i < 1800; i++)); do
        [ -s "$TMP/swarm.ready" ] && break
        kill -0 "$SWARM_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -s "$TMP/swarm.ready" ] || { tail -n 40 "$TMP/swarm.log"; die "the swarm wrote no ready file within 180 s"; }
}

# control_of INDEX: the control socket of peer INDEX (0..N-1 swarm, N and N+1 processes).
control_of() {
    if [ "$1" -lt "$N" ]; then echo "$TMP/swarm/$1/control.sock"; else echo "$TMP/proc$1/control.sock"; fi
}

"$CORDON_ENROLL" init --dir "$TMP/ov" --overlay "$OVERLAY" >/dev/null 2>"$TMP/init.err"
# 32 + 2 + 2 on IPv6 + at the restart: the one added and the revoked one's replacement.
TOKEN=$("$CORDON_ENROLL" token --dir "$TMP/ov" --max-nodes $((N + 6)) --label swarm)
FP=$(fingerprint "$TMP/ov")
start_server "$TMP/ov" --source-rate 100 --source-burst 100 --token-rate 100 --token-burst 100

# ---- the command line --------------------------------------------------------------------------

rc=0
"$CORDON_PEER" swarm --dir "$TMP/bad" --count 2 --listen 127.0.0.1:0 >"$TMP/bad1.out" 2>&1 || rc=$?
check_eq "$rc" 1 "a swarm without identities and without --server exits 1"
check 'grep -q "event=swarm.not_enrolled .*index=0" "$TMP/bad1.out"' \
    "and says which instance is not enrolled: $(grep -o 'event=swarm.not_enrolled.*' "$TMP/bad1.out" | head -n 1)"
rc=0
"$CORDON_PEER" swarm --dir "$TMP/bad" --count 0 --listen 127.0.0.1:0 >"$TMP/bad2.out" 2>&1 || rc=$?
check_eq "$rc" 2 "--count 0 is refused (exit 2): $(head -n 1 "$TMP/bad2.out")"
rc=0
"$CORDON_PEER" swarm --dir "$TMP/bad" --count 2 --listen 10.0.0.1:4000 --spread \
    >"$TMP/bad3.out" 2>&1 || rc=$?
check_eq "$rc" 2 "--spread away from 127.0.0.1 is refused (exit 2): $(head -n 1 "$TMP/bad3.out")"
rc=0
"$CORDON_PEER" swarm --dir "$TMP/bad" --count 10 --listen 127.0.0.1:65530 >"$TMP/bad4.out" 2>&1 || rc=$?
check_eq "$rc" 2 "ports past 65535 are refused (exit 2): $(head -n 1 "$TMP/bad4.out")"

# ---- 32 instances ------------------------------------------------------------------------------

start_swarm "$N"
check 'grep -q "event=swarm.enrolled count=$N" "$TMP/swarm.log"' "the swarm enrolled its $N instances"
check 'grep -q "event=swarm.ready count=$N failed=0 slow_waves=0" "$TMP/swarm.log"' \
    "every instance joined: $(grep -o 'event=swarm.ready.*' "$TMP/swarm.log")"
check_eq "$(wc -l <"$TMP/swarm.ready")" "$N" "the ready file has one line per instance"
mapfile -t IDS < <(cut -d ' ' -f 3 "$TMP/swarm.ready")
mapfile -t ADDRS < <(cut -d ' ' -f 2 "$TMP/swarm.ready")
check_eq "$(printf '%s\n' "${IDS[@]}" | sort -u | grep -cE '^[0-9a-f]{64}$')" "$N" \
    "$N distinct node IDs"
check_eq "$(printf '%s\n' "${ADDRS[@]}" | cut -d : -f 1 | cut -d . -f 1-3 | sort -u | wc -l)" "$N" \
    "one /24 per instance (--spread)"
check_eq "$(stat -c %a "$TMP"/swarm/*/control.sock | sort -u)" 600 \
    "every control socket is mode 0600"
check_eq "$(stat -c %a "$TMP"/swarm/*/node.key | sort -u)" 600 "every node key is mode 0600"

# ---- two processes join through the swarm ------------------------------------------------------

for i in "$N" $((N + 1)); do
    rc=0
    "$CORDON_PEER" enroll --dir "$TMP/proc$i" --server "https://127.0.0.1:$PORT" --token "$TOKEN" \
        --ca-fingerprint "sha256:$FP" --timeout 10 >"$TMP/proc$i.out" 2>"$TMP/proc$i.err" || rc=$?
    check_eq "$rc" 0 "process peer $i enrolled"
    "$CORDON_PEER" run --dir "$TMP/proc$i" --listen 127.0.0.1:0 --ready-file "$TMP/proc$i.ready" \
        --bootstrap "${ADDRS[0]},${ADDRS[$((N / 2))]}" >"$TMP/proc$i.log" 2>&1 &
    PEER_PIDS+=($!)
done
for i in "$N" $((N + 1)); do
    for ((t = 0; t < 300; t++)); do
        grep -q "event=peer.joined" "$TMP/proc$i.log" 2>/dev/null && break
        sleep 0.1
    done
    check 'grep -q "event=peer.joined" "$TMP/proc$i.log"' "process peer $i joined through the swarm"
    IDS+=("$(cut -d ' ' -f 2 "$TMP/proc$i.ready")")
done
TOTAL=${#IDS[@]}

# ---- every peer looks up every other node -----------------------------------------------------

# Each peer's 33 lookups go through one kept-alive curl (paced at 10/s: a node answers at most
# routing_rate = 20 routing queries per second from any one node), all peers at once; then
# one lookup per peer through the `cordon` CLI.
look_pids=()
for ((i = 0; i < TOTAL; i++)); do
    urls=()
    for ((j = 0; j < TOTAL; j++)); do
        [ "$i" = "$j" ] || urls+=("http://peer/v1/lookup/${IDS[$j]}")
    done
    curl -s --max-time 60 --rate 10/s --unix-socket "$(control_of "$i")" "${urls[@]}" \
        >"$TMP/look.$i" 2>&1 &
    look_pids+=($!)
done
for pid in "${look_pids[@]}"; do wait "$pid" || true; done
found=0
missed=()
for ((i = 0; i < TOTAL; i++)); do
    n=$(jq -s '[.[] | select(.found == true)] | length' "$TMP/look.$i" 2>/dev/null || echo 0)
    found=$((found + n))
    [ "$n" = $((TOTAL - 1)) ] || missed+=("$i:$n")
done
check_eq "$found" $((TOTAL * (TOTAL - 1))) \
    "every peer's lookup of every other node ID succeeds ($found of $((TOTAL * (TOTAL - 1))); peers short: ${missed[*]:-none})"
cli_found=0
for ((i = 0; i < TOTAL; i++)); do
    j=$(((i + 1) % TOTAL))
    out=$("$CORDON_CLI" --control "$(control_of "$i")" --json lookup "${IDS[$j]}" 2>&1 || true)
    [ "$(jq -r '.found' <<<"$out" 2>/dev/null)" = true ] && cli_found=$((cli_found + 1))
done
check_eq "$cli_found" "$TOTAL" "and through the cordon CLI, every peer finds its neighbour in the list"

# ---- healthy tables ----------------------------------------------------------------------------

printf '%s\n' "${IDS[@]}" | sort >"$TMP/all.ids"
small=()
strangers=0
selfs=0
refused=0
min_table=$TOTAL
for ((i = 0; i < TOTAL; i++)); do
    sock=$(control_of "$i")
    status=$(curl -s --max-time 10 --unix-socket "$sock" http://peer/v1/status)
    size=$(jq -r '.table_size' <<<"$status")
    [ "$size" -lt "$min_table" ] && min_table=$size
    [ "$size" -ge "$TABLE_MIN" ] || small+=("$i:$size")
    refused=$((refused + $(jq '[.counters | to_entries[] | select(.key | test("^link_refused_")) | .value] | add // 0' <<<"$status")))
    curl -s --max-time 10 --unix-socket "$sock" http://peer/v1/peers | jq -r '.peers[].node_id' |
        sort >"$TMP/peers.$i"
    strangers=$((strangers + $(comm -23 "$TMP/peers.$i" "$TMP/all.ids" | wc -l)))
    grep -qx "${IDS[$i]}" "$TMP/peers.$i" && selfs=$((selfs + 1))
done
check '[ "${#small[@]}" -eq 0 ]' \
    "every table holds at least $TABLE_MIN of the $((TOTAL - 1)) others (smallest: $min_table; below: ${small[*]:-none})"
check_eq "$strangers" 0 "tables hold only nodes of this overlay"
check_eq "$selfs" 0 "no table holds its own node"
check_eq "$refused" 0 "no link was refused between honest peers"

# ---- IPv6 --------------------------------------------------------------------------------------

for name in v6a v6b; do
    rc=0
    "$CORDON_PEER" enroll --dir "$TMP/$name" --server "https://127.0.0.1:$PORT" --token "$TOKEN" \
        --ca-fingerprint "sha256:$FP" --timeout 10 >"$TMP/$name.out" 2>"$TMP/$name.err" || rc=$?
    check_eq "$rc" 0 "$name enrolled"
done
"$CORDON_PEER" run --dir "$TMP/v6a" --listen "[::1]:0" --ready-file "$TMP/v6a.ready" \
    >"$TMP/v6a.log" 2>&1 &
V6_PIDS+=($!)
for ((t = 0; t < 100; t++)); do
    [ -s "$TMP/v6a.ready" ] && break
    sleep 0.1
done
read -r V6A_PORT V6A_ID <"$TMP/v6a.ready"
"$CORDON_PEER" run --dir "$TMP/v6b" --listen "[::1]:0" --ready-file "$TMP/v6b.ready" \
    --bootstrap "[::1]:$V6A_PORT" >"$TMP/v6b.log" 2>&1 &
V6_PIDS+=($!)
for ((t = 0; t < 300; t++)); do
    grep -q "event=peer.joined" "$TMP/v6b.log" 2>/dev/null && break
    sleep 0.1
done
check 'grep -q "event=peer.started .*listen=\"\?\[::1\]:0" "$TMP/v6a.log"' "v6a listens on [::1]"
check 'grep -q "event=peer.joined" "$TMP/v6b.log"' "v6b joined through v6a over IPv6"
read -r _ V6B_ID <"$TMP/v6b.ready"
out=$("$CORDON_CLI" --control "$TMP/v6b/control.sock" --json lookup "$V6A_ID" 2>&1 || true)
check_eq "$(jq -r '.found' <<<"$out" 2>/dev/null)" true "v6b finds v6a over IPv6"
check_eq "$(jq -r '.closest[0].addr' <<<"$out" 2>/dev/null)" "[::1]:$V6A_PORT" \
    "at its IPv6 address"
out=$("$CORDON_CLI" --control "$TMP/v6a/control.sock" --json lookup "$V6B_ID" 2>&1 || true)
check_eq "$(jq -r '.found' <<<"$out" 2>/dev/null)" true "v6a finds v6b over IPv6"
for pid in "${V6_PIDS[@]}"; do
    terminate "IPv6 peer" "$pid"
done
V6_PIDS=()

# ---- revocation reaches every instance ----------------------------------------------------------

check 'grep -q "event=swarm.refresh instances=$N without_enrollment=0 crl_interval_s=1" "$TMP/swarm.log"' \
    "one refresher serves the $N instances"
VICTIM=5
rc=0
"$CORDON_ENROLL" revoke --dir "$TMP/ov" --node "${IDS[$VICTIM]}" --reason test >"$TMP/revoke.out" 2>&1 || rc=$?
check_eq "$rc" 0 "instance $VICTIM revoked"
holders=$N
for ((t = 0; t < 300 && holders > 0; t++)); do
    sleep 0.1
    holders=0
    for ((i = 0; i < N; i++)); do
        [ "$i" = "$VICTIM" ] && continue
        curl -s --max-time 5 --unix-socket "$(control_of "$i")" http://peer/v1/peers |
            grep -q "${IDS[$VICTIM]}" && holders=$((holders + 1))
    done
done
check_eq "$holders" 0 "within 30 s no other instance's table holds the revoked node"
check_eq "$(grep -c "event=peer.crl_reloaded" "$TMP/swarm.log")" "$N" \
    "every instance reloaded the new CRL"
check_eq "$(grep -c "event=peer.crl_refreshed" "$TMP/swarm.log")" 1 \
    "the CRL was fetched once for the whole swarm"

# ---- stop, restart with one more ---------------------------------------------------------------

for i in "${!PEER_PIDS[@]}"; do
    terminate "process peer $((N + i))" "${PEER_PIDS[$i]}"
done
PEER_PIDS=()
terminate swarm "$SWARM_PID"
SWARM_PID=""
check 'grep -q "event=swarm.stopping signal=TERM" "$TMP/swarm.log" && grep -q "event=swarm.stopped count=$N failed=0" "$TMP/swarm.log"' \
    "the swarm logged swarm.stopping and swarm.stopped"
check '! ls "$TMP"/swarm/*/control.sock >/dev/null 2>&1' "no control socket is left behind"

# The operator wipes the revoked instance: the swarm enrolls a new identity in its place.
rm -rf "${TMP:?}/swarm/$VICTIM"
start_swarm $((N + 1))
check 'grep -q "event=swarm.enrolled count=2" "$TMP/swarm.log"' \
    "restarted with $((N + 1)) instances, the swarm enrolled only the new one and the wiped one"
kept=0
for ((i = 0; i < N; i++)); do
    [ "$i" = "$VICTIM" ] && continue
    [ "$(sed -n "$((i + 1))p" "$TMP/swarm.ready" | cut -d ' ' -f 3)" = "${IDS[$i]}" ] && kept=$((kept + 1))
done
check_eq "$kept" $((N - 1)) "the $((N - 1)) other earlier instances kept their node IDs"
check '[ "$(sed -n "$((VICTIM + 1))p" "$TMP/swarm.ready" | cut -d " " -f 3)" != "${IDS[$VICTIM]}" ]' \
    "the wiped instance has a new node ID"
check 'grep -q "event=swarm.ready count=$((N + 1)) failed=0" "$TMP/swarm.log"' "all $((N + 1)) joined again"
terminate swarm "$SWARM_PID"
SWARM_PID=""

check '! grep -l "PRIVATE KEY\|cdt_" "$TMP"/*.log "$TMP"/*.out' "no key material or token in any log"
stop_server
pass
