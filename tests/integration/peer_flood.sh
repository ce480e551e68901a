#!/usr/bin/env bash
# tests/integration/peer_flood.sh — running peers under floods (tests/tools/flood.c, the
# cordon-flood tool) while honest lookups go on.
#
# Four peers enrolled through a real `cordon-enroll serve` run as separate processes; a
# fifth identity is enrolled for the attacker and never runs a peer. Each flood comes from
# its own range of 127/8 source addresses (all of 127/8 is local on Linux, so this is a
# spoofed-source flood without raw sockets).
# Against p2, the handshake floods:
#   1. 6000 real DTLS 1.2 ClientHellos from 256 addresses, never answered: every one that
#      arrives gets a stateless HelloVerifyRequest; no link, no half-open slot;
#   2. malformed DTLS made from a real ClientHello (every truncation, header fields, bit
#      flips, fragmented hellos, empty and oversized datagrams): each datagram counted once,
#      as garbage, oversize or a HelloVerifyRequest;
#   3. ClientHellos that echo the cookie and go silent, from 3 addresses: the per-source
#      handshake rate refuses what exceeds each address's burst;
#   4. the same from 8 more addresses: the half-open handshakes fill up to their cap and the
#      rest is refused before any state.
# Against p3, the fragment floods, over links authenticated with the attacker's identity:
#   5. one link, records that never make a message: each refused record in the counter of
#      its kind, one eviction per large message beyond the per-remote budget;
#   6. 40 links at once: more large messages than the peer's shared budget holds, refused.
# During every flood, lookups of the victim by the other peers and by the victim keep
# succeeding. After every flood the victim runs and its peak resident memory (VmHWM) stays
# within its resident memory before its first flood (VmRSS) plus the bound that
# `cordon-flood budget` derives from the caps of common/limits.h for the floods so far.
# Datagrams the kernel dropped on the victim's socket (/proc/net/udp) are taken into account,
# so the counts stay exact on a loaded machine.
# check's condition is evaluated when check runs, so it is written in single quotes, and
# variables only such conditions read look unused; D_* and O_* are set by results():
# shellcheck disable=SC2016,SC2034,SC2154
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${CORDON_CLI:?set CORDON_CLI to the cordon binary (ctest does)}"
: "${CORDON_FLOOD:?set CORDON_FLOOD to the cordon-flood binary (ctest does)}"
command -v jq >/dev/null || { echo "$TEST_NAME: jq is needed" >&2; exit 1; }
[ -r /proc/net/udp ] || { echo "$TEST_NAME: needs /proc/net/udp (Linux)" >&2; exit 1; }

OVERLAY=acme
N=4
PEER_PIDS=()
PEER_PORTS=()
PEER_IDS=()
LOOKER_PID=""

# shellcheck disable=SC2317 # invoked from the EXIT trap
stop_all() {
    local pid
    [ -n "$LOOKER_PID" ] && kill -KILL "$LOOKER_PID" 2>/dev/null
    for pid in "${PEER_PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    done
    return 0
}
trap 'rc=$?; stop_all; if [ "$rc" = 0 ]; then cleanup; else (exit "$rc") || cleanup; fi' EXIT

# ---- the bounds ---------------------------------------------------------------------------------

"$CORDON_FLOOD" budget --links 40 >"$TMP/budget.json"
budget() { jq -r ".$1" "$TMP/budget.json"; }
HALF_OPEN_MAX=$(budget max_half_open)
# Under AddressSanitizer every freed block is first held in a quarantine, and blocks carry
# redzones and shadow memory: the peers run with a small quarantine (the same checks on a
# shorter history) whose size joins the bound, and every byte counts twice.
ASAN_QUARANTINE_MB=8
# Floods are paced (datagrams per second) so that a victim keeps up, a sanitizer build
# being several times slower: what the kernel drops makes the counts below less exact.
HELLO_PPS=10000
FRAG_PPS=5000
if [ "$(budget asan)" = true ]; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=$ASAN_QUARANTINE_MB"
    HELLO_PPS=4000
    FRAG_PPS=1500
fi
bound() { # bound BYTES: what BYTES of allocations may cost in resident memory in this build
    if [ "$(budget asan)" = true ]; then
        echo $((2 * ($1 + ASAN_QUARANTINE_MB * 1024 * 1024)))
    else
        echo "$1"
    fi
}

# ---- the overlay and its peers --------------------------------------------------------------------

"$CORDON_ENROLL" init --dir "$TMP/ov" --overlay "$OVERLAY" >/dev/null 2>"$TMP/init.err"
# Every peer sits in 127.0.0.0/24: allow k contacts per prefix (as peer_run.sh does).
sed -i -E 's/"per_prefix_contacts": *[0-9]+/"per_prefix_contacts": 20/' "$TMP/ov/params.json"
token=$("$CORDON_ENROLL" token --dir "$TMP/ov" --max-nodes $((N + 1)) --label peer-flood)
fp=$(fingerprint "$TMP/ov")
start_server "$TMP/ov"
for name in p.1 p.2 p.3 p.4 attacker; do
    rc=0
    "$CORDON_PEER" enroll --dir "$TMP/$name" --server "https://127.0.0.1:$PORT" \
        --token "$token" --ca-fingerprint "sha256:$fp" --timeout 10 \
        >"$TMP/$name.out" 2>"$TMP/$name.err" || rc=$?
    check_eq "$rc" 0 "$name enrolled ($(tr '\n' ' ' <"$TMP/$name.err"))"
done
stop_server

# start_peer NAME DIR [run args...]: as in peer_run.sh; appends its pid, port and node ID.
start_peer() {
    local name=$1 dir=$2 i port id
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
    read -r port id <"$ready"
    PEER_PORTS+=("$port")
    PEER_IDS+=("$id")
}

table_size() {
    local s
    s=$(grep -oE 'event=peer.table .*size=[0-9]+' "$TMP/$1.log" | tail -n 1 |
        grep -oE 'size=[0-9]+' | cut -d = -f 2 || true)
    echo "${s:-0}"
}

start_peer p1 "$TMP/p.1"
for ((i = 2; i <= N; i++)); do
    start_peer "p$i" "$TMP/p.$i" --bootstrap "127.0.0.1:${PEER_PORTS[0]}"
done
# Bounded: at most 30 s for every peer to know every other.
for ((t = 0; t < 300; t++)); do
    done_n=0
    for ((i = 1; i <= N; i++)); do
        [ "$(table_size "p$i")" -ge $((N - 1)) ] && done_n=$((done_n + 1))
    done
    [ "$done_n" -eq "$N" ] && break
    sleep 0.1
done
check '[ "$done_n" -eq "$N" ]' "all $N peers joined and know the $((N - 1)) others ($done_n of $N)"

# lookup I J: peer I looks up peer J through its control API; true when it finds it.
lookup() {
    local out=$TMP/lookup.$BASHPID.$1.$2
    "$CORDON_CLI" --control "$TMP/p.$1/control.sock" --json lookup "${PEER_IDS[$(($2 - 1))]}" \
        >"$out" 2>&1 && jq -e '.found == true' "$out" >/dev/null
}

# Every peer looks up every other: afterwards every pair holds a link, so no honest
# handshake disturbs the victims' counts during the floods.
bad=0
for ((i = 1; i <= N; i++)); do
    for ((j = 1; j <= N; j++)); do
        [ "$i" = "$j" ] || lookup "$i" "$j" || bad=$((bad + 1))
    done
done
check_eq "$bad" 0 "before the floods, every peer finds every other by lookup"

# ---- the victim ------------------------------------------------------------------------------------

# victim I: the floods that follow go to peer I; its memory baseline is taken now.
victim() {
    V=$1
    V_PORT=${PEER_PORTS[$((V - 1))]}
    V_PID=${PEER_PIDS[$((V - 1))]}
    V_BASE_KB=$(kb VmRSS)
    V_SPENT=0 # the budgets of its floods so far: memory freed by one may stay in the process
    check '[ "${V_BASE_KB:-0}" -gt 0 ]' "p$V's resident memory before its floods: $V_BASE_KB kB"
}
# kb FIELD: a field of the victim's /proc/PID/status, in kB.
kb() {
    awk -v f="$1:" '$1 == f { print $2 }' "/proc/$V_PID/status"
}
# udp_drops: datagrams the kernel dropped on the victim's socket (receive buffer full).
udp_drops() {
    awk -v p=":$(printf '%04X' "$V_PORT")" '$2 ~ p"$" { print $NF; exit }' /proc/net/udp
}
# snap NAME: the victim's counters, its established links and the kernel's drops on its
# socket, as $TMP/NAME.json.
snap() {
    curl -sS --max-time 10 --unix-socket "$TMP/p.$V/control.sock" -o "$TMP/status.json" \
        http://peer/v1/status || true
    jq --argjson drops "$(udp_drops)" '.counters + {kernel_drops: $drops, links: .links}' \
        "$TMP/status.json" >"$TMP/$1.json"
}
# results NAME: sets D_<counter> to how much each of the victim's counters grew during
# flood NAME, and O_<field> (nested fields joined by _) to what cordon-flood printed.
results() {
    local v
    for v in "${!D_@}" "${!O_@}"; do unset "$v"; done
    eval "$(jq -n -r --slurpfile a "$TMP/$1.before.json" --slurpfile b "$TMP/$1.after.json" \
        '$b[0] | to_entries[] | "D_\(.key)=\(.value - ($a[0][.key] // 0))"')"
    eval "$(jq -r 'paths(scalars) as $p | "O_\($p | map(tostring) | join("_"))=\(getpath($p) | @sh)"' \
        "$TMP/$1.out")"
}

# The honest side, every 0.2 s until told to stop (bounded: 600 rounds): each other peer
# looks up the victim, and the victim looks up the next peer. One line per lookup.
start_lookups() {
    rm -f "$TMP/lookups.stop"
    : >"$TMP/lookups.$1"
    (
        set +e
        for ((r = 0; r < 600; r++)); do
            [ -e "$TMP/lookups.stop" ] && break
            for ((i = 1; i <= N; i++)); do
                [ "$i" = "$V" ] && continue
                if lookup "$i" "$V"; then echo ok; else echo "fail p$i->p$V"; fi
            done >>"$TMP/lookups.$1"
            next=$((V % N + 1))
            if lookup "$V" "$next"; then echo ok; else echo "fail p$V->p$next"; fi >>"$TMP/lookups.$1"
            sleep 0.2
        done
    ) &
    LOOKER_PID=$!
}
stop_lookups() {
    touch "$TMP/lookups.stop"
    wait "$LOOKER_PID" || true
    LOOKER_PID=""
    local ok failed
    ok=$(grep -c '^ok$' "$TMP/lookups.$1" || true)
    failed=$(grep -c '^fail' "$TMP/lookups.$1" || true)
    check '[ "$ok" -ge "$N" ] && [ "$failed" = 0 ]' \
        "during the $1 flood, honest lookups kept succeeding ($ok ok, $failed failed $(grep -m 3 '^fail' "$TMP/lookups.$1" | tr '\n' ' '))"
}

# flood NAME MODE ARGS...: cordon-flood MODE against the victim, with honest lookups
# alongside, between two snaps.
flood() {
    local name=$1 rc=0
    shift
    snap "$name.before"
    start_lookups "$name"
    "$CORDON_FLOOD" "$@" --target "127.0.0.1:$V_PORT" >"$TMP/$name.out" 2>"$TMP/$name.err" ||
        rc=$?
    sleep 0.5 # a round of lookups after the flood, against what it left behind
    stop_lookups "$name"
    snap "$name.after"
    results "$name"
    check_eq "$rc" 0 "cordon-flood $1 ($name) ran: $(head -c 400 "$TMP/$name.out") $(tr '\n' ' ' <"$TMP/$name.err")"
    check 'kill -0 "$V_PID" 2>/dev/null' "p$V is still running after the $name flood"
}
# memory_check NAME BYTES: the victim's budget grows by BYTES for flood NAME, and its peak
# resident memory stays within its baseline plus the bound for what it was given so far.
memory_check() {
    local hwm growth limit
    V_SPENT=$((V_SPENT + $2))
    limit=$(bound "$V_SPENT")
    hwm=$(kb VmHWM)
    growth=$(((hwm - V_BASE_KB) * 1024))
    check '[ "$growth" -le "$limit" ]' \
        "after the $1 flood p$V's peak memory is $((growth / 1024)) KiB over its baseline, within the bound of $((limit / 1024)) KiB (VmHWM $hwm kB, baseline VmRSS $V_BASE_KB kB)"
}

# ---- handshake floods against p2 ------------------------------------------------------------------

victim 2

# 1. ClientHellos never answered: answered statelessly.
flood silent handshake-flood --first-source 127.66.0.1 --sources 256 --count 6000 \
    --pps "$HELLO_PPS"
check '[ "$O_sent" = 6000 ] && [ "$D_link_cookies_sent" -le "$O_sent" ] && [ "$D_link_cookies_sent" -ge $((O_sent - D_kernel_drops)) ]' \
    "every ClientHello that reached p2 got a HelloVerifyRequest ($D_link_cookies_sent for $O_sent sent, $D_kernel_drops dropped by the kernel)"
check '[ "$O_received_hello_verify_requests" -gt 0 ] && [ "$O_received_hello_verify_requests" -le "$D_link_cookies_sent" ]' \
    "the flood received $O_received_hello_verify_requests of them"
check '[ "$D_link_links_opened" = 0 ] && [ "$D_link_cookies_verified" = 0 ] && [ "$D_links" = 0 ]' \
    "no link, no half-open handshake, no verified cookie came of it"
memory_check silent "$(budget handshake_silent_bytes)"

# 2. Malformed DTLS: every datagram counted once.
flood garbage dtls-garbage --first-source 127.67.0.1 --sources 64 --pps "$HELLO_PPS"
counted=$((D_link_dropped_garbage + D_link_dropped_oversize + D_link_cookies_sent + D_link_dropped_half_open))
check '[ "$O_sent" -gt 300 ] && [ "$counted" -le "$O_sent" ] && [ "$counted" -ge $((O_sent - D_kernel_drops)) ]' \
    "each of the $O_sent malformed datagrams is counted once: garbage $D_link_dropped_garbage + oversize $D_link_dropped_oversize + HelloVerifyRequest $D_link_cookies_sent + half-open $D_link_dropped_half_open (kernel drops $D_kernel_drops)"
check '[ "$D_link_dropped_garbage" -ge $((O_must_be_garbage - D_kernel_drops)) ] && [ "$O_oversize" -gt 0 ] && [ "$D_link_dropped_oversize" -ge $((O_oversize - D_kernel_drops)) ]' \
    "the $O_must_be_garbage that are no ClientHello are garbage ($D_link_dropped_garbage), the $O_oversize oversized ones oversize ($D_link_dropped_oversize)"
check '[ "$D_link_links_opened" = 0 ]' "no link came of it"
memory_check garbage "$(budget handshake_silent_bytes)"

# 3. Cookies echoed from 3 addresses: each address gets its burst of handshakes, no more.
flood rate handshake-flood --answer-cookies --first-source 127.70.0.1 --sources 3 --count 60
check '[ "$O_cookie_replies" -gt 0 ] && [ "$D_link_dropped_rate" -gt 0 ]' \
    "cookies echoed from 3 addresses: $D_link_cookies_verified verified, $D_link_dropped_rate refused by the per-source handshake rate"
memory_check rate "$(budget handshake_cookies_bytes)"

# 4. Cookies echoed from 8 more addresses: the half-open handshakes fill to their cap.
flood halfopen handshake-flood --answer-cookies --first-source 127.71.0.1 --sources 8 --count 64
half_open=$(jq '.link_links_opened - .link_links_closed - .links' "$TMP/halfopen.after.json")
check '[ "$half_open" = "$HALF_OPEN_MAX" ]' \
    "p2 holds exactly $HALF_OPEN_MAX half-open handshakes, its cap (it holds $half_open)"
check '[ "$D_link_dropped_half_open" -gt 0 ]' \
    "$D_link_dropped_half_open ClientHellos refused at the half-open cap"
memory_check halfopen "$(budget handshake_cookies_bytes)"

# ---- fragment floods against p3 -------------------------------------------------------------------

victim 3

# 5. One authenticated link, records that never make a message.
flood frag1 frag-flood --dir "$TMP/attacker" --first-source 127.68.0.1 --links 1 --rounds 20 \
    --pps "$FRAG_PPS"
# The attacker sends no valid WHOLE record and the honest messages all fit one (4 peers: at
# most 3 contacts in a NODES answer), so records minus WHOLE ones are the attacker's.
got=$((D_frag_records - D_frag_whole))
# The victim's count holds the attacker's full handshake, and may hold honest ones: a link
# that carried one exchange idles out after 10 s, and comes back full from an end that never
# started a handshake with p3 (only ever its server), since that end holds no session.
check '[ "$O_links" = 1 ] && [ "$D_link_handshakes_full" -ge 1 ]' \
    "the attacker's enrolled identity got its link (p3 counted $D_link_handshakes_full full handshakes meanwhile)"
check '[ "$got" -le "$O_records" ] && [ "$got" -ge $((O_records - D_kernel_drops)) ]' \
    "p3's reassemblers took the $O_records records ($got, kernel drops $D_kernel_drops)"
if [ "$D_kernel_drops" = 0 ]; then
    for pair in fragments:frag_fragments duplicate:frag_drop_duplicate \
        malformed:frag_drop_malformed too_large:frag_drop_too_large \
        truncated:frag_drop_truncated kind:frag_drop_kind oversize:frag_drop_oversize \
        mismatch:frag_drop_mismatch replay:frag_drop_replay; do
        sent_var=O_sent_${pair%%:*}
        counted_var=D_${pair#*:}
        check '[ "${!sent_var}" -gt 0 ] && [ "${!counted_var}" = "${!sent_var}" ]' \
            "${pair%%:*}: ${!sent_var} sent, ${!counted_var} counted in ${pair#*:}"
    done
    # Every round but the first starts a small message that does not fit beside two of the
    # largest (CORDON_FRAG_BUFFERED_MAX = 2 x CORDON_FRAG_MSG_MAX per remote): the older
    # large one is evicted.
    check '[ "$D_frag_evicted" = $((O_rounds - 1)) ]' \
        "$((O_rounds - 1)) large messages evicted to keep within the per-remote budget ($D_frag_evicted)"
else
    ok "per-kind counts not compared: the kernel dropped $D_kernel_drops datagrams"
fi
check '[ "$D_frag_reassembled" = 0 ] && [ "$D_core_dropped_malformed" = 0 ]' \
    "no message came out of them"
memory_check frag1 $(($(budget link_bytes) + $(budget frag_remote_max)))

# 6. 40 links at once: 40 of the largest messages do not fit the shared budget (32 do).
flood frag40 frag-flood --dir "$TMP/attacker" --first-source 127.69.0.1 --links 40 --rounds 1 \
    --pps "$FRAG_PPS"
got=$((D_frag_records - D_frag_whole))
check '[ "$O_links" = 40 ] && [ "$got" -le "$O_records" ] && [ "$got" -ge $((O_records - D_kernel_drops)) ]' \
    "40 links up, p3's reassemblers took the $O_records records ($got, kernel drops $D_kernel_drops)"
check '[ "$D_frag_drop_busy" -gt 0 ]' \
    "the shared budget of $(($(budget frag_peer_max) / 1024)) KiB refused $D_frag_drop_busy fragments of 40 remotes"
memory_check frag40 "$(budget frag_bytes)"

# ---- afterwards ------------------------------------------------------------------------------------

bad=0
for ((i = 1; i <= N; i++)); do
    for v in 2 3; do
        [ "$i" = "$v" ] && continue
        lookup "$v" "$i" || bad=$((bad + 1))
        lookup "$i" "$v" || bad=$((bad + 1))
    done
done
check_eq "$bad" 0 "after the floods p2 and p3 find every peer, and every peer finds them"
for ((i = 1; i <= N; i++)); do
    terminate "p$i" "${PEER_PIDS[$((i - 1))]}"
done
check 'grep -q "event=peer.stopped" "$TMP/p2.log" && grep -q "event=peer.stopped" "$TMP/p3.log"' \
    "p2 and p3 logged peer.stopped"
check '! grep -l "PRIVATE KEY\|cdt_" "$TMP"/p*.log' "no key material or token in the peer logs"

pass
