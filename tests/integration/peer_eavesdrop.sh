#!/usr/bin/env bash
# tests/integration/peer_eavesdrop.sh — what an eavesdropper on the path between two running
# peers sees (threat-model row 2: eavesdropping, RFC 5694 section 7).
#
# Three peers A, B, C are enrolled through a real `cordon-enroll serve`. A runs; cordon-relay
# (tests/tools/relay.c) listens in front of A and records every datagram both ways; C
# bootstraps from A directly, B from the relay's address, so everything between B and A goes
# through the relay (B's table holds A at the relay's address, A's holds B at the relay's
# upstream address). B then looks up, through its control API, C's node ID, A's node ID and a
# random node ID that exists nowhere: FIND_NODE messages whose targets are known to the test
# and, for the random one, appear in no certificate. `cordon-relay check` reads the capture
# back as the observer would:
#   - every datagram is whole DTLS records of content type 20..23, lengths consistent; the
#     record version is DTLS 1.2 (0xfefd) everywhere except on ClientHello and
#     HelloVerifyRequest records, which carry 0xfeff as RFC 6347 4.2.1 allows; application
#     data travels in epoch 1 only, encrypted handshake records are Finished-sized, and every
#     ServerHello chose ECDHE-ECDSA with AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305;
#   - the random target and C's node ID appear nowhere in the capture: not as raw bytes, not
#     as hex, not in any reassembled handshake message — although the lookups carried them
#     through the relay (B's control API answered each lookup; while the lookups of A and of
#     the random target ran, the relay carried a FIND_NODE-sized application-data record to
#     A, and A's answer to the random target's names C).
# The honest limit, asserted as such: DTLS 1.2 sends certificates in the clear, so the
# observer reads each end's node ID and the overlay name (the certificate's
# cordon://OVERLAY/node/ID URI) in the Certificate messages of every full handshake; A's and
# B's do appear there. Record lengths are visible too (no padding), so the type of a message
# shows (a FIND_NODE is a 41-byte plaintext). Message contents, lookup targets and routing
# answers are what the links protect.
# Last, the relay's own bounds: with --max-datagrams 2 and with --max-bytes 64 it stops
# recording and goes on relaying (an `openssl s_client -dtls1_2` through it still gets A's
# ServerHello), and the cut capture still reads back cleanly. SIGTERM stops the relay with
# exit status 0 and its JSON summary.
# check's condition is evaluated when check runs, so it is written in single quotes:
# shellcheck disable=SC2016
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${CORDON_CLI:?set CORDON_CLI to the cordon binary (ctest does)}"
: "${CORDON_RELAY:?set CORDON_RELAY to the cordon-relay binary (ctest does)}"
for tool in jq od date timeout; do
    command -v "$tool" >/dev/null || { echo "$TEST_NAME: needs $tool" >&2; exit 1; }
done

OVERLAY=acme
PIDS=()

# shellcheck disable=SC2317 # invoked from the EXIT trap
stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    done
    return 0
}
trap 'rc=$?; stop_all; if [ "$rc" = 0 ]; then cleanup; else (exit "$rc") || cleanup; fi' EXIT

# start_peer NAME [run args...]: cordon-peer run on DIR $TMP/p.NAME in the background; waits
# (at most 10 s) for its ready file; sets PEER_PORT, PEER_ID and PEER_PID.
start_peer() {
    local name=$1 i
    shift
    local ready=$TMP/$name.ready
    "$CORDON_PEER" run --dir "$TMP/p.$name" --listen 127.0.0.1:0 --ready-file "$ready" "$@" \
        >"$TMP/$name.log" 2>&1 &
    PEER_PID=$!
    PIDS+=("$PEER_PID")
    for ((i = 0; i < 100; i++)); do
        [ -s "$ready" ] && break
        kill -0 "$PEER_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -s "$ready" ] || { cat "$TMP/$name.log"; die "$name wrote no ready file within 10 s"; }
    read -r PEER_PORT PEER_ID <"$ready"
    check '[[ "$PEER_PORT" =~ ^[1-9][0-9]*$ && "$PEER_ID" =~ ^[0-9a-f]{64}$ ]]' \
        "$name is listening on port $PEER_PORT as node ${PEER_ID:0:16}..."
}

# start_relay NAME TARGET_PORT [run args...]: cordon-relay run in front of 127.0.0.1:TARGET_PORT,
# capturing into $TMP/NAME.cap, its summary into $TMP/NAME.json; waits (at most 10 s) for its
# ready file; sets RELAY_PORT and RELAY_PID.
start_relay() {
    local name=$1 target=$2 i
    shift 2
    "$CORDON_RELAY" run --listen 127.0.0.1:0 --target "127.0.0.1:$target" \
        --capture "$TMP/$name.cap" --ready-file "$TMP/$name.ready" "$@" \
        >"$TMP/$name.json" 2>"$TMP/$name.err" &
    RELAY_PID=$!
    PIDS+=("$RELAY_PID")
    for ((i = 0; i < 100; i++)); do
        [ -s "$TMP/$name.ready" ] && break
        kill -0 "$RELAY_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -s "$TMP/$name.ready" ] || { cat "$TMP/$name.err"; die "$name wrote no ready file within 10 s"; }
    RELAY_PORT=$(head -n 1 "$TMP/$name.ready")
    check '[[ "$RELAY_PORT" =~ ^[1-9][0-9]*$ ]]' "$name listens on 127.0.0.1:$RELAY_PORT in front of port $target"
}

# ctl NAME ARGS...: the cordon CLI against peer NAME's control socket.
ctl() {
    local name=$1
    shift
    "$CORDON_CLI" --control "$TMP/p.$name/control.sock" "$@"
}

# table_size NAME: the routing table size in the peer's status now (0 if it does not answer).
table_size() {
    local s
    s=$(ctl "$1" --json status 2>/dev/null | jq -r '.table_size' 2>/dev/null || true)
    [[ "$s" =~ ^[0-9]+$ ]] && echo "$s" || echo 0
}

# hex_of_text TEXT: the bytes of TEXT as lower-case hex.
hex_of_text() {
    printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'
}

# ---- enrollment: three identities of one overlay -------------------------------------------------

"$CORDON_ENROLL" init --dir "$TMP/ov" --overlay "$OVERLAY" >/dev/null 2>"$TMP/init.err"
# Every peer sits in 127.0.0.0/24: allow them all in one bucket.
sed -i -E 's/"per_prefix_contacts": *[0-9]+/"per_prefix_contacts": 20/' "$TMP/ov/params.json"
check 'grep -q "\"per_prefix_contacts\": 20" "$TMP/ov/params.json"' "params.json allows 20 contacts per prefix"
token=$("$CORDON_ENROLL" token --dir "$TMP/ov" --max-nodes 3 --label eavesdrop)
fp=$(fingerprint "$TMP/ov")
start_server "$TMP/ov"
for name in a b c; do
    rc=0
    "$CORDON_PEER" enroll --dir "$TMP/p.$name" --server "https://127.0.0.1:$PORT" \
        --token "$token" --ca-fingerprint "sha256:$fp" --timeout 10 \
        >"$TMP/enroll.$name.out" 2>"$TMP/enroll.$name.err" || rc=$?
    check_eq "$rc" 0 "$name enrolled ($(tr '\n' ' ' <"$TMP/enroll.$name.err"))"
done
stop_server
unset token

# ---- A, the relay in front of it, C directly, B through the relay -----------------------------

start_peer a
A_PORT=$PEER_PORT
A_ID=$PEER_ID
A_PID=$PEER_PID
start_relay relay "$A_PORT"
RELAY=127.0.0.1:$RELAY_PORT
MAIN_RELAY_PID=$RELAY_PID
start_peer c --bootstrap "127.0.0.1:$A_PORT"
# shellcheck disable=SC2034 # read by a check condition
C_PORT=$PEER_PORT
C_ID=$PEER_ID
C_PID=$PEER_PID
start_peer b --bootstrap "$RELAY"
B_PORT=$PEER_PORT
B_ID=$PEER_ID
B_PID=$PEER_PID
check '[ "$(node_id_of "$TMP/p.a/node.crt")" = "$A_ID" ] && [ "$(node_id_of "$TMP/p.c/node.crt")" = "$C_ID" ]' \
    "the node IDs the peers report are those of their certificates"

# Bounded: at most 30 s for every table to hold the two others.
for ((t = 0; t < 150; t++)); do
    [ "$(table_size a)" -ge 2 ] && [ "$(table_size b)" -ge 2 ] && [ "$(table_size c)" -ge 2 ] &&
        grep -q "event=peer.joined" "$TMP/b.log" && break
    sleep 0.2
done
for name in a b c; do
    size=$(table_size "$name")
    check '[ "$size" = 2 ]' "$name's routing table holds the two other nodes (size $size)"
done

rc=0
ctl b --json peers >"$TMP/b.peers.json" 2>"$TMP/b.peers.err" || rc=$?
b_sees_a=$(jq -r --arg id "$A_ID" '.peers[] | select(.node_id == $id) | .addr' "$TMP/b.peers.json" 2>/dev/null || true)
b_sees_c=$(jq -r --arg id "$C_ID" '.peers[] | select(.node_id == $id) | .addr' "$TMP/b.peers.json" 2>/dev/null || true)
check '[ "$rc" = 0 ] && [ "$b_sees_a" = "$RELAY" ]' \
    "B knows A at the relay's address $RELAY (got '$b_sees_a'): B's traffic to A goes through the relay"
check '[ "$b_sees_c" = "127.0.0.1:$C_PORT" ]' "B knows C at C's own address (got '$b_sees_c'): C is not behind the relay"

# ---- B's lookups, through its control API ---------------------------------------------------------

RANDOM_ID=$(random_hex 32)
check '[ "$RANDOM_ID" != "$A_ID" ] && [ "$RANDOM_ID" != "$B_ID" ] && [ "$RANDOM_ID" != "$C_ID" ]' \
    "the random target is no node's ID"
# lookup NAME TARGET FOUND: B looks TARGET up; FOUND is true or false. A find asks a node of
# B's table directly and nothing else (C: only C, past the relay; A: only A, through it); a
# target nobody has sends a FIND_NODE to both other nodes, one disjoint path each, and A
# answers it with the node it knows closest to the target: C. That A was asked shows in the
# capture (below), in the time window of each lookup.
WINDOWS=()
lookup() {
    local name=$1 target=$2 found=$3 out=$TMP/lookup.$1.json rc=0
    WINDOWS+=("$(date +%s%3N)")
    ctl b --json lookup "$target" >"$out" 2>"$out.err" || rc=$?
    check '[ "$rc" = 0 ] && jq -e --arg t "$target" --argjson f "$found" ".target == \$t and .found == \$f and .queried >= 1" "$out" >/dev/null' \
        "B's control API answered the lookup of $name: found=$found (rc $rc, $(jq -c '{found, queried, elapsed_ms}' "$out" 2>/dev/null || tr '\n' ' ' <"$out.err"))"
}
lookup C "$C_ID" true
lookup A "$A_ID" true
lookup random "$RANDOM_ID" false
# The last window stays open a moment, so that A's late answers fall inside it.
sleep 0.5
WINDOWS+=("$(date +%s%3N)")

# Where A has B: at the relay's upstream address for B (compared with the relay's summary).
a_peers_rc=0
# shellcheck disable=SC2034 # read by a check condition
ctl a --json peers >"$TMP/a.peers.json" 2>/dev/null || a_peers_rc=$?
a_sees_b=$(jq -r --arg id "$B_ID" '.peers[] | select(.node_id == $id) | .addr' "$TMP/a.peers.json" 2>/dev/null || true)

# ---- the relay's bounds: it stops recording, not relaying ---------------------------------------

# through_relay NAME: an openssl s_client -dtls1_2 handshake attempt through relay NAME (A asks
# for a certificate that s_client does not have, so it fails after A's first flight).
through_relay() {
    timeout 10 openssl s_client -dtls1_2 -connect "127.0.0.1:$RELAY_PORT" -msg </dev/null \
        >"$TMP/$1.sclient" 2>&1 || true
}
# saw_server_hello FILE: s_client's -msg trace shows a ServerHello received. OpenSSL 3.0 prints
# DTLS records undecoded: a "<<< ... content_type=22)" line, then the record body, which starts
# with the handshake type 02.
# shellcheck disable=SC2317 # invoked from a check condition
saw_server_hello() {
    grep -q '^<<< DTLS 1.2.*ServerHello' "$1" ||
        awk '/^<<< .*content_type=22\)/ { if ((getline line) > 0 && line ~ /^ +02 /) found = 1 }
             END { exit !found }' "$1"
}
for bound in "max_datagrams --max-datagrams 2" "max_bytes --max-bytes 64"; do
    read -r reason opt value <<<"$bound"
    start_relay "bounded.$reason" "$A_PORT" "$opt" "$value"
    through_relay "bounded.$reason"
    terminate "the relay with $opt $value" "$RELAY_PID"
    summary=$TMP/bounded.$reason.json
    check 'saw_server_hello "$TMP/bounded.$reason.sclient"' \
        "with $opt $value, A's ServerHello still reached s_client through the relay"
    if [ "$reason" = max_datagrams ]; then
        want_frames=2
    else
        want_frames=0
    fi
    check 'jq -e --arg r "$reason" --argjson n "$want_frames" ".recorded == \$n and .recording == false and .recording_stopped_by == \$r and .not_recorded >= 2 and .datagrams_from_target >= 2 and .not_recorded + .recorded == .datagrams_to_target + .datagrams_from_target" "$summary" >/dev/null' \
        "with $opt $value the relay recorded $want_frames datagrams, then relayed without recording ($(jq -c '{recorded, not_recorded, datagrams_to_target, datagrams_from_target, recording_stopped_by}' "$summary" 2>/dev/null))"
    size=$(stat -c %s "$TMP/bounded.$reason.cap")
    check '[ "$size" = "$(jq .recorded_bytes "$summary")" ] && { [ "$reason" != max_bytes ] || [ "$size" -le "$value" ]; }' \
        "the capture file is the $size bytes the relay says it recorded"
    rc=0
    "$CORDON_RELAY" check --capture "$TMP/bounded.$reason.cap" >"$TMP/bounded.$reason.check" 2>&1 || rc=$?
    check '[ "$rc" = 0 ] && jq -e --argjson n "$want_frames" ".frames == \$n and .violations == 0" "$TMP/bounded.$reason.check" >/dev/null' \
        "the cut capture reads back cleanly: $want_frames frames, no violation (rc $rc)"
done
check 'jq -e ".dtls10_hello_records == 2 and .records_by_type.handshake == 2" "$TMP/bounded.max_datagrams.check" >/dev/null' \
    "the first two datagrams (ClientHello, HelloVerifyRequest) carry record version 0xfeff, as RFC 6347 4.2.1 allows"

# ---- stop: B, the relay, A and C -----------------------------------------------------------------

terminate B "$B_PID"
terminate relay "$MAIN_RELAY_PID"
terminate A "$A_PID"
terminate C "$C_PID"
RELAY_JSON=$TMP/relay.json
jq -e . "$RELAY_JSON" >/dev/null || die "the relay printed no JSON summary: $(cat "$RELAY_JSON" "$TMP/relay.err")"
b_flow=$(jq -c --arg s "127.0.0.1:$B_PORT" '[.flows[] | select(.source == $s)]' "$RELAY_JSON")
check 'jq -e --arg s "127.0.0.1:$B_PORT" "(.flows | length) == 1 and .flows[0].source == \$s and .flows[0].to_target > 0 and .flows[0].from_target > 0" "$RELAY_JSON" >/dev/null' \
    "the relay carried one source, B (127.0.0.1:$B_PORT), both ways: $b_flow"
upstream=$(jq -r '.flows[0].upstream' "$RELAY_JSON")
check '[ "$a_peers_rc" = 0 ] && [ -n "$a_sees_b" ] && [ "$a_sees_b" = "$upstream" ]' \
    "A knows B at the relay's upstream address for B ($upstream; A's table says '$a_sees_b')"
check 'jq -e ".recording == true and .not_recorded == 0 and .refused_flows == 0 and .recorded == .datagrams_to_target + .datagrams_from_target" "$RELAY_JSON" >/dev/null' \
    "the relay recorded every datagram it relayed ($(jq -c '{recorded, datagrams_to_target, datagrams_from_target, send_errors}' "$RELAY_JSON"))"

# ---- what the observer sees ------------------------------------------------------------------------

A_URI=cordon://$OVERLAY/node/$A_ID
rc=0
"$CORDON_RELAY" check --capture "$TMP/relay.cap" --window "${WINDOWS[0]},${WINDOWS[3]}" \
    --find "$RANDOM_ID" --find "$C_ID" --find "$A_ID" --find "$B_ID" --find "$(hex_of_text "$A_URI")" \
    >"$TMP/check.json" 2>"$TMP/check.err" || rc=$?
CHECK=$TMP/check.json
if [ "$rc" != 0 ] || ! jq -e . "$CHECK" >/dev/null; then
    die "cordon-relay check failed (rc $rc): $(cat "$TMP/check.err")"
fi
q() { jq -r "$@" "$CHECK"; }
echo "    capture: $(q '{frames, records, records_by_type, dtls10_hello_records, handshake_messages, server_hellos, suites, application_data, encrypted_finished, encrypted_alerts}' | jq -c .)"

check '[ "$(q .frames)" = "$(jq .recorded "$RELAY_JSON")" ] && [ "$(q .frames)" -gt 0 ]' \
    "the capture holds the $(q .frames) datagrams the relay recorded"
check '[ "$(q .violations)" = 0 ]' \
    "every datagram is whole DTLS 1.2 records, content types 20..23, lengths consistent ($(q .violations) violations: $(q -c .violation_examples))"
check '[ "$(q .records)" -ge "$(q .frames)" ] && [ "$(q ".records_by_type | add")" = "$(q .records)" ]' \
    "every record is one of change_cipher_spec, alert, handshake, application_data ($(q .records) records)"
check '[ "$(q .server_hellos)" -ge 1 ] && [ "$(q .aead_only)" = true ] && q ".suites[]" | grep -qxE "0xc02b|0xc02c|0xcca9"' \
    "every ServerHello chose an AEAD suite: $(q -c .suites) (0xc02b ECDHE-ECDSA-AES128-GCM-SHA256, 0xc02c -AES256-GCM-SHA384, 0xcca9 -CHACHA20-POLY1305)"
check 'q ".suites | all(. == \"0xc02b\" or . == \"0xc02c\" or . == \"0xcca9\")" | grep -qx true' \
    "no other suite was ever negotiated"
check '[ "$(q .application_data.epoch0)" = 0 ] && [ "$(q .application_data.min_epoch)" -ge 1 ] && [ "$(q .application_data.to_target)" -gt 0 ] && [ "$(q .application_data.from_target)" -gt 0 ]' \
    "application data is content type 23 in epoch >= 1 only, both ways ($(q -c .application_data))"
check '[ "$(q .encrypted_finished)" -ge 2 ] && [ "$(q .records_by_type.change_cipher_spec)" -ge 2 ]' \
    "each side switched to epoch 1 with a ChangeCipherSpec and an encrypted, Finished-sized record"
check '[ "$(q .window.app_to_target)" -ge 2 ] && [ "$(q .window.app_from_target)" -ge 2 ]' \
    "while B's lookups ran, the relay carried application data both ways ($(q .window.app_to_target) to A, $(q .window.app_from_target) from A; plaintext lengths $(q -c .window.plaintext_lengths_to_target) and $(q -c .window.plaintext_lengths_from_target))"
# Lookup by lookup: a record of a FIND_NODE's plaintext length (1 record kind + 8 header + 32
# target = 41 bytes) went to A while the lookups of A and of the random target ran (the one
# of C asked C alone). Record lengths are not hidden: they tell an
# observer the type of a message, though not its target.
names=(C A random)
for i in 1 2; do
    out=$TMP/check.window.$i.json
    rc=0
    "$CORDON_RELAY" check --capture "$TMP/relay.cap" --window "${WINDOWS[$i]},${WINDOWS[$((i + 1))]}" \
        >"$out" 2>&1 || rc=$?
    n=$(jq -r '.window.plaintext_lengths_to_target["41"] // 0' "$out" 2>/dev/null || echo 0)
    check '[ "$rc" = 0 ] && [ "$n" -ge 1 ]' \
        "the FIND_NODE of the lookup of ${names[$i]} crossed the relay to A ($n FIND_NODE-sized records in its window)"
done

# The secrets: the random target and C's node ID, nowhere.
for i in 0 1; do
    what=$([ "$i" = 0 ] && echo "the random target" || echo "C's node ID")
    check '[ "$(q ".find[$i] | .raw_in_stream + .hex_in_stream + .in_handshake_messages")" = 0 ]' \
        "$what appears nowhere in the capture: not raw, not as hex, not in a handshake message ($(q -c ".find[$i]"))"
done
# The same with other tools: grep for the hex text, od for the raw bytes.
# shellcheck disable=SC2034 # read by a check condition
capture_hex=$(od -An -v -tx1 "$TMP/relay.cap" | tr -d ' \n')
for pair in "the random target:$RANDOM_ID" "C's node ID:$C_ID"; do
    what=${pair%%:*}
    # shellcheck disable=SC2034 # read by a check condition
    id=${pair#*:}
    check '! grep -qaiF "$id" "$TMP/relay.cap" && [[ "$capture_hex" != *"$id"* ]]' \
        "grep and od find $what nowhere in the capture file either"
done
# Positive control of the same tools: the certificate A sent shows its node URI in the clear.
check 'grep -qaF "$A_URI" "$TMP/relay.cap"' "grep does find A's node URI in the capture file (the control of the search)"

# What DTLS 1.2 does not hide: the certificates, hence node IDs and the overlay name.
check '[ "$(q ".find[2].in_certificates_from_target")" -ge 1 ] && [ "$(q ".find[4].in_certificates_from_target")" -ge 1 ]' \
    "A's node ID and its URI cordon://$OVERLAY/node/... are in the clear in A's Certificate message ($(q -c ".find[2]"))"
check '[ "$(q ".find[3].in_certificates_to_target")" -ge 1 ]' \
    "B's node ID is in the clear in B's Certificate message ($(q -c ".find[3]"))"
check '[ "$(q ".find[2].raw_in_stream")" = 0 ] && [ "$(q ".find[3].raw_in_stream")" = 0 ]' \
    "the raw 32-byte node IDs of A and B (as FIND_NODE and NODES carry them) never appear in the clear"

# ---- the checker fails when it should: doctored copies of the capture ----------------------------

# unhex HEX: the bytes. frame DIR FLOW DATA_HEX, record TYPE VERSION EPOCH BODY_HEX and
# fragment TYPE SEQ LENGTH OFFSET BODY_HEX: hex of a capture frame, a DTLS record and a
# handshake fragment (formats: tests/tools/relay.c).
unhex() {
    local h=$1 out="" i
    for ((i = 0; i < ${#h}; i += 2)); do out+="\\x${h:i:2}"; done
    printf '%b' "$out"
}
frame() { printf '%02x%04x%016x%04x%s' "$1" "$2" 0 $((${#3} / 2)) "$3"; }
record() { printf '%02x%04x%04x%012x%04x%s' "$1" "$2" "$3" 0 $((${#4} / 2)) "$4"; }
fragment() { printf '%02x%06x%04x%06x%06x%s' "$1" "$3" "$2" "$4" $((${#5} / 2)) "$5"; }
# doctor NAME FRAMES_HEX: the capture with frames appended, read back by the checker.
doctor() {
    local cap=$TMP/doctored.$1.cap
    cp "$TMP/relay.cap" "$cap"
    unhex "$2" >>"$cap"
    "$CORDON_RELAY" check --capture "$cap" --find "$RANDOM_ID" --find "$C_ID" \
        >"$TMP/doctored.$1.json" 2>&1 || true
}
# dq NAME FILTER: jq -e on the doctored capture's report.
# shellcheck disable=SC2317 # invoked from check conditions
dq() { jq -e "$2" "$TMP/doctored.$1.json" >/dev/null 2>&1; }

doctor plaintext "$(frame 1 0 "$(record 23 0xfefd 0 "$RANDOM_ID")")"
check 'dq plaintext ".violations == 1 and .application_data.epoch0 == 1 and .find[0].raw_in_stream == 1 and (.violation_examples[0] | test(\"application data in epoch 0\"))"' \
    "doctored: the random target sent as plaintext application data is caught (a violation, and found raw)"
cert_body=$(hex_of_text "....cordon://$OVERLAY/node/$C_ID....")
cert_len=$((${#cert_body} / 2))
doctor split_cert "$(frame 2 7 "$(record 22 0xfefd 0 "$(fragment 11 1 "$cert_len" 0 "${cert_body:0:80}")")")$(frame 2 7 "$(record 22 0xfefd 0 "$(fragment 11 1 "$cert_len" 40 "${cert_body:80}")")")"
check 'dq split_cert ".violations == 0 and .find[1].in_handshake_messages == 1 and .find[1].in_certificates_from_target == 1 and .find[1].hex_in_stream == 0"' \
    "doctored: C's node ID as hex in a Certificate message cut across two datagrams is found in the reassembled message"
doctor rsa_suite "$(frame 2 8 "$(record 22 0xfefd 0 "$(fragment 2 1 38 0 "fefd$(printf '%064x' 0)00c02700")")")"
check 'dq rsa_suite ".aead_only == false and (.suites | index(\"0xc027\")) != null"' \
    "doctored: a ServerHello choosing ECDHE-RSA-AES128-SHA256 (0xc027) makes aead_only false"
doctor tls_version "$(frame 1 0 "$(record 23 0x0303 1 "$(printf '%080x' 0)")")"
check 'dq tls_version ".violations == 1 and (.violation_examples[0] | test(\"record version 0x0303 in epoch 1\"))"' \
    "doctored: a record with the TLS 1.2 version 0x0303 is a violation"
# 20 bytes of record body, and a length field that says 100.
doctor overrun "$(frame 1 0 "$(printf '17fefd0001%012x0064%040x' 0 0)")"
check 'dq overrun ".violations == 1 and (.violation_examples[0] | test(\"past the end of the datagram\"))"' \
    "doctored: a record whose length runs past its datagram is a violation"
head -c -1 "$TMP/relay.cap" >"$TMP/doctored.cut.cap"
"$CORDON_RELAY" check --capture "$TMP/doctored.cut.cap" >"$TMP/doctored.cut.json" 2>&1 || true
check 'dq cut ".violations == 1 and (.violation_examples[0] | test(\"ends inside a frame\"))"' \
    "doctored: a capture cut inside its last frame is a violation"

# Nothing secret in any log.
check '! grep -l "PRIVATE KEY\|cdt_" "$TMP"/a.log "$TMP"/b.log "$TMP"/c.log "$TMP"/*.err' \
    "no key material or token in the logs"

pass
