#!/usr/bin/env bash
# tests/integration/enroll_renew.sh — certificate renewal and the CRL fetch, over real HTTPS
# on 127.0.0.1 against `cordon-enroll serve`.
#
# A node enrolls with cordon-peer, then `cordon-peer renew` replaces its certificate: same
# node ID and key, a new serial, a later expiry. Requests built by hand with openssl + curl
# (the signed bytes of docs/protocol.md: "cordon-renew-v1" 0x00 || SHA-256(CSR DER) || time
# as u64 big-endian, signed with `openssl dgst -sha256 -sign`) prove the wire format and
# every refusal: the superseded certificate (403), a revoked node (403), a certificate of
# another CA (401), a stale or future time (401), a bad signature (401), a CSR for another
# key (400), malformed JSON and unknown members (400), a wrong content type (415), a wrong
# method (405), and the per-node rate limit (429). `cordon-enroll list` shows the node once
# with its newest serial; the audit log and /metrics count the renewals; `cordon-peer crl`
# replaces DIR/crl.pem after a revocation, and only then.
# check's condition is evaluated when check runs, so it is written in single quotes:
# shellcheck disable=SC2016
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

OVERLAY=acme
OV=$TMP/overlay
CACERT=$OV/ca.crt

"$CORDON_ENROLL" init --dir "$OV" --overlay "$OVERLAY" >/dev/null 2>"$TMP/init.err"
TOKEN=$("$CORDON_ENROLL" token --dir "$OV" --max-nodes 3 --label renew-test)
# The per-node limit is the default one, said out loud: 3 in a row, then one per 1000 s.
start_server "$OV" --renew-burst 3 --renew-rate 0.001
BASE="https://127.0.0.1:$PORT"

# enroll DIR: cordon-peer enroll with the CA file; prints the node ID.
enroll() {
    "$CORDON_PEER" enroll --dir "$1" --server "$BASE" --token "$TOKEN" --cacert "$CACERT" \
        --timeout 10 2>"$1.err"
}

# renew DIR: cordon-peer renew; stdout to DIR.renew.out, stderr to DIR.renew.err; prints
# the exit status.
renew() {
    local rc=0
    "$CORDON_PEER" renew --dir "$1" --timeout 10 >"$1.renew.out" 2>"$1.renew.err" || rc=$?
    echo "$rc"
}

serial_of() {
    openssl x509 -in "$1" -noout -serial | cut -d = -f 2 | tr 'A-F' 'a-f'
}

not_after_of() {
    date -u -d "$(openssl x509 -in "$1" -noout -enddate | cut -d = -f 2)" +%s
}

# json_text FILE: the file's content as a JSON string body (newlines as \n; PEM has no
# quote or backslash).
json_text() {
    awk 'BEGIN { ORS = "" } { print $0 "\\n" }' "$1"
}

# renew_body OUT CERT KEY TIME [SIGNKEY [CSRKEY]]: the JSON body of POST /v1/renew for CERT,
# with a CSR for CSRKEY (default KEY), signed by SIGNKEY (default KEY) over the documented
# bytes.
renew_body() {
    local out=$1 cert=$2 key=$3 time=$4 signkey=${5:-$3} csrkey=${6:-$3}
    local w=$TMP/body.work
    openssl req -new -key "$csrkey" -subj /CN=renew -outform DER -out "$w.csr.der" 2>/dev/null
    openssl req -in "$w.csr.der" -inform DER -out "$w.csr.pem"
    {
        printf 'cordon-renew-v1\0'
        openssl dgst -sha256 -binary "$w.csr.der"
        # shellcheck disable=SC2059 # the format is the \xHH escapes built here
        printf "$(printf '%016x' "$time" | sed 's/../\\x&/g')"
    } >"$w.msg"
    openssl dgst -sha256 -sign "$signkey" -out "$w.sig" "$w.msg"
    local sig
    sig=$(od -An -v -tx1 "$w.sig" | tr -d ' \n')
    printf '{"certificate":"%s","csr":"%s","time":%s,"signature":"%s"}' \
        "$(json_text "$cert")" "$(json_text "$w.csr.pem")" "$time" "$sig" >"$out"
}

# post_renew OUT BODYFILE [curl args...]: POST /v1/renew as JSON; prints the status.
post_renew() {
    local out=$1 body=$2
    shift 2
    http "$out" POST /v1/renew -H 'Content-Type: application/json' --data-binary "@$body" "$@"
}

# ---- a node enrolls, then renews with cordon-peer -----------------------------------------

N1=$TMP/n1
ID1=$(enroll "$N1")
check '[[ "$ID1" =~ ^[0-9a-f]{64}$ ]]' "node 1 enrolled with cordon-peer (node ID $ID1)"
cp "$N1/node.crt" "$TMP/n1.first.crt"
SERIAL0=$(serial_of "$N1/node.crt")
END0=$(not_after_of "$N1/node.crt")

sleep 1.1 # so that the renewed certificate's expiry is a later second
rc=$(renew "$N1")
check_eq "$rc" 0 "cordon-peer renew succeeds ($(tr '\n' ' ' <"$N1.renew.err"))"
SERIAL1=$(serial_of "$N1/node.crt")
END1=$(not_after_of "$N1/node.crt")
check_eq "$(node_id_of "$N1/node.crt")" "$ID1" "the renewed certificate carries the same node ID"
check '[ "$SERIAL1" != "$SERIAL0" ]' "the renewed certificate has a new serial ($SERIAL0 -> $SERIAL1)"
check '[ "$END1" -gt "$END0" ]' "the renewed certificate expires later ($END0 -> $END1)"
check 'same_public_key "$N1/node.crt" "$N1/node.key"' "the renewed certificate certifies the same key (node.key)"
check_eq "$(openssl verify -CAfile "$CACERT" "$N1/node.crt" 2>&1)" "$N1/node.crt: OK" \
    "openssl verify accepts the renewed certificate"
check_eq "$(cat "$N1.renew.out")" \
    "node_id=$ID1 serial=$SERIAL1 not_after=$(date -u -d "@$END1" +%Y-%m-%dT%H:%M:%SZ)" \
    "cordon-peer renew prints the node ID, the new serial and the new expiry"
check_eq "$(stat -c %a "$N1/node.key")" 600 "node.key is still mode 600"

# ---- the documented bytes, built by hand ---------------------------------------------------

NOW=$(date +%s)
renew_body "$TMP/good.json" "$N1/node.crt" "$N1/node.key" "$NOW"
code=$(post_renew "$TMP/good.out" "$TMP/good.json")
check_eq "$code" 201 "a renewal built with openssl + curl as docs/protocol.md says is answered 201"
check_eq "$(content_type "$TMP/good.out")" application/pem-certificate-chain \
    "the answer is a PEM chain, as for /v1/enroll"
openssl x509 -in "$TMP/good.out" -out "$TMP/hand.crt"
check_eq "$(node_id_of "$TMP/hand.crt")" "$ID1" "the hand-made renewal keeps the node ID"
check 'same_public_key "$TMP/hand.crt" "$N1/node.key"' "the hand-made renewal certifies the node's key"
SERIAL2=$(serial_of "$TMP/hand.crt")
check '[ "$SERIAL2" != "$SERIAL1" ]' "and has a new serial again"
cp "$TMP/hand.crt" "$N1/node.crt"

# ---- refusals -------------------------------------------------------------------------------

# expect_refusal NAME STATUS BODYFILE [curl args...]
expect_refusal() {
    local name=$1 want=$2 body=$3 code
    shift 3
    code=$(post_renew "$TMP/$name.out" "$body" "$@")
    check_eq "$code" "$want" "$name: answered $want ($(cat "$TMP/$name.out" 2>/dev/null))"
    check 'is_json_error "$TMP/$name.out"' "$name: the body is a JSON error"
}

NOW=$(date +%s)
renew_body "$TMP/old.json" "$TMP/n1.first.crt" "$N1/node.key" "$NOW"
expect_refusal superseded 403 "$TMP/old.json"
check 'grep -q superseded "$TMP/superseded.out"' "superseded: the message says the certificate was superseded"

renew_body "$TMP/stale.json" "$N1/node.crt" "$N1/node.key" $((NOW - 1000))
expect_refusal stale_time 401 "$TMP/stale.json"
renew_body "$TMP/future.json" "$N1/node.crt" "$N1/node.key" $((NOW + 1000))
expect_refusal future_time 401 "$TMP/future.json"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/other.key" 2>/dev/null
renew_body "$TMP/badsig.json" "$N1/node.crt" "$N1/node.key" "$NOW" "$TMP/other.key"
expect_refusal bad_signature 401 "$TMP/badsig.json"
renew_body "$TMP/otherkey.json" "$N1/node.crt" "$N1/node.key" "$NOW" "$N1/node.key" "$TMP/other.key"
expect_refusal csr_other_key 400 "$TMP/otherkey.json"

# A certificate for the same node ID and key, from a CA of the same name that is not ours.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/fca.key" \
    -out "$TMP/fca.crt" -subj "/CN=$OVERLAY overlay CA" -days 30 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    2>/dev/null
openssl req -new -key "$N1/node.key" -subj "/CN=$ID1" -out "$TMP/foreign.csr" 2>/dev/null
printf '%s\n' "subjectAltName=URI:cordon://$OVERLAY/node/$ID1" \
    "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth,clientAuth" >"$TMP/foreign.ext"
openssl x509 -req -in "$TMP/foreign.csr" -CA "$TMP/fca.crt" -CAkey "$TMP/fca.key" \
    -CAcreateserial -days 2 -extfile "$TMP/foreign.ext" -out "$TMP/foreign.crt" 2>/dev/null
check_eq "$(node_id_of "$TMP/foreign.crt")" "$ID1" "the foreign certificate names node 1"
renew_body "$TMP/foreign.json" "$TMP/foreign.crt" "$N1/node.key" "$NOW"
expect_refusal foreign_ca 401 "$TMP/foreign.json"

printf '{"certificate": "x", "csr": ' >"$TMP/truncated.json"
expect_refusal malformed_json 400 "$TMP/truncated.json"
sed 's/}$/,"extra":1}/' "$TMP/stale.json" >"$TMP/extra.json"
expect_refusal unknown_member 400 "$TMP/extra.json"
sed 's/"time":[0-9]*/"time":"now"/' "$TMP/stale.json" >"$TMP/strtime.json"
expect_refusal string_time 400 "$TMP/strtime.json"
code=$(http "$TMP/ct.out" POST /v1/renew -H 'Content-Type: text/plain' \
    --data-binary "@$TMP/stale.json")
check_eq "$code" 415 "a renewal that is not application/json is answered 415"
code=$(http "$TMP/get.out" GET /v1/renew)
allow=$(grep -i '^allow:' "$TMP/get.out.hdr" | cut -d ' ' -f 2- | tr -d '\r' || true)
check_eq "$code $allow" "405 POST" "GET /v1/renew is answered 405 with Allow: POST"

# ---- the per-node rate limit ----------------------------------------------------------------

# Two renewals so far (cordon-peer, by hand); the third fills the burst of 3.
rc=$(renew "$N1")
check_eq "$rc" 0 "a third renewal in a row is allowed (burst 3)"
rc=$(renew "$N1")
check_eq "$rc" 1 "a fourth renewal in a row is refused"
check 'grep -q "HTTP 429" "$N1.renew.err"' "the refusal is 429 ($(cat "$N1.renew.err"))"
check 'openssl x509 -in "$N1/node.crt" -noout' "a refused renewal leaves node.crt in place"
SERIAL3=$(serial_of "$N1/node.crt")

# ---- a revoked node cannot renew; the CRL reaches the node -----------------------------------

N2=$TMP/n2
ID2=$(enroll "$N2")
check '[[ "$ID2" =~ ^[0-9a-f]{64}$ ]]' "node 2 enrolled"
out=$("$CORDON_PEER" crl --dir "$N2" 2>&1 || true)
check_eq "$out" "crl.pem is up to date" "cordon-peer crl right after enrollment: up to date"
NUM_BEFORE=$(openssl crl -in "$N2/crl.pem" -noout -crlnumber | cut -d = -f 2)
"$CORDON_ENROLL" revoke --dir "$OV" --node "$ID2" --reason test >/dev/null
out=$("$CORDON_PEER" crl --dir "$N2" 2>&1 || true)
check_eq "$out" "crl.pem replaced by a newer CRL" "cordon-peer crl after a revocation replaces crl.pem"
NUM_AFTER=$(openssl crl -in "$N2/crl.pem" -noout -crlnumber | cut -d = -f 2)
check '[ $((NUM_AFTER)) -gt $((NUM_BEFORE)) ]' "the stored CRL number went up ($NUM_BEFORE -> $NUM_AFTER)"
check 'openssl crl -in "$N2/crl.pem" -CAfile "$CACERT" -noout 2>&1 | grep -q "verify OK"' \
    "the stored CRL verifies with the CA"
# shellcheck disable=SC2034 # used in a check condition
S2=$(serial_of "$N2/node.crt" | tr 'a-f' 'A-F')
check 'openssl crl -in "$N2/crl.pem" -noout -text | grep -q "Serial Number: $S2"' \
    "the stored CRL lists node 2's certificate"
out=$("$CORDON_PEER" crl --dir "$N2" 2>&1 || true)
check_eq "$out" "crl.pem is up to date" "fetched again: unchanged"

cp "$N2/node.crt" "$TMP/n2.crt"
rc=$(renew "$N2")
check_eq "$rc" 1 "cordon-peer renew of a revoked node fails"
check 'grep -q "HTTP 403" "$N2.renew.err" && grep -q "revoked" "$N2.renew.err"' \
    "the refusal is 403, node revoked ($(cat "$N2.renew.err"))"
check 'cmp -s "$N2/node.crt" "$TMP/n2.crt"' "the revoked node's node.crt is untouched"
renew_body "$TMP/revoked.json" "$N2/node.crt" "$N2/node.key" "$(date +%s)"
expect_refusal revoked 403 "$TMP/revoked.json"

out=$("$CORDON_PEER" crl --dir "$TMP/nowhere" 2>&1 || true)
check '[[ "$out" == *"nowhere/enrollment.json"* ]]' "cordon-peer crl on a directory that is not enrolled says so ($out)"

# ---- the server's records ---------------------------------------------------------------------

"$CORDON_ENROLL" list --dir "$OV" >"$TMP/list.out"
check_eq "$(grep -c "\"node\":\"$ID1\"" "$TMP/list.out")" 1 "cordon-enroll list shows node 1 once"
check 'grep "\"node\":\"$ID1\"" "$TMP/list.out" | grep -q "\"serial\":\"$SERIAL3\""' \
    "with the serial of its newest certificate ($SERIAL3)"
check_eq "$(grep -c '"event":"renew","outcome":"issued"' "$OV/audit.log")" 3 \
    "the audit log records the 3 renewals"
check 'grep "\"event\":\"renew\",\"outcome\":\"issued\"" "$OV/audit.log" | grep -q "\"old_serial\":\"$SERIAL0\""' \
    "a renewal's audit line names the old serial"
check '! grep -q "${TOKEN#cdt_}" "$OV/audit.log"' "the token appears nowhere in the audit log"
check_eq "$(metric 'cordon_enroll_renewals_total{outcome="issued"}')" 3 "/metrics counts 3 renewals issued"
check_eq "$(metric 'cordon_enroll_renewals_total{outcome="rate_limited"}')" 1 "/metrics counts 1 renewal rate-limited"
check_eq "$(metric 'cordon_enroll_renewals_total{outcome="forbidden"}')" 3 \
    "/metrics counts 3 renewals forbidden (superseded, revoked twice)"
check_eq "$(metric 'cordon_enroll_renewals_total{outcome="unauthorized"}')" 4 \
    "/metrics counts 4 renewals unauthorized (stale, future, signature, foreign CA)"

# Revoking a renewed node revokes every certificate it still holds, the superseded ones too:
# they remain valid until they expire, and each could otherwise still open links.
"$CORDON_ENROLL" revoke --dir "$OV" --node "$ID1" >/dev/null
out=$("$CORDON_PEER" crl --dir "$N1" 2>&1 || true)
check_eq "$out" "crl.pem replaced by a newer CRL" "node 1 fetches the CRL that revokes it"
openssl crl -in "$N1/crl.pem" -noout -text | tr 'A-F' 'a-f' >"$TMP/crl1.txt"
for s in "$SERIAL0" "$SERIAL1" "$SERIAL2" "$SERIAL3"; do
    check 'grep -qi "serial number: $s" "$TMP/crl1.txt"' "the CRL lists node 1's certificate $s"
done

stop_server
pass
