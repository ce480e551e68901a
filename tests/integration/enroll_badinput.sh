#!/usr/bin/env bash
# tests/integration/enroll_badinput.sh — hostile and broken input against a running server.
#
# Every bad request gets its documented status and a JSON {"error": "..."} body: malformed,
# forged (flipped signature byte), truncated, oversized and RSA CSRs; a missing, malformed,
# unknown, expired or exhausted token; a wrong method, path or content type. A client that
# trickles its request one byte a second is cut off at --request-timeout; idle connections
# do not keep a legitimate client out for longer than that; plain HTTP on the TLS port fails
# cleanly. Throughout, the server keeps serving: a good enrollment succeeds at the end and
# the process is the one that started, still alive.
# check's condition is evaluated when check runs, so it is written in single quotes:
# shellcheck disable=SC2016
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

OV=$TMP/overlay
CACERT=$OV/ca.crt
REQUEST_TIMEOUT=3

"$CORDON_ENROLL" init --dir "$OV" --overlay badinput >/dev/null
TOKEN=$("$CORDON_ENROLL" token --dir "$OV" --max-nodes 100 --label good)
ONE=$("$CORDON_ENROLL" token --dir "$OV" --max-nodes 1 --label single)
SHORT=$("$CORDON_ENROLL" token --dir "$OV" --max-nodes 5 --ttl 1 --label shortlived)
SHORT_MINTED=$SECONDS

# Rate limits raised: this script sends many requests from one address on purpose.
start_server "$OV" --request-timeout "$REQUEST_TIMEOUT" \
    --source-rate 1000 --source-burst 1000 --token-rate 1000 --token-burst 1000
FIRST_PID=$SERVER_PID

# post NAME TOKEN|- CONTENT_TYPE|- BODYFILE [curl args...]: POST /v1/enroll; prints the status.
post() {
    local name=$1 token=$2 type=$3 body=$4
    shift 4
    local args=()
    [ "$token" = - ] || args+=(-H "Authorization: Bearer $token")
    [ "$type" = - ] || args+=(-H "Content-Type: $type")
    http "$TMP/$name.out" POST /v1/enroll "${args[@]}" --data-binary "@$body" "$@"
}

# expect NAME STATUS DESCRIPTION MESSAGE_FRAGMENT GOT: the answer to request NAME had status
# GOT, which must be STATUS, and a JSON error body containing MESSAGE_FRAGMENT (if not "").
expect() {
    local name=$1 want=$2 what=$3 fragment=$4 got=$5
    check_eq "$got" "$want" "$what: $want"
    local body
    body=$(head -c 300 "$TMP/$name.out" 2>/dev/null || true)
    check 'is_json_error "$TMP/$name.out" && [ "$(content_type "$TMP/$name.out")" = application/json ]' \
        "$what: the body is a JSON error: $body"
    if [ -n "$fragment" ]; then
        check '[[ "$body" == *"$fragment"* ]]' "$what: the error says '$fragment'"
    fi
}

make_csr p256 "$TMP/good.key" "$TMP/good.csr" -subj /CN=good
openssl req -in "$TMP/good.csr" -outform DER -out "$TMP/good.der"

# ---- bodies --------------------------------------------------------------------------------------------

printf 'this is not a certificate request\n%.0s' {1..5} >"$TMP/garbage"
code=$(post garbage "$TOKEN" application/pkcs10 "$TMP/garbage")
expect garbage 400 "a garbage body" "not a PKCS#10 CSR" "$code"

# The DER CSR with one byte of its signature flipped: still well-formed DER, but forged.
size=$(stat -c %s "$TMP/good.der")
cp "$TMP/good.der" "$TMP/flipped.der"
last=$(od -An -tu1 -j $((size - 2)) -N 1 "$TMP/good.der" | tr -d ' ')
printf '%b' "\\x$(printf '%02x' $((last ^ 0x55)))" |
    dd of="$TMP/flipped.der" bs=1 seek=$((size - 2)) conv=notrunc status=none
check '! cmp -s "$TMP/good.der" "$TMP/flipped.der" && [ "$(stat -c %s "$TMP/flipped.der")" = "$size" ]' \
    "(setup) flipped one byte near the end of the DER CSR"
# (openssl req -verify exits 0 either way: read what it says.)
verdict=$(openssl req -in "$TMP/flipped.der" -inform DER -noout -verify 2>&1 || true)
check '[[ "$verdict" == *"verify failure"* ]]' \
    "(setup) openssl parses the flipped CSR and finds its signature bad: $verdict"
verdict=$(openssl req -in "$TMP/good.der" -inform DER -noout -verify 2>&1 || true)
check '[[ "$verdict" == *"verify OK"* ]]' "(setup) the original's signature is good: $verdict"
code=$(post flipped "$TOKEN" application/pkcs10 "$TMP/flipped.der")
expect flipped 400 "a DER CSR with a flipped signature byte" "signature does not verify" "$code"

code=$(post goodder "$TOKEN" application/pkcs10 "$TMP/good.der")
check_eq "$code" 201 "(control) the unflipped DER CSR is accepted: 201"

head -c $((size / 2)) "$TMP/good.der" >"$TMP/truncated.der"
code=$(post truncated "$TOKEN" application/pkcs10 "$TMP/truncated.der")
expect truncated 400 "a truncated DER CSR" "not a PKCS#10 CSR" "$code"
head -n 4 "$TMP/good.csr" >"$TMP/truncated.pem"
code=$(post truncatedpem "$TOKEN" application/pkcs10 "$TMP/truncated.pem")
expect truncatedpem 400 "a truncated PEM CSR" "" "$code"

: >"$TMP/empty"
code=$(post empty "$TOKEN" application/pkcs10 "$TMP/empty")
expect empty 400 "an empty body" "empty body" "$code"

head -c 20480 /dev/zero | tr '\0' 'A' >"$TMP/big"
code=$(post big "$TOKEN" application/pkcs10 "$TMP/big")
expect big 413 "a 20 KB body" "too large" "$code"
code=$(post bigchunked "$TOKEN" application/pkcs10 "$TMP/big" -H 'Transfer-Encoding: chunked')
expect bigchunked 413 "a 20 KB body sent chunked (no Content-Length)" "too large" "$code"

make_csr rsa "$TMP/rsa.key" "$TMP/rsa.csr" -subj /CN=rsa
code=$(post rsa "$TOKEN" application/pkcs10 "$TMP/rsa.csr")
expect rsa 400 "an RSA CSR" "key type" "$code"
openssl ecparam -name secp384r1 -genkey -noout -out "$TMP/p384.key" 2>/dev/null
openssl req -new -key "$TMP/p384.key" -subj /CN=p384 -out "$TMP/p384.csr"
code=$(post p384 "$TOKEN" application/pkcs10 "$TMP/p384.csr")
expect p384 400 "a P-384 CSR" "key type" "$code"

# ---- tokens --------------------------------------------------------------------------------------------------

code=$(post noauth - application/pkcs10 "$TMP/good.csr")
expect noauth 401 "no Authorization header" "missing Authorization" "$code"
code=$(post malformed "not-a-token" application/pkcs10 "$TMP/good.csr")
expect malformed 401 "a malformed token" "malformed token" "$code"
code=$(post shorttok "cdt_0123" application/pkcs10 "$TMP/good.csr")
expect shorttok 401 "a token too short" "malformed token" "$code"
code=$(http "$TMP/basic.out" POST /v1/enroll -H "Authorization: Basic dXNlcjpwYXNz" \
    -H 'Content-Type: application/pkcs10' --data-binary "@$TMP/good.csr")
expect basic 401 "Basic instead of Bearer" "malformed token" "$code"
code=$(post unknown "cdt_$(random_hex 32)" application/pkcs10 "$TMP/good.csr")
expect unknown 401 "an unknown well-formed token" "unknown enrollment token" "$code"

# Expired: minted with --ttl 1; wait until at least 2 s have passed since.
while [ $((SECONDS - SHORT_MINTED)) -lt 3 ]; do sleep 0.5; done
code=$(post expired "$SHORT" application/pkcs10 "$TMP/good.csr")
expect expired 403 "an expired token (--ttl 1, 2 s later)" "expired" "$code"

code=$(post firstuse "$ONE" application/pkcs10 "$TMP/good.csr")
check_eq "$code" 201 "(control) a --max-nodes 1 token enrolls once: 201"
code=$(post exhausted "$ONE" application/pkcs10 "$TMP/good.csr")
expect exhausted 403 "the same token a second time (exhausted)" "no node enrollments left" "$code"

# ---- methods, paths, content types ----------------------------------------------------------------------------

code=$(http "$TMP/get_enroll.out" GET /v1/enroll)
expect get_enroll 405 "GET /v1/enroll" "method not allowed" "$code"
code=$(http "$TMP/put_enroll.out" PUT /v1/enroll -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/pkcs10' --data-binary "@$TMP/good.csr")
expect put_enroll 405 "PUT /v1/enroll" "method not allowed" "$code"
code=$(http "$TMP/delete_ca.out" DELETE /v1/ca)
expect delete_ca 405 "DELETE /v1/ca" "method not allowed" "$code"
code=$(http "$TMP/post_crl.out" POST /v1/crl --data-binary x)
expect post_crl 405 "POST /v1/crl" "method not allowed" "$code"
for path in /v1/nothing / /v1/enroll/ /v1/ca/../ca.key /V1/CA; do
    code=$(http "$TMP/notfound.out" GET "$path" --path-as-is)
    expect notfound 404 "GET $path" "no such endpoint" "$code"
done
code=$(post json "$TOKEN" application/json "$TMP/good.csr")
expect json 415 "Content-Type: application/json" "content type" "$code"
code=$(post form "$TOKEN" application/x-www-form-urlencoded "$TMP/good.csr")
expect form 415 "Content-Type: application/x-www-form-urlencoded" "content type" "$code"

# ---- a client that trickles its request -----------------------------------------------------------------------

cut_before=$(metric cordon_enroll_slow_clients_cut_total)
check_eq "$cut_before" 0 "no slow client cut so far"
# One byte a second, 24 bytes at most: a whole request would take over 60 s.
trickle() {
    local req i
    req=$'POST /v1/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/pkcs10\r\n'
    for ((i = 0; i < 24; i++)); do
        printf '%s' "${req:i:1}" || return 0
        sleep 1
    done
}
t0=$(date +%s%N)
trickle | {
    timeout 40 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CACERT" \
        -verify_return_error -quiet >"$TMP/slow.out" 2>"$TMP/slow.err" || true
    date +%s%N >"$TMP/slow.end" # when s_client saw the connection end
} || true # the trickle dies of SIGPIPE once s_client is gone
took_ms=$((($(<"$TMP/slow.end") - t0) / 1000000))
# The deadline runs from the connection's start and is checked every 250 ms; the upper
# bound leaves room for a loaded machine and is still far below the 24 s of the trickle.
check '[ "$took_ms" -ge $((REQUEST_TIMEOUT * 1000 - 500)) ] && [ "$took_ms" -le $((REQUEST_TIMEOUT * 1000 + 6000)) ]' \
    "a client trickling a byte a second is cut after about --request-timeout $REQUEST_TIMEOUT s (s_client ended after ${took_ms} ms; the trickle lasts 24 s)"
check '! grep -q "HTTP/1" "$TMP/slow.out"' "the trickling client got no answer"
check '! grep -q "verify error" "$TMP/slow.err"' "(setup) the trickling client had a verified TLS connection"
cut_after=$(metric cordon_enroll_slow_clients_cut_total)
check '[ "${cut_after:-0}" -ge 1 ]' "metrics: cordon_enroll_slow_clients_cut_total >= 1 (is $cut_after)"
check 'grep -q "event=http.slow_client_cut" "$SERVER_LOG"' "the server logged the cut"

# ---- connections that send nothing -----------------------------------------------------------------------------

# hold_idle N: opens N TCP connections that never send a byte; their descriptors are in IDLE.
IDLE=()
hold_idle() {
    local i fd
    for ((i = 0; i < $1; i++)); do
        if exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"; then IDLE+=("$fd"); fi
    done 2>/dev/null
}
release_idle() {
    local fd
    for fd in "${IDLE[@]}"; do
        exec {fd}>&-
    done
    IDLE=()
}

# Fewer than one address may hold (64): the enrollment goes through on its first try while
# they are all still held (none was cut yet: the slow-client counter did not move). The idle
# connections are cut REQUEST_TIMEOUT after they opened: on a machine so loaded that opening
# them and enrolling took longer than that, the round proves nothing and is run again (at
# most 3 rounds, each with a new CSR and fresh connections).
for round in 1 2 3; do
    make_csr p256 "$TMP/idle$round.key" "$TMP/idle$round.csr" -subj "/CN=idle$round"
    cut_before=$(metric cordon_enroll_slow_clients_cut_total)
    t_open=$(date +%s%N)
    hold_idle 40
    t0=$(date +%s%N)
    code=$(post "idle$round" "$TOKEN" application/pkcs10 "$TMP/idle$round.csr")
    took_ms=$((($(date +%s%N) - t0) / 1000000))
    cut_now=$(metric cordon_enroll_slow_clients_cut_total)
    held_ms=$((($(date +%s%N) - t_open) / 1000000))
    [ "$held_ms" -lt $((REQUEST_TIMEOUT * 1000 - 250)) ] && break
    release_idle
    sleep $((REQUEST_TIMEOUT + 1)) # the connections just closed are cut or gone by then
done
check_eq "${#IDLE[@]}" 40 "(setup) 40 idle connections open (round $round, held ${held_ms} ms)"
check '[ "$code" = 201 ] && [ "$cut_now" = "$cut_before" ]' \
    "with 40 idle connections held, an enrollment succeeds on its first try, before any is cut ($code in ${took_ms} ms; cut $cut_before -> $cut_now)"
release_idle

# More idle connections than one address may hold (64): the legitimate client shares the
# address here, so it may be refused at first, but not for longer than the request deadline
# that cuts the idle connections.
make_csr p256 "$TMP/idle2.key" "$TMP/idle2.csr" -subj /CN=idle2
hold_idle 80
ok "(setup) opened ${#IDLE[@]} idle connections"
t0=$(date +%s%N)
code=000
for ((try = 0; try < 40; try++)); do
    code=$(post idle2 "$TOKEN" application/pkcs10 "$TMP/idle2.csr" --max-time 5)
    [ "$code" = 201 ] && break
    sleep 0.25
done
took_ms=$((($(date +%s%N) - t0) / 1000000))
check '[ "$code" = 201 ] && [ "$took_ms" -le $((REQUEST_TIMEOUT * 1000 + 6000)) ]' \
    "with 80 idle connections from its own address, an enrollment gets through within --request-timeout + 6 s ($code after ${took_ms} ms, $try retries)"
# The client may get through as soon as the first held connections are cut; the others,
# opened a little later, reach their deadline a little later (more so on a loaded machine).
for ((t = 0; t < (REQUEST_TIMEOUT + 10) * 10; t++)); do
    cut_now=$(metric cordon_enroll_slow_clients_cut_total)
    [ "$cut_now" -ge $((cut_before + 64)) ] && break
    sleep 0.1
done
check '[ "$cut_now" -ge $((cut_before + 64)) ]' \
    "the idle connections were cut at the request deadline (cut counter $cut_before -> $cut_now)"
release_idle
check 'server_alive' "the server survived the idle connections"

# ---- plain HTTP on the TLS port -----------------------------------------------------------------------------------

rc=0
out=$(curl -sS --max-time 10 "http://127.0.0.1:$PORT/v1/ca" 2>&1) || rc=$?
check '[ "$rc" != 0 ] && [[ "$out" != *"BEGIN CERTIFICATE"* ]]' \
    "plain HTTP to the HTTPS port gets no answer (curl exit $rc: $out)"
rc=0
out=$(printf 'GET /v1/ca HTTP/1.0\r\n\r\n' | timeout 10 bash -c \
    "exec 3<>/dev/tcp/127.0.0.1/$PORT; cat >&3; cat <&3" 2>&1) || rc=$?
check '[ "$rc" != 124 ] && [[ "$out" != *"BEGIN CERTIFICATE"* ]]' \
    "a raw plain-text request is closed promptly, not answered (exit $rc)"
code=$(http "$TMP/ca_after.out" GET /v1/ca)
check '[ "$code" = 200 ] && cmp -s "$TMP/ca_after.out" "$CACERT"' "HTTPS still answers after plain HTTP ($code)"

# ---- still serving -----------------------------------------------------------------------------------------------

check 'server_alive && [ "$SERVER_PID" = "$FIRST_PID" ]' "the server process (pid $FIRST_PID) is alive and was never restarted"
make_csr p256 "$TMP/final.key" "$TMP/final.csr" -subj /CN=final
code=$(post final "$TOKEN" application/pkcs10 "$TMP/final.csr")
check_eq "$code" 201 "a good enrollment succeeds at the end"
if [ "$code" = 201 ]; then
    openssl x509 -in "$TMP/final.out" -out "$TMP/final.crt"
    out=$(openssl verify -CAfile "$CACERT" "$TMP/final.crt" 2>&1 || true)
    check_eq "$out" "$TMP/final.crt: OK" "its certificate verifies"
fi

m() { metric "cordon_enroll_enrollments_total{outcome=\"$1\"}"; }
check '[ "$(m bad_request)" -ge 6 ]' "metrics count bad requests ($(m bad_request))"
check '[ "$(m unauthorized)" -ge 5 ]' "metrics count unauthorized requests ($(m unauthorized))"
check '[ "$(m forbidden)" -ge 2 ]' "metrics count forbidden requests ($(m forbidden))"
check '[ "$(m too_large)" -ge 2 ]' "metrics count too-large requests ($(m too_large))"
check '[ "$(m unsupported_media_type)" -ge 2 ]' "metrics count unsupported media types ($(m unsupported_media_type))"
check '[ "$(m error)" = 0 ]' "metrics: no internal errors ($(m error))"
check '! grep -qE "level=(error|fatal)" "$SERVER_LOG"' "the server logged no error"

stop_server
check 'grep -q "\"outcome\":\"bad_request\"" "$OV/audit.log" && grep -q "\"outcome\":\"too_large\"" "$OV/audit.log"' \
    "the audit log records the refused requests"
leaks=""
for f in "$OV"/* "$SERVER_LOG"; do
    if grep -aqF -e "$TOKEN" -e "$ONE" -e "$SHORT" -e "${TOKEN#cdt_}" "$f"; then leaks="$leaks $(basename "$f")"; fi
done
check_eq "$leaks" "" "no token text in the overlay directory or the server's output"

pass
