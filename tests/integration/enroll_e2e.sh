#!/usr/bin/env bash
# tests/integration/enroll_e2e.sh — enrollment end to end, over real HTTPS on 127.0.0.1.
#
# An operator creates an overlay and mints a token; four new nodes enroll (openssl + curl
# with a P-256 CSR that asks for its own identity, openssl + curl with an Ed25519 CSR,
# cordon-peer pinning the CA fingerprint, cordon-peer with the CA file). Every issued
# certificate verifies against the CA, carries exactly one server-chosen node ID, and none
# of the identity the CSR asked for. The public endpoints (/v1/ca, /v1/overlay, /v1/crl,
# /metrics) serve what they must; cordon-peer refuses a wrong pin, a foreign CA, a bad token
# and an unreachable server with clear messages; a revocation reaches the served CRL; the
# audit log records issuance, refusal and revocation; the token is never written anywhere.
# check's condition is evaluated when check runs, so it is written in single quotes:
# shellcheck disable=SC2016
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

OVERLAY=acme
OV=$TMP/overlay
CACERT=$OV/ca.crt

# split_chain FILE PREFIX: writes each PEM certificate of FILE to PREFIX.1.pem, PREFIX.2.pem,
# ... and prints how many there were.
split_chain() {
    awk -v prefix="$2" '
        /-----BEGIN CERTIFICATE-----/ { n++; out = prefix "." n ".pem" }
        out != "" { print > out }
        /-----END CERTIFICATE-----/ { close(out); out = "" }
        END { print n + 0 }' "$1"
}

# check_node_cert NAME CERT: the checks every issued certificate must pass. Sets NODE_ID.
check_node_cert() {
    local name=$1 cert=$2 out san
    out=$(openssl verify -CAfile "$CACERT" "$cert" 2>&1 || true)
    check_eq "$out" "$cert: OK" "$name: openssl verify -CAfile ca.crt accepts the certificate"
    out=$(openssl verify -CAfile "$CACERT" -purpose sslclient "$cert" 2>&1 || true)
    check_eq "$out" "$cert: OK" "$name: the certificate is good for TLS client authentication"
    out=$(openssl verify -CAfile "$CACERT" -purpose sslserver "$cert" 2>&1 || true)
    check_eq "$out" "$cert: OK" "$name: the certificate is good for TLS server authentication"
    out=$(openssl x509 -in "$cert" -noout -ext basicConstraints 2>&1 || true)
    check '[[ "$out" == *"CA:FALSE"* ]]' "$name: the certificate is not a CA (basicConstraints: ${out//$'\n'/ })"
    san=$(san_of "$cert")
    check '[[ "$san" =~ ^URI:cordon://$OVERLAY/node/[0-9a-f]{64}$ ]]' \
        "$name: the subjectAltName is exactly one URI cordon://$OVERLAY/node/<64 hex> (got '$san')"
    NODE_ID=$(node_id_of "$cert")
    check '[ "${#NODE_ID}" -eq 64 ]' "$name: node ID $NODE_ID read from the certificate"
    check 'openssl x509 -in "$cert" -noout -checkend 3600 >/dev/null' \
        "$name: the certificate is valid for at least another hour"
    # Short-lived: cert_validity in params.json (3 days by default) plus the backdating.
    local validity
    validity=$(grep -oE '"cert_validity": *[0-9]+' "$OV/params.json" | grep -oE '[0-9]+$')
    check '! openssl x509 -in "$cert" -noout -checkend $((validity + 120)) >/dev/null' \
        "$name: the certificate expires within cert_validity ($validity s) as params.json says"
}

# check_no_requested_identity NAME CERT CHOSEN_HEX: nothing the CSR asked for is in CERT.
check_no_requested_identity() {
    local name=$1 cert=$2 chosen=$3 text der
    # shellcheck disable=SC2034 # used in a check condition
    text=$(openssl x509 -in "$cert" -noout -text)
    der=$TMP/$name.der
    openssl x509 -in "$cert" -outform DER -out "$der"
    check '[[ "$text" != *evil* ]] && ! grep -aq evil "$der"' \
        "$name: the requested CN=evil appears nowhere in the issued certificate"
    check '[[ "$text" != *"$chosen"* ]] && ! grep -aqi "$chosen" "$der"' \
        "$name: the requested node ID $chosen appears nowhere in the issued certificate"
    check '[ "$NODE_ID" != "$chosen" ]' "$name: the node ID is the server's, not the one asked for"
}

# ---- the operator creates the overlay --------------------------------------------------------

"$CORDON_ENROLL" init --dir "$OV" --overlay "$OVERLAY" >"$TMP/init.out" 2>"$TMP/init.err"
FP=$(fingerprint "$OV")
printed=$(grep -oE 'sha256:[0-9a-f]{64}' "$TMP/init.out" || true)
check_eq "$printed" "sha256:$FP" "init prints the CA fingerprint (SHA-256 of ca.crt in DER)"
check_eq "$(stat -c %a "$OV/ca.key")" 600 "ca.key is mode 600"
check_eq "$(stat -c %a "$OV/server.key")" 600 "server.key is mode 600"
check '! "$CORDON_ENROLL" init --dir "$OV" --overlay other >/dev/null 2>"$TMP/reinit.err" && grep -q "refusing to overwrite" "$TMP/reinit.err"' \
    "init refuses to overwrite an existing overlay"
check_eq "$(fingerprint "$OV")" "$FP" "the refused init left the CA untouched"

TOKEN=$("$CORDON_ENROLL" token --dir "$OV" --max-nodes 10 --label e2e-batch)
check '[[ "$TOKEN" =~ ^cdt_[0-9a-f]{64}$ ]]' "token prints one cdt_<64 hex> token"

# serve must not fail silently: an unwritable --ready-file is an error that names the file.
# (With the server as of this writing the second check fails: cordon_serve returns the
# error from write_ready_file without printing anything.)
rc=0
timeout 20 "$CORDON_ENROLL" serve --dir "$OV" --listen 127.0.0.1:0 \
    --ready-file "$TMP/no/such/dir/ready" >"$TMP/badready.out" 2>&1 || rc=$?
check '[ "$rc" != 0 ] && [ "$rc" != 124 ]' "serve with an unwritable --ready-file exits with an error (exit $rc)"
check 'grep -qF "$TMP/no/such/dir/ready" "$TMP/badready.out"' \
    "serve with an unwritable --ready-file says which file it could not write (it printed: $(grep -v 'event=serve.started' "$TMP/badready.out" | tr '\n' ' '))"

start_server "$OV"
ok "server listening on 127.0.0.1:$PORT"
BASE=https://127.0.0.1:$PORT

# A second server on the same address fails clearly instead of sharing the port.
rc=0
timeout 20 "$CORDON_ENROLL" serve --dir "$OV" --listen "127.0.0.1:$PORT" \
    --ready-file "$TMP/second.ready" >"$TMP/second.out" 2>&1 || rc=$?
check '[ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q "cannot listen on 127.0.0.1:$PORT" "$TMP/second.out" && [ ! -e "$TMP/second.ready" ]' \
    "a second server on the same port exits with 'cannot listen' and writes no ready file (exit $rc)"

# ---- public endpoints --------------------------------------------------------------------------

code=$(http "$TMP/ca.pem" GET /v1/ca)
check_eq "$code" 200 "GET /v1/ca answers 200"
check 'cmp -s "$TMP/ca.pem" "$CACERT"' "GET /v1/ca is byte for byte ca.crt"

code=$(http "$TMP/overlay.json" GET /v1/overlay)
check_eq "$code" 200 "GET /v1/overlay answers 200"
check_eq "$(content_type "$TMP/overlay.json")" application/json "GET /v1/overlay is application/json"
# shellcheck disable=SC2034 # used in a check condition
doc=$(cat "$TMP/overlay.json")
check '[[ "$doc" =~ ^\{.*\"document\":\".*\".*\"signature\":\"[0-9a-f]+\".*\}$ ]]' \
    "the overlay envelope is a JSON object with a document and a hex signature"
check '[[ "$doc" == *"\"alg\":\"ecdsa-p256-sha256\""* ]]' "the envelope names the CA's algorithm"
check '[[ "$doc" == *"\\\"overlay\\\":\\\"$OVERLAY\\\""* ]]' "the document names overlay $OVERLAY"
for field in k alpha disjoint_paths replicas max_object_size max_lifetime cert_validity crl_validity; do
    check '[[ "$doc" == *"\\\"$field\\\":"[0-9]* ]]' "the document carries parameter $field"
done
# The signature, checked with openssl alone: the document is a JSON string whose only
# escapes are \\ and \" (jansson escapes nothing else in it), the signature is hex DER.
sed -E 's/.*"document":"(([^"\\]|\\.)*)".*/\1/' "$TMP/overlay.json" |
    sed -e 's/\\\\/\x01/g' -e 's/\\"/"/g' -e 's/\x01/\\/g' >"$TMP/document.nl"
printf '%s' "$(cat "$TMP/document.nl")" >"$TMP/document"
sig_hex=$(sed -E 's/.*"signature":"([0-9a-f]+)".*/\1/' "$TMP/overlay.json")
printf '%b' "$(printf '%s' "$sig_hex" | sed 's/../\\x&/g')" >"$TMP/document.sig"
openssl x509 -in "$CACERT" -noout -pubkey >"$TMP/ca.pub"
check 'openssl dgst -sha256 -verify "$TMP/ca.pub" -signature "$TMP/document.sig" "$TMP/document" >/dev/null 2>&1' \
    "the overlay document's signature verifies with openssl against the CA key"
sed 's/"k":/"k": /' "$TMP/document" >"$TMP/document.tampered"
check '! openssl dgst -sha256 -verify "$TMP/ca.pub" -signature "$TMP/document.sig" "$TMP/document.tampered" >/dev/null 2>&1' \
    "(control) a one-byte change to the document breaks that signature"

code=$(http "$TMP/crl.pem" GET /v1/crl)
check_eq "$code" 200 "GET /v1/crl answers 200"
out=$(openssl crl -in "$TMP/crl.pem" -CAfile "$CACERT" -noout 2>&1 || true)
check_eq "$out" "verify OK" "the served CRL verifies: openssl crl -CAfile ca.crt -noout"
# A foreign CA with the very same name, as a control that the check above means something.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "$(openssl x509 -in "$CACERT" -noout -subject -nameopt compat | sed 's/^subject=//')" \
    -keyout "$TMP/foreign.key" -out "$TMP/foreign.crt" 2>/dev/null
out=$(openssl crl -in "$TMP/crl.pem" -CAfile "$TMP/foreign.crt" -noout 2>&1 || true)
check '[ "$out" != "verify OK" ]' "(control) the CRL does not verify against a foreign CA of the same name"

# ---- (a) openssl + curl, P-256, asking for CN=evil and a chosen node ID ------------------------

CHOSEN_A=$(random_hex 32)
make_csr p256 "$TMP/a.key" "$TMP/a.csr" -subj "/CN=evil" \
    -addext "subjectAltName=URI:cordon://$OVERLAY/node/$CHOSEN_A"
code=$(http "$TMP/a.chain" POST /v1/enroll -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/pkcs10' --data-binary "@$TMP/a.csr")
check_eq "$code" 201 "(a) P-256 CSR from openssl, posted with curl: 201 Created"
check_eq "$(content_type "$TMP/a.chain")" application/pem-certificate-chain \
    "(a) the answer is application/pem-certificate-chain"
n=$(split_chain "$TMP/a.chain" "$TMP/a")
check_eq "$n" 2 "(a) the chain holds the node certificate and the CA certificate"
check '[ -f "$TMP/a.2.pem" ] && cmp -s "$TMP/a.2.pem" "$CACERT"' "(a) the second certificate of the chain is ca.crt"
check_node_cert a "$TMP/a.1.pem"
ID_A=$NODE_ID
check_no_requested_identity a "$TMP/a.1.pem" "$CHOSEN_A"
check 'same_public_key "$TMP/a.1.pem" "$TMP/a.key"' "(a) the certificate certifies the CSR's key"

# ---- (b) openssl + curl, Ed25519 -----------------------------------------------------------------

CHOSEN_B=$(random_hex 32)
make_csr ed25519 "$TMP/b.key" "$TMP/b.csr" -subj "/CN=evil" \
    -addext "subjectAltName=URI:cordon://$OVERLAY/node/$CHOSEN_B"
code=$(http "$TMP/b.chain" POST /v1/enroll -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/pkcs10' --data-binary "@$TMP/b.csr")
check_eq "$code" 201 "(b) Ed25519 CSR from openssl: 201 Created"
n=$(split_chain "$TMP/b.chain" "$TMP/b")
check_eq "$n" 2 "(b) the chain holds two certificates"
check_node_cert b "$TMP/b.1.pem"
ID_B=$NODE_ID
check_no_requested_identity b "$TMP/b.1.pem" "$CHOSEN_B"
check 'same_public_key "$TMP/b.1.pem" "$TMP/b.key"' "(b) the certificate certifies the Ed25519 key"
check '[[ "$(openssl x509 -in "$TMP/b.1.pem" -noout -text)" == *ED25519* ]]' "(b) the certificate's key is Ed25519"

# ---- (c) cordon-peer pinning the CA fingerprint --------------------------------------------------

peer_enroll() { # DIR [options...]: runs cordon-peer enroll; stdout to DIR.out, stderr to DIR.err
    local dir=$1
    shift
    local rc=0
    "$CORDON_PEER" enroll --dir "$dir" --timeout 10 "$@" >"$dir.out" 2>"$dir.err" || rc=$?
    echo "$rc"
}

rc=$(peer_enroll "$TMP/c" --server "$BASE" --token "$TOKEN" --ca-fingerprint "sha256:$FP")
check_eq "$rc" 0 "(c) cordon-peer enroll --ca-fingerprint sha256:... succeeds ($(tr '\n' ' ' <"$TMP/c.err"))"
for f in node.key node.crt ca.crt overlay.json crl.pem enrollment.json; do
    check '[ -s "$TMP/c/$f" ]' "(c) cordon-peer stored $f"
done
check_node_cert c "$TMP/c/node.crt"
ID_C=$NODE_ID
check_eq "$(cat "$TMP/c.out")" "$ID_C" "(c) cordon-peer prints the node ID that the certificate carries"
check_eq "$(stat -c %a "$TMP/c/node.key")" 600 "(c) node.key is mode 600"
check 'same_public_key "$TMP/c/node.crt" "$TMP/c/node.key"' "(c) node.crt certifies node.key"
check 'cmp -s "$TMP/c/ca.crt" "$CACERT"' "(c) the stored ca.crt is the overlay CA"
check 'cmp -s "$TMP/c/overlay.json" "$TMP/overlay.json"' \
    "(c) the overlay document cordon-peer verified and stored is the one served"
check 'grep -q "\"node_id\": \"$ID_C\"" "$TMP/c/enrollment.json"' "(c) enrollment.json names the node ID"

# ---- (d) cordon-peer with the CA file --------------------------------------------------------------

rc=$(peer_enroll "$TMP/d" --server "$BASE" --token "$TOKEN" --cacert "$CACERT")
check_eq "$rc" 0 "(d) cordon-peer enroll --cacert ca.crt succeeds ($(tr '\n' ' ' <"$TMP/d.err"))"
check '[ -s "$TMP/d/node.crt" ]' "(d) cordon-peer stored node.crt"
check_node_cert d "$TMP/d/node.crt"
ID_D=$NODE_ID
check_eq "$(cat "$TMP/d.out")" "$ID_D" "(d) cordon-peer prints the node ID that the certificate carries"
check_eq "$(stat -c %a "$TMP/d/node.key")" 600 "(d) node.key is mode 600"
check 'same_public_key "$TMP/d/node.crt" "$TMP/d/node.key"' "(d) node.crt certifies node.key"

ALL_IDS=$(printf '%s\n' "$ID_A" "$ID_B" "$ID_C" "$ID_D")
check_eq "$(sort -u <<<"$ALL_IDS" | grep -c .)" 4 "the four node IDs all differ"

# An enrolled directory is not enrolled again.
rc=$(peer_enroll "$TMP/d" --server "$BASE" --token "$TOKEN" --cacert "$CACERT")
check '[ "$rc" != 0 ] && grep -q "already enrolled" "$TMP/d.err"' \
    "cordon-peer refuses to enroll a directory that already holds node.crt"
check_eq "$(node_id_of "$TMP/d/node.crt")" "$ID_D" "the refused re-enrollment left node.crt alone"

# ---- cordon-enroll list ----------------------------------------------------------------------------

"$CORDON_ENROLL" list --dir "$OV" >"$TMP/list" 2>"$TMP/list.err"
check_eq "$(grep -c . "$TMP/list")" 4 "cordon-enroll list prints one line per issued node (4)"
check '! grep -qvE "^\{\"node\":\"[0-9a-f]{64}\",.*\}$" "$TMP/list"' \
    "every line of cordon-enroll list is a JSON object starting with the node ID"
listed=$(grep -oE '^\{"node":"[0-9a-f]{64}"' "$TMP/list" | cut -d '"' -f 4 | sort)
check_eq "$listed" "$(sort <<<"$ALL_IDS")" "cordon-enroll list names exactly the four issued node IDs"
serial_a=$(openssl x509 -in "$TMP/a.1.pem" -noout -serial | cut -d = -f 2 | tr 'A-F' 'a-f' | sed 's/^0*//')
listed_serial_a=$(grep "\"node\":\"$ID_A\"" "$TMP/list" | grep -oE '"serial":"[0-9a-f]+"' | cut -d '"' -f 4 | sed 's/^0*//')
check_eq "$listed_serial_a" "$serial_a" "cordon-enroll list gives (a)'s certificate serial"
check 'grep "\"node\":\"$ID_A\"" "$TMP/list" | grep -q "\"token\":\"e2e-batch\""' \
    "cordon-enroll list names the token label that enrolled (a)"

# ---- refusals seen by cordon-peer ---------------------------------------------------------------------

wrong_fp=${FP:0:63}$(if [ "${FP:63:1}" = 0 ]; then echo 1; else echo 0; fi)
rc=$(peer_enroll "$TMP/wrongfp" --server "$BASE" --token "$TOKEN" --ca-fingerprint "sha256:$wrong_fp")
check '[ "$rc" != 0 ]' "a wrong --ca-fingerprint makes cordon-peer enroll fail (exit $rc)"
check 'grep -qi "fingerprint" "$TMP/wrongfp.err" && grep -q "does not match" "$TMP/wrongfp.err"' \
    "the wrong-pin message mentions the fingerprint: $(head -n 1 "$TMP/wrongfp.err")"
check '[ ! -e "$TMP/wrongfp/node.crt" ]' "a wrong --ca-fingerprint leaves no node.crt"
check '[ ! -e "$TMP/wrongfp/node.key" ]' "a wrong --ca-fingerprint leaves no node.key either"

rc=$(peer_enroll "$TMP/foreign" --server "$BASE" --token "$TOKEN" --cacert "$TMP/foreign.crt")
check '[ "$rc" != 0 ]' "cordon-peer enroll --cacert with a foreign CA fails (exit $rc)"
check 'grep -qi "certificate" "$TMP/foreign.err"' \
    "the foreign-CA message says why: $(head -n 1 "$TMP/foreign.err")"
check '[ ! -e "$TMP/foreign/node.crt" ]' "a foreign CA leaves no node.crt"

BAD_TOKEN=cdt_$(random_hex 32)
rc=$(peer_enroll "$TMP/badtoken" --server "$BASE" --token "$BAD_TOKEN" --cacert "$CACERT")
check '[ "$rc" != 0 ]' "an unknown token makes cordon-peer enroll fail (exit $rc)"
check 'grep -q "HTTP 401" "$TMP/badtoken.err" && grep -q "unknown enrollment token" "$TMP/badtoken.err"' \
    "the unknown-token message is clear: $(head -n 1 "$TMP/badtoken.err")"
check '[ ! -e "$TMP/badtoken/node.crt" ]' "an unknown token leaves no node.crt"

rc=$(peer_enroll "$TMP/badform" --server "$BASE" --token "not-a-token" --cacert "$CACERT")
check '[ "$rc" != 0 ] && grep -q "token" "$TMP/badform.err"' \
    "a malformed token is refused by cordon-peer itself: $(head -n 1 "$TMP/badform.err")"

CLOSED=$(closed_port)
[ -n "$CLOSED" ] || die "found no closed port on 127.0.0.1 to test an unreachable server"
for how in "--ca-fingerprint sha256:$FP" "--cacert $CACERT"; do
    rm -rf "$TMP/unreach" "$TMP/unreach.err"
    # shellcheck disable=SC2034 # used in a check condition
    start=$SECONDS
    # shellcheck disable=SC2086 # $how is two words on purpose
    rc=$(peer_enroll "$TMP/unreach" --server "https://127.0.0.1:$CLOSED" --token "$TOKEN" $how)
    check '[ "$rc" != 0 ] && [ $((SECONDS - start)) -le 12 ]' \
        "an unreachable server (closed port $CLOSED, ${how%% *}) fails promptly (exit $rc)"
    check 'grep -q "127.0.0.1:$CLOSED" "$TMP/unreach.err" && grep -qiE "connect|refused" "$TMP/unreach.err"' \
        "the unreachable-server message is clear: $(head -n 1 "$TMP/unreach.err")"
    check '[ ! -e "$TMP/unreach/node.crt" ]' "an unreachable server leaves no node.crt"
done

# ---- revocation ----------------------------------------------------------------------------------------

out=$(openssl verify -crl_check -CAfile "$CACERT" -CRLfile "$TMP/crl.pem" "$TMP/a.1.pem" 2>&1 || true)
check_eq "$out" "$TMP/a.1.pem: OK" "before revocation, (a) passes openssl verify -crl_check"
"$CORDON_ENROLL" revoke --dir "$OV" --node "$ID_A" --reason "key compromise drill" \
    >"$TMP/revoke.out" 2>"$TMP/revoke.err"
ok "cordon-enroll revoke --node (a) succeeded: $(cat "$TMP/revoke.out")"
code=$(http "$TMP/crl2.pem" GET /v1/crl)
check_eq "$code" 200 "GET /v1/crl after the revocation answers 200"
out=$(openssl crl -in "$TMP/crl2.pem" -CAfile "$CACERT" -noout 2>&1 || true)
check_eq "$out" "verify OK" "the new CRL verifies against the CA"
# shellcheck disable=SC2034 # used in a check condition
crl_text=$(openssl crl -in "$TMP/crl2.pem" -noout -text)
serial_a_uc=$(openssl x509 -in "$TMP/a.1.pem" -noout -serial | cut -d = -f 2)
check '[[ "$crl_text" == *"Serial Number: $serial_a_uc"* ]]' "the served CRL lists (a)'s serial $serial_a_uc"
crl_number=$(openssl crl -in "$TMP/crl2.pem" -noout -crlnumber | cut -d = -f 2 | sed 's/^0x//')
check_eq "$((16#${crl_number:-0}))" 2 "the new CRL has number 2 (the first was 1)"
out=$(openssl verify -crl_check -CAfile "$CACERT" -CRLfile "$TMP/crl2.pem" "$TMP/a.1.pem" 2>&1 || true)
check '[[ "$out" == *"certificate revoked"* ]]' "openssl verify -crl_check now fails for (a): ${out//$'\n'/ }"
for who in b c d; do
    cert=$TMP/$who.1.pem
    [ -f "$cert" ] || cert=$TMP/$who/node.crt
    out=$(openssl verify -crl_check -CAfile "$CACERT" -CRLfile "$TMP/crl2.pem" "$cert" 2>&1 || true)
    check_eq "$out" "$cert: OK" "openssl verify -crl_check still passes for ($who)"
done
"$CORDON_ENROLL" list --dir "$OV" >"$TMP/list2"
check 'grep "\"node\":\"$ID_A\"" "$TMP/list2" | grep -q "\"revoked\":true"' "cordon-enroll list marks (a) revoked"
check_eq "$(grep -c '"revoked":false' "$TMP/list2")" 3 "cordon-enroll list shows the other three not revoked"
rc=0
"$CORDON_ENROLL" revoke --dir "$OV" --node "$ID_A" >"$TMP/revoke2.out" 2>&1 || rc=$?
check '[ "$rc" = 0 ] && grep -q "already revoked" "$TMP/revoke2.out"' "revoking (a) again says it already is"
rc=0
"$CORDON_ENROLL" revoke --dir "$OV" --node "$(random_hex 32)" >"$TMP/revoke3.out" 2>&1 || rc=$?
check '[ "$rc" != 0 ] && grep -q "no node" "$TMP/revoke3.out"' \
    "revoking an unknown node fails clearly: $(head -n 1 "$TMP/revoke3.out")"

# ---- /metrics -----------------------------------------------------------------------------------------------

code=$(http "$TMP/metrics" GET /metrics)
check_eq "$code" 200 "GET /metrics answers 200"
check '[[ "$(content_type "$TMP/metrics")" == "text/plain; version=0.0.4"* ]]' \
    "/metrics is Prometheus text (text/plain; version=0.0.4)"
bad=$(awk '
    /^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* / { next }
    /^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$/ { typed[$3] = 1; next }
    /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? [-+0-9.eE]+$/ {
        name = $1; sub(/\{.*/, "", name); base = name; sub(/_(bucket|sum|count)$/, "", base)
        if (!(name in typed) && !(base in typed)) print "untyped: " $0
        next }
    { print "bad line: " $0 }' "$TMP/metrics")
check_eq "$bad" "" "every /metrics line is a HELP, a TYPE, or a typed sample"
m() { awk -v name="$1" '$1 == name { print $2 }' "$TMP/metrics"; }
check_eq "$(m 'cordon_enroll_enrollments_total{outcome="issued"}')" 4 "metrics: 4 enrollments issued"
check_eq "$(m 'cordon_enroll_enrollments_total{outcome="unauthorized"}')" 1 "metrics: 1 enrollment refused as unauthorized"
check_eq "$(m cordon_enroll_certificates)" 4 "metrics: 4 certificates in the database"
check_eq "$(m cordon_enroll_revocations)" 1 "metrics: 1 revocation"
check_eq "$(m cordon_enroll_crl_number)" 2 "metrics: CRL number 2 being served"
check_eq "$(m cordon_enroll_tokens)" 1 "metrics: 1 token"
check '[ "$(m cordon_enroll_http_requests_total)" -ge 15 ]' \
    "metrics: HTTP requests counted ($(m cordon_enroll_http_requests_total))"
check_eq "$(m 'cordon_enroll_request_duration_seconds_bucket{le="+Inf"}')" \
    "$(m cordon_enroll_request_duration_seconds_count)" "metrics: the latency histogram's +Inf bucket equals its count"
check_eq "$(m cordon_enroll_slow_clients_cut_total)" 0 "metrics: no slow client cut"

# ---- stop, then the audit log and the token's secrecy ---------------------------------------------------------

stop_server

AUDIT=$OV/audit.log
check_eq "$(grep -c '"event":"enroll","outcome":"issued"' "$AUDIT")" 4 "audit log: 4 issued lines"
for id in $ALL_IDS; do
    check 'grep "\"outcome\":\"issued\"" "$AUDIT" | grep -q "\"node\":\"$id\""' "audit log: issuance of $id"
done
check 'grep "\"outcome\":\"issued\"" "$AUDIT" | grep -q "\"source\":\"127.0.0.1\""' "audit log: issued lines name the source address"
check 'grep -q "\"event\":\"enroll\",\"outcome\":\"unauthorized\".*unknown enrollment token" "$AUDIT"' \
    "audit log: the refused enrollment (unknown token)"
check 'grep -q "\"event\":\"revoke\",\"outcome\":\"revoked\",\"node\":\"$ID_A\"" "$AUDIT"' \
    "audit log: the revocation of (a)"
check '! grep -qvE "^\{\"ts\":\"[0-9T:-]+Z\",.*\}$" "$AUDIT"' "audit log: every line is a timestamped JSON object"

leaks=""
for secret in "$TOKEN" "${TOKEN#cdt_}" "$BAD_TOKEN" "${BAD_TOKEN#cdt_}"; do
    for f in "$OV"/* "$TMP"/server.*.log "$TMP"/c/* "$TMP"/d/* "$TMP"/*.out "$TMP"/*.err; do
        [ -f "$f" ] || continue
        if grep -aqF "$secret" "$f"; then leaks="$leaks $(basename "$f")"; fi
    done
done
check_eq "$leaks" "" "no token text in the audit log, the database, the server's output or the peers' files"

pass
