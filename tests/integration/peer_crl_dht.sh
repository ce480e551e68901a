#!/usr/bin/env bash
# tests/integration/peer_crl_dht.sh — a revocation outlives the enrollment server, and
# writers keep their objects alive, on real peers on 127.0.0.1.
#
# Nine peers enrolled through a real `cordon-enroll serve`. Only p1 talks to the server
# after enrollment (--crl-refresh 2); p2..p9 run with --crl-refresh 0 --renew-before 0 (no
# refresher at all) and read the CRL object of the DHT every 2 s (--crl-dht 2).
#   - Republishing: p2 puts an object with a 20 s lifetime; read from p5 after twice that,
#     it is still there, at a higher seq, because p2 republished it (republished counter).
#   - CRL in the DHT: the operator revokes p9; p1 fetches the new CRL from the server and
#     puts it into the DHT (crl_published); then the server is STOPPED. Every other honest
#     peer, which never talked to the server after the revocation, learns the CRL from the
#     DHT (crl_number rises, crl_from_dht counts it, peer.crl_reloaded source=dht), drops
#     p9 from its table and refuses it, and writes the CRL to its crl.pem: restarted, a
#     peer starts with it.
#   - With the server down, puts and gets between the remaining peers keep working.
#   - p2 killed, its object is gone once its lifetime has passed: nothing else
#     republishes it.
# Every wait is bounded.
# check's condition is evaluated when check runs, so it is written in single quotes:
# shellcheck disable=SC2016
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${CORDON_CLI:?set CORDON_CLI to the cordon binary (ctest does)}"
command -v jq >/dev/null || { echo "$TEST_NAME: jq is needed" >&2; exit 1; }

OVERLAY=acme
N=9
VICTIM=9
TTL=20
PEER_IDS=("")

# shellcheck source=peers.sh
. "$(dirname "$0")/peers.sh"

# counter I NAME: a counter of peer I's status (empty when it does not answer).
# shellcheck disable=SC2317 # called from check conditions (eval)
counter() {
    ctl "$1" --json status 2>/dev/null | jq -r --arg c "$2" '.counters[$c] // empty' 2>/dev/null || true
}

# lists I NODEID: peer I's routing table holds NODEID.
# shellcheck disable=SC2317 # called from check conditions (eval)
lists() {
    ctl "$1" --json peers 2>/dev/null | jq -e --arg t "$2" 'any(.peers[]; .node_id == $t)' >/dev/null
}

# wait_for SECONDS 'CONDITION': evaluates CONDITION every 0.2 s until it holds or SECONDS
# passed; the status says which.
wait_for() {
    local limit=$1 cond=$2 t
    for ((t = 0; t < limit * 5; t++)); do
        eval "$cond" && return 0
        sleep 0.2
    done
    return 1
}

# seq_of READER OWNER NAME: the seq peer READER reads for OWNER's object NAME (empty when
# none), from the control API's X-Cordon-Seq header.
seq_of() {
    curl -sS --max-time 40 --unix-socket "$TMP/p.$1/control.sock" -D - -o /dev/null \
        "http://peer/v1/objects/$3?owner=${PEER_IDS[$2]}" 2>/dev/null |
        tr -d '\r' | sed -n 's/^[Xx]-[Cc]ordon-[Ss]eq: *//p'
}

# shellcheck disable=SC2317 # called from check conditions (eval)
crl_file_number() {
    openssl crl -in "$1/crl.pem" -noout -crlnumber | cut -d = -f 2
}

# ---- an overlay, nine peers ---------------------------------------------------------------------

"$CORDON_ENROLL" init --dir "$TMP/ov" --overlay "$OVERLAY" >/dev/null 2>"$TMP/init.err"
sed -i -E -e 's/"per_prefix_contacts": *[0-9]+/"per_prefix_contacts": 20/' "$TMP/ov/params.json"
token=$("$CORDON_ENROLL" token --dir "$TMP/ov" --max-nodes "$N" --label peer-crl-dht)
fp=$(fingerprint "$TMP/ov")
start_server "$TMP/ov"
enroll_peers "$N" "$token" "$fp"
ok "$N peers enrolled"

# --help names the new options; out-of-range values are refused with what is expected.
"$CORDON_PEER" --help >"$TMP/help.out"
check 'grep -q -- "--crl-dht" "$TMP/help.out" && grep -q -- "--maintain" "$TMP/help.out" && grep -q -- "--store-global-rate" "$TMP/help.out"' \
    "cordon-peer --help documents --crl-dht, --maintain and the STORE budgets"
for bad in "--maintain 0" "--maintain 86401" "--store-rate 0" "--store-burst 100001" \
    "--store-global-rate x" "--crl-dht 0"; do
    rc=0
    # shellcheck disable=SC2086 # the option and its value are two words
    "$CORDON_PEER" run --dir "$TMP/p.1" --listen 127.0.0.1:0 $bad >/dev/null 2>"$TMP/bad.err" || rc=$?
    check '[ "$rc" = 2 ] && grep -q "expected 1\.\." "$TMP/bad.err"' \
        "run $bad is refused (exit $rc: $(head -n 1 "$TMP/bad.err"))"
done

NOREFRESH=(--crl-refresh 0 --renew-before 0 --crl-dht 2)
start_peer 1 --crl-refresh 2 --renew-before 0 --maintain 5
FIRST_PORT=$PEER_PORT
PEER_IDS+=("$PEER_ID")
for ((i = 2; i <= N; i++)); do
    start_peer "$i" "${NOREFRESH[@]}" --maintain 5 --store-rate 50 --store-burst 200 \
        --store-global-rate 2000 --bootstrap "127.0.0.1:$FIRST_PORT"
    PEER_IDS+=("$PEER_ID")
done
VID=${PEER_IDS[$VICTIM]}
# shellcheck disable=SC2317 # called from check conditions (eval)
joined() {
    local i
    for ((i = 1; i <= N; i++)); do
        grep -q "event=peer.joined" "$TMP/p$i.log" || return 1
    done
}
wait_for 60 joined || true
check joined "all $N peers joined"
check 'grep -q "event=peer.refresh_off node=${PEER_IDS[2]} reason=disabled" "$TMP/p2.log"' \
    "p2 runs no refresher: it never talks to the server"
crl_before=$(counter 2 crl_number)
check '[ -n "$crl_before" ] && [ "$crl_before" = "$(counter 1 crl_number)" ]' \
    "every peer starts with the enrollment CRL (crl_number $crl_before)"
wait_for 20 'lists 1 "$VID" && lists 2 "$VID"' || true
check 'lists 1 "$VID" && lists 2 "$VID"' "p1 and p2 hold p$VICTIM in their routing tables"

# ---- a short-lived object that its writer keeps alive ---------------------------------------------

printf 'kept alive by p2' >"$TMP/short"
rc=0
ctl 2 put short "$TMP/short" --ttl "$TTL" >"$TMP/put.short" 2>&1 || rc=$?
put_at=$SECONDS
check '[ "$rc" = 0 ]' "p2 put 'short' with a ${TTL} s lifetime ($(cat "$TMP/put.short"))"
seq0=$(seq_of 5 2 short)
check '[ -n "$seq0" ]' "p5 reads 'short' at seq $seq0"
check '[ "$(counter 2 mine_records)" = 1 ]' "p2 keeps one record to republish (mine_records)"

# ---- revocation, fetched by p1 only, then the server stops ------------------------------------------

rc=0
"$CORDON_ENROLL" revoke --dir "$TMP/ov" --node "$VID" --reason test >"$TMP/revoke.out" 2>&1 || rc=$?
check_eq "$rc" 0 "cordon-enroll revoke of p$VICTIM"
wait_for 30 '[ "$(counter 1 crl_number)" -gt "$crl_before" ] 2>/dev/null' || true
crl_after=$(counter 1 crl_number)
check '[ "$crl_after" -gt "$crl_before" ]' "p1 fetched the new CRL from the server ($crl_before -> $crl_after)"
wait_for 30 '[ "$(counter 1 crl_published)" -ge 1 ] 2>/dev/null' || true
check '[ "$(counter 1 crl_published)" -ge 1 ] && grep -q "event=peer.crl_published node=${PEER_IDS[1]} crl=$crl_after" "$TMP/p1.log"' \
    "p1 put the CRL into the DHT (crl_published $(counter 1 crl_published))"
stop_server
ok "the enrollment server is stopped"

HONEST=(2 3 4 5 6 7 8)
# shellcheck disable=SC2317 # called from check conditions (eval)
learned() {
    local i
    for i in "${HONEST[@]}"; do
        [ "$(counter "$i" crl_number)" = "$crl_after" ] || return 1
    done
}
wait_for 40 learned || true
for i in "${HONEST[@]}"; do
    check '[ "$(counter "$i" crl_number)" = "$crl_after" ] && [ "$(counter "$i" crl_from_dht)" = 1 ]' \
        "p$i learned CRL $crl_after from the DHT (crl_number $(counter "$i" crl_number), crl_from_dht $(counter "$i" crl_from_dht))"
    check 'grep -Eq "event=peer.crl_reloaded node=${PEER_IDS[$i]} crl=$crl_after .*source=dht" "$TMP/p$i.log"' \
        "p$i logged peer.crl_reloaded source=dht"
    wait_for 10 '! lists "$i" "$VID"' || true
    check '! lists "$i" "$VID"' "p$i no longer holds p$VICTIM in its table"
    check '[ "$(($(crl_file_number "$TMP/p.$i")))" = "$crl_after" ]' \
        "p$i wrote CRL $crl_after to its crl.pem"
done
check '[ "$(counter 1 crl_from_dht)" = 0 ]' "p1, which had it from the server, took nothing from the DHT"

# p9's links are refused: it cannot reach the others any more.
refused=0
for i in "${HONEST[@]}"; do
    refused=$((refused + $(counter "$i" link_links_revoked) + $(counter "$i" link_refused_revoked)))
done
rc=0
ctl "$VICTIM" --json lookup "${PEER_IDS[3]}" >"$TMP/victim.lookup" 2>&1 || rc=$?
check '[ "$refused" -ge 1 ] && ! jq -e ".found == true" "$TMP/victim.lookup" >/dev/null 2>&1' \
    "the honest peers closed or refused p$VICTIM's links ($refused) and its lookup of p3 finds nothing"

# ---- the overlay keeps serving with the server down ------------------------------------------------

printf 'written while the server is down' >"$TMP/down"
rc=0
ctl 3 put down "$TMP/down" --ttl 600 >"$TMP/put.down" 2>&1 || rc=$?
check '[ "$rc" = 0 ]' "p3 puts with the server down ($(cat "$TMP/put.down"))"
rc=0
ctl 6 get down --owner "${PEER_IDS[3]}" -o "$TMP/got.down" 2>"$TMP/get.down.err" || rc=$?
check '[ "$rc" = 0 ] && cmp -s "$TMP/down" "$TMP/got.down"' "p6 reads it back (exit $rc)"

# A restarted peer starts with the CRL it learned from the DHT (its crl.pem).
kill -TERM "${PID[4]}"
wait "${PID[4]}" 2>/dev/null || true
start_peer 4 "${NOREFRESH[@]}" --bootstrap "127.0.0.1:$FIRST_PORT"
check '[ "$(counter 4 crl_number)" = "$crl_after" ] && [ "$(counter 4 crl_from_dht)" = 0 ]' \
    "p4 restarted with CRL $crl_after from its crl.pem (crl_number $(counter 4 crl_number))"

# ---- the short-lived object, twice its lifetime later ------------------------------------------------

while [ $((SECONDS - put_at)) -lt $((2 * TTL)) ]; do sleep 1; done
seq2=$(seq_of 5 2 short)
rc=0
ctl 7 get short --owner "${PEER_IDS[2]}" -o "$TMP/got.short" 2>"$TMP/get.short.err" || rc=$?
check '[ "$rc" = 0 ] && cmp -s "$TMP/short" "$TMP/got.short"' \
    "$((SECONDS - put_at)) s after the put (lifetime $TTL s), p7 still reads 'short' (exit $rc)"
check '[ -n "$seq2" ] && [ "$seq2" -gt "$seq0" ]' "p5 reads it at a higher seq: republished ($seq0 -> $seq2)"
check '[ "$(counter 2 republished)" -ge 2 ] && [ "$(counter 2 republish_failed)" = 0 ]' \
    "p2 republished it (republished $(counter 2 republished), republish_failed $(counter 2 republish_failed))"

# Its writer killed, nothing keeps it: gone once its last version's lifetime passed.
kill -KILL "${PID[2]}"
wait "${PID[2]}" 2>/dev/null || true
killed_at=$SECONDS
# shellcheck disable=SC2317 # called from check conditions (eval)
gone() {
    local r=0
    ctl 5 get short --owner "${PEER_IDS[2]}" -o /dev/null 2>/dev/null || r=$?
    [ "$r" = 4 ]
}
wait_for $((TTL + 15)) gone || true
check gone "after p2 was killed, 'short' is gone within its lifetime ($((SECONDS - killed_at)) s; get exits 4)"

# The others stop cleanly on SIGTERM (a sanitizer build reports leaks and errors then).
stopped=0
for ((i = 1; i <= N; i++)); do
    [ "$i" = 2 ] && continue
    kill -TERM "${PID[$i]}" 2>/dev/null || true
done
for ((i = 1; i <= N; i++)); do
    [ "$i" = 2 ] && continue
    for ((t = 0; t < 100; t++)); do
        kill -0 "${PID[$i]}" 2>/dev/null || break
        sleep 0.1
    done
    rc=0
    wait "${PID[$i]}" 2>/dev/null || rc=$?
    [ "$rc" = 0 ] && stopped=$((stopped + 1))
done
check '[ "$stopped" = $((N - 1)) ]' "the other $((N - 1)) peers stopped on SIGTERM with exit status 0 ($stopped)"
check '! grep -El "AddressSanitizer|LeakSanitizer|runtime error" "$TMP"/p*.log' \
    "no sanitizer report in any peer's log"

pass
