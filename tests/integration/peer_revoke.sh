#!/usr/bin/env bash
# tests/integration/peer_revoke.sh — running peers keep up with revocation and renewal, on
# 127.0.0.1, against a real `cordon-enroll serve` that stays up the whole time.
#
# Revocation: five peers run with --crl-refresh 1 and know each other (every one has
# looked up the fifth, so each has a link to it and holds it in its routing table). The
# operator revokes the fifth node; within a bounded wait every other peer has fetched the
# new CRL, closed its link to the node, dropped it from its routing table (the control API's
# /v1/peers no longer lists it) and counts it (link_links_revoked, revoked_dropped); the
# revoked peer logs that its own certificate is revoked, its lookups get no answers and,
# restarted, it cannot join; honest lookups still succeed.
# Renewal: a peer started with --renew-before 295 (the overlay's cert_validity is 300 s)
# renews within seconds, logs peer.renewed and peer.identity_reloaded, keeps its node ID
# (control API status), presents the new certificate to a new DTLS client (openssl
# s_client with another node's certificate) and a peer started afterwards joins through it.
# Certificates made with openssl: one signed by the overlay CA but expired long ago, and
# one signed by another CA; a running peer refuses both (refused_expired,
# refused_untrusted). A directory without enrollment.json runs without a refresher and
# says so in one log line.
# check's condition is evaluated when check runs, so it is written in single quotes:
# shellcheck disable=SC2016
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${CORDON_CLI:?set CORDON_CLI to the cordon binary (ctest does)}"
command -v jq >/dev/null || { echo "$TEST_NAME: jq is needed" >&2; exit 1; }

OVERLAY=acme
PEER_PIDS=()
declare -A PID ID PORT_OF DIR_OF

# shellcheck disable=SC2317 # invoked from the EXIT trap
stop_all_peers() {
    local pid
    for pid in "${PEER_PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    done
    return 0
}
trap 'rc=$?; stop_all_peers; if [ "$rc" = 0 ]; then cleanup; else (exit "$rc") || cleanup; fi' EXIT

# start_peer NAME DIR [run args...]: cordon-peer run in the background, its log in
# $TMP/NAME.log; waits (at most 10 s) for the ready file; sets PID, ID and PORT_OF of NAME.
start_peer() {
    local name=$1 dir=$2 i pid
    shift 2
    local ready=$TMP/$name.ready
    rm -f "$ready"
    "$CORDON_PEER" run --dir "$dir" --listen 127.0.0.1:0 --ready-file "$ready" "$@" \
        >"$TMP/$name.log" 2>&1 &
    pid=$!
    PEER_PIDS+=("$pid")
    PID[$name]=$pid
    DIR_OF[$name]=$dir
    for ((i = 0; i < 100; i++)); do
        [ -s "$ready" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -s "$ready" ] || { cat "$TMP/$name.log"; die "$name wrote no ready file within 10 s"; }
    local port id
    read -r port id <"$ready"
    PORT_OF[$name]=$port
    ID[$name]=$id
}

# ctl NAME ARGS...: the cordon CLI against the control socket of peer NAME.
ctl() {
    local name=$1
    shift
    "$CORDON_CLI" --control "${DIR_OF[$name]}/control.sock" "$@"
}

# counter NAME COUNTER: one counter of NAME's /v1/status now (empty if none).
counter() {
    ctl "$1" --json status 2>/dev/null | jq -r --arg c "$2" '.counters[$c] // empty' 2>/dev/null || true
}

# lists NAME NODEID: NAME's routing table (/v1/peers) holds NODEID.
# shellcheck disable=SC2317 # called from check conditions (eval)
lists() {
    ctl "$1" --json peers 2>/dev/null | jq -e --arg t "$2" 'any(.peers[]; .node_id == $t)' >/dev/null
}

# found NAME NODEID: NAME's lookup of NODEID finds it (it answered, so it comes first).
# shellcheck disable=SC2317 # called from check conditions (eval)
found() {
    ctl "$1" --json lookup "$2" 2>/dev/null |
        jq -e --arg t "$2" '.found == true and .closest[0].node_id == $t' >/dev/null
}

# wait_log NAME REGEX SECONDS: waits (bounded) for a line of NAME's log to match.
wait_log() {
    local name=$1 re=$2 i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -Eq "$re" "$TMP/$name.log" && return 0
        sleep 0.1
    done
    return 1
}

# ---- the overlay: certificates of 300 s, all peers in one /24 ------------------------------------

"$CORDON_ENROLL" init --dir "$TMP/ov" --overlay "$OVERLAY" >/dev/null 2>"$TMP/init.err"
sed -i -E -e 's/"per_prefix_contacts": *[0-9]+/"per_prefix_contacts": 20/' \
    -e 's/"cert_validity": *[0-9]+/"cert_validity": 300/' "$TMP/ov/params.json"
check 'grep -q "\"cert_validity\": 300" "$TMP/ov/params.json" && grep -q "\"per_prefix_contacts\": 20" "$TMP/ov/params.json"' \
    "params.json: node certificates of 300 s, 20 contacts per prefix"
TOKEN=$("$CORDON_ENROLL" token --dir "$TMP/ov" --max-nodes 7 --label peer-revoke)
FP=$(fingerprint "$TMP/ov")
start_server "$TMP/ov"
SERVER="https://127.0.0.1:$PORT"
for name in p1 p2 p3 p4 p5 r6 n7; do
    rc=0
    "$CORDON_PEER" enroll --dir "$TMP/$name" --server "$SERVER" --token "$TOKEN" \
        --ca-fingerprint "sha256:$FP" --timeout 10 >"$TMP/$name.out" 2>"$TMP/$name.err" || rc=$?
    check_eq "$rc" 0 "$name enrolled ($(tr '\n' ' ' <"$TMP/$name.err"))"
done
lifetime=$(($(date -d "$(openssl x509 -in "$TMP/p1/node.crt" -noout -enddate | cut -d = -f 2)" +%s) -
    $(date -d "$(openssl x509 -in "$TMP/p1/node.crt" -noout -startdate | cut -d = -f 2)" +%s)))
check '[ "$lifetime" -le 400 ]' "node certificates are short-lived (notBefore to notAfter: $lifetime s)"

# ---- five peers that know each other ----------------------------------------------------------

start_peer p1 "$TMP/p1" --crl-refresh 1
for name in p2 p3 p4 p5; do
    start_peer "$name" "$TMP/$name" --crl-refresh 1 --bootstrap "127.0.0.1:${PORT_OF[p1]}"
done
HONEST=(p1 p2 p3 p4)
VICTIM=p5
VID=${ID[$VICTIM]}
for name in p1 p2 p3 p4 p5; do
    wait_log "$name" "event=peer.joined" 30 || true
    check 'grep -q "event=peer.joined" "$TMP/$name.log"' "$name joined"
    check 'grep -q "event=peer.refresh node=${ID[$name]} crl_interval_s=1 " "$TMP/$name.log"' \
        "$name runs a refresher (crl_interval_s=1)"
done
for name in "${HONEST[@]}"; do
    check 'found "$name" "$VID"' "$name finds $VICTIM by lookup before the revocation"
    check 'lists "$name" "$VID"' "$name holds $VICTIM in its routing table"
    check 'found "$VICTIM" "${ID[$name]}"' "$VICTIM finds $name by lookup before the revocation"
done
for name in "${HONEST[@]}"; do
    check '[ "$(counter "$name" link_links_revoked)" = 0 ] && [ "$(counter "$name" revoked_dropped)" = 0 ]' \
        "$name has revoked nothing yet"
done
crl_before=$(openssl crl -in "$TMP/p1/crl.pem" -noout -crlnumber | cut -d = -f 2)

# ---- the revocation ------------------------------------------------------------------------------

rc=0
"$CORDON_ENROLL" revoke --dir "$TMP/ov" --node "$VID" --reason "test" >"$TMP/revoke.out" 2>&1 || rc=$?
check_eq "$rc" 0 "cordon-enroll revoke of $VICTIM ($(tr '\n' ' ' <"$TMP/revoke.out"))"
revoked_at=$SECONDS
for name in "${HONEST[@]}"; do
    wait_log "$name" "event=peer.revoked_dropped node=${ID[$name]} peer=$VID " 20 || true
done
took=$((SECONDS - revoked_at))
check '[ "$took" -le 20 ]' "every honest peer acted on the revocation within 20 s (took $took s)"
for name in "${HONEST[@]}"; do
    log=$TMP/$name.log
    check 'grep -Eq "event=peer.crl_refreshed node=${ID[$name]} crl=[0-9]+ written=1" "$log"' \
        "$name logged peer.crl_refreshed: $(grep -o 'event=peer.crl_refreshed.*' "$log" | tail -n 1)"
    check 'grep -Eq "event=peer.crl_reloaded node=${ID[$name]} crl=[0-9]+ links_closed=1 table_dropped=1" "$log"' \
        "$name closed its link to $VICTIM and dropped it: $(grep -o 'event=peer.crl_reloaded.*' "$log" | tail -n 1)"
    check 'grep -q "event=peer.revoked_dropped node=${ID[$name]} peer=$VID " "$log"' \
        "$name logged peer.revoked_dropped for $VICTIM"
    check '! lists "$name" "$VID"' "$name's /v1/peers no longer lists $VICTIM"
    check '[ "$(counter "$name" link_links_revoked)" = 1 ] && [ "$(counter "$name" revoked_dropped)" = 1 ] && [ "$(counter "$name" crl_reloads)" = 1 ]' \
        "$name counts it: link_links_revoked=$(counter "$name" link_links_revoked) revoked_dropped=$(counter "$name" revoked_dropped) crl_reloads=$(counter "$name" crl_reloads)"
    crl_now=$(openssl crl -in "$TMP/$name/crl.pem" -noout -crlnumber | cut -d = -f 2)
    check '[ "$((crl_now))" -gt "$((crl_before))" ]' "$name's crl.pem holds the new CRL (number $crl_before -> $crl_now)"
done
wait_log "$VICTIM" "event=peer.self_revoked" 10 || true
check 'grep -q "event=peer.self_revoked node=$VID" "$TMP/$VICTIM.log"' "$VICTIM logged that its own certificate is revoked"

# The revoked peer is cut off: its lookups get no answer, every handshake it tries is refused.
for name in p1 p3; do
    rc=0
    ctl "$VICTIM" --json lookup "${ID[$name]}" >"$TMP/victim.lookup.$name" 2>&1 || rc=$?
    check '! jq -e ".found == true" "$TMP/victim.lookup.$name" >/dev/null 2>&1' \
        "$VICTIM's lookup of $name gets no answer (rc $rc, $(jq -c '{found, queried}' "$TMP/victim.lookup.$name" 2>/dev/null || head -c 200 "$TMP/victim.lookup.$name"))"
done
refused=0
for name in "${HONEST[@]}"; do
    refused=$((refused + $(counter "$name" link_refused_revoked)))
done
check '[ "$refused" -ge 1 ]' "the honest peers refused the revoked certificate in handshakes ($refused times)"

# Honest lookups still succeed.
for pair in "p2 p3" "p4 p1" "p1 p4" "p3 p2"; do
    read -r a b <<<"$pair"
    check 'found "$a" "${ID[$b]}"' "after the revocation $a still finds $b by lookup"
done

# Restarted, the revoked peer cannot join.
terminate "$VICTIM" "${PID[$VICTIM]}"
refused_p1=$(counter p1 link_refused_revoked)
start_peer p5again "$TMP/$VICTIM" --crl-refresh 1 --bootstrap "127.0.0.1:${PORT_OF[p1]}"
wait_log p5again "event=peer.bootstrap_failed" 20 || true
check 'grep -q "event=peer.bootstrap_failed" "$TMP/p5again.log" && ! grep -q "event=peer.joined" "$TMP/p5again.log"' \
    "the revoked peer, restarted, cannot join through p1"
check '[ "$(counter p1 link_refused_revoked)" -gt "$refused_p1" ]' \
    "p1 refused its handshake as revoked (refused_revoked $refused_p1 -> $(counter p1 link_refused_revoked))"
check '[ "$(ctl p5again --json status | jq -r .table_size)" = 0 ]' "the restarted revoked peer's table is empty"
terminate p5again "${PID[p5again]}"

# ---- renewal at runtime ----------------------------------------------------------------------------

old_serial=$(openssl x509 -in "$TMP/r6/node.crt" -noout -serial | cut -d = -f 2)
old_end=$(date -d "$(openssl x509 -in "$TMP/r6/node.crt" -noout -enddate | cut -d = -f 2)" +%s)
start_peer r6 "$TMP/r6" --crl-refresh 1 --renew-before 295 --bootstrap "127.0.0.1:${PORT_OF[p1]}"
# shellcheck disable=SC2034 # used in check conditions
R6=${ID[r6]}
wait_log r6 "event=peer.identity_reloaded" 30 || true
check 'grep -q "event=peer.renewed node=$R6 not_after=" "$TMP/r6.log"' \
    "r6 renewed its certificate: $(grep -o 'event=peer.renewed.*' "$TMP/r6.log" | head -n 1)"
check 'grep -q "event=peer.identity_reloaded node=$R6 " "$TMP/r6.log"' \
    "r6 took the renewed certificate in: $(grep -o 'event=peer.identity_reloaded.*' "$TMP/r6.log" | head -n 1)"
new_serial=$(openssl x509 -in "$TMP/r6/node.crt" -noout -serial | cut -d = -f 2)
new_end=$(date -d "$(openssl x509 -in "$TMP/r6/node.crt" -noout -enddate | cut -d = -f 2)" +%s)
check '[ "$new_serial" != "$old_serial" ] && [ "$new_end" -gt "$old_end" ]' \
    "r6/node.crt is a new certificate (serial $old_serial -> $new_serial, notAfter +$((new_end - old_end)) s)"
check '[ "$(node_id_of "$TMP/r6/node.crt")" = "$R6" ] && same_public_key "$TMP/r6/node.crt" "$TMP/r6/node.key"' \
    "the renewed certificate carries the same node ID, for the same key"
check '[ "$(ctl r6 --json status | jq -r .node_id)" = "$R6" ] && [ "$(counter r6 identity_reloads)" -ge 1 ]' \
    "r6's control API: the same node ID, identity_reloads=$(counter r6 identity_reloads)"
check 'grep -q "event=peer.joined" "$TMP/r6.log" && found r6 "${ID[p2]}"' "r6 joined and finds p2 by lookup"
# A new DTLS client (another node's certificate) is shown the renewed certificate.
rc=0
timeout 10 openssl s_client -dtls1_2 -connect "127.0.0.1:${PORT_OF[r6]}" -cert "$TMP/p2/node.crt" \
    -key "$TMP/p2/node.key" -CAfile "$TMP/ov/ca.crt" </dev/null >"$TMP/s_client.r6" 2>&1 || rc=$?
shown=$(openssl x509 -in "$TMP/s_client.r6" -noout -serial 2>/dev/null | cut -d = -f 2 || true)
check '[ -n "$shown" ] && [ "$shown" = "$new_serial" ]' \
    "a new handshake with r6 shows the renewed certificate (serial ${shown:-none}, rc $rc)"
# A peer started now joins through r6 alone.
start_peer n7 "$TMP/n7" --crl-refresh 1 --bootstrap "127.0.0.1:${PORT_OF[r6]}"
wait_log n7 "event=peer.joined" 30 || true
check 'grep -q "event=peer.joined" "$TMP/n7.log" && lists n7 "$R6"' "n7 joined through r6 and holds it in its table"
check 'found n7 "${ID[p3]}"' "n7 finds p3 by lookup"

# ---- certificates made with openssl: expired, and of another CA --------------------------------------

# make_node_dir NAME SIGNER_KEY SIGNER_CERT STARTDATE ENDDATE: $TMP/NAME as `cordon-peer enroll`
# would leave it, but without enrollment.json and with a node certificate of a fresh node
# ID that `openssl ca` signs with the given CA and dates.
make_node_dir() {
    local name=$1 cakey=$2 cacert=$3 start=$4 end=$5 dir=$TMP/$1 ca=$TMP/ca.$1 id
    mkdir -m 700 "$dir" "$ca"
    cp "$TMP/p1/ca.crt" "$TMP/p1/overlay.json" "$TMP/p1/crl.pem" "$dir/"
    id=$(random_hex 32)
    make_csr p256 "$dir/node.key" "$ca/req.csr" -subj "/CN=$id/O=$OVERLAY"
    touch "$ca/index.txt"
    cat >"$ca/ca.cnf" <<EOF
[ ca ]
default_ca = this
[ this ]
database = $ca/index.txt
new_certs_dir = $ca
serial = $ca/serial
default_md = sha256
policy = any
unique_subject = no
[ any ]
commonName = supplied
[ node ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = URI:cordon://$OVERLAY/node/$id
EOF
    random_hex 15 | sed 's/^./1/' >"$ca/serial"
    openssl ca -batch -config "$ca/ca.cnf" -extensions node -keyfile "$cakey" -cert "$cacert" \
        -startdate "$start" -enddate "$end" -notext -in "$ca/req.csr" -out "$dir/node.crt" \
        >"$ca/ca.log" 2>&1 || { cat "$ca/ca.log"; die "openssl ca could not sign for $name"; }
    chmod 600 "$dir/node.key"
    echo "$id"
}

EXP_ID=$(make_node_dir expired "$TMP/ov/ca.key" "$TMP/ov/ca.crt" 20200101000000Z 20200102000000Z)
check '[ "$(node_id_of "$TMP/expired/node.crt")" = "$EXP_ID" ] && openssl verify -no_check_time -CAfile "$TMP/ov/ca.crt" "$TMP/expired/node.crt" >/dev/null 2>&1' \
    "openssl made a certificate of the overlay CA for node ${EXP_ID:0:16}..., valid only on 1 January 2020"
check '{ openssl verify -CAfile "$TMP/ov/ca.crt" "$TMP/expired/node.crt" 2>&1 || true; } | grep -q "^error 10 at 0 depth lookup: certificate has expired"' \
    "openssl verify says it has expired"
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -keyout "$TMP/other-ca.key" -out "$TMP/other-ca.crt" -subj "/CN=$OVERLAY overlay CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    >/dev/null 2>&1
FOREIGN_ID=$(make_node_dir foreign "$TMP/other-ca.key" "$TMP/other-ca.crt" \
    "$(date -u -d '-1 hour' +%Y%m%d%H%M%SZ)" "$(date -u -d '+1 day' +%Y%m%d%H%M%SZ)")
check 'openssl verify -CAfile "$TMP/other-ca.crt" "$TMP/foreign/node.crt" >/dev/null 2>&1 && ! openssl verify -CAfile "$TMP/ov/ca.crt" "$TMP/foreign/node.crt" >/dev/null 2>&1' \
    "openssl made a current certificate for node ${FOREIGN_ID:0:16}... from another CA of the same overlay name"

expired_before=$(counter p1 link_refused_expired)
start_peer expired "$TMP/expired" --bootstrap "127.0.0.1:${PORT_OF[p1]}"
check 'grep -q "event=peer.refresh_off node=$EXP_ID reason=no_enrollment_json" "$TMP/expired.log"' \
    "a directory without enrollment.json runs without a refresher, saying so once"
wait_log expired "event=peer.bootstrap_failed" 20 || true
check 'grep -q "event=peer.bootstrap_failed" "$TMP/expired.log" && ! grep -q "event=peer.joined" "$TMP/expired.log"' \
    "the peer with the expired certificate cannot join"
check '[ "$(counter p1 link_refused_expired)" -gt "$expired_before" ]' \
    "p1 refused the expired certificate (refused_expired $expired_before -> $(counter p1 link_refused_expired))"
untrusted_before=$(counter p1 link_refused_untrusted)
start_peer foreign "$TMP/foreign" --bootstrap "127.0.0.1:${PORT_OF[p1]}"
wait_log foreign "event=peer.bootstrap_failed" 20 || true
check 'grep -q "event=peer.bootstrap_failed" "$TMP/foreign.log" && ! grep -q "event=peer.joined" "$TMP/foreign.log"' \
    "the peer with another CA's certificate cannot join"
check '[ "$(counter p1 link_refused_untrusted)" -gt "$untrusted_before" ]' \
    "p1 refused the foreign certificate (refused_untrusted $untrusted_before -> $(counter p1 link_refused_untrusted))"
check '! lists p1 "$EXP_ID" && ! lists p1 "$FOREIGN_ID"' "neither entered p1's routing table"

# ---- shutdown ------------------------------------------------------------------------------------

for name in expired foreign n7 r6 p4 p3 p2 p1; do
    terminate "$name" "${PID[$name]}"
done
check 'grep -Eq "event=peer.stopped .*links_revoked=1 .*revoked_dropped=1" "$TMP/p2.log"' \
    "p2's final counters show the revocation: $(grep -oE 'links_revoked=[0-9]+ .*revoked_dropped=[0-9]+' "$TMP/p2.log" || true)"
stop_server
check '! grep -l "PRIVATE KEY\|cdt_" "$TMP"/*.log' "no key material or token in any log"

pass
