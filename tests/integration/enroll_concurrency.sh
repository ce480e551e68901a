#!/usr/bin/env bash
# tests/integration/enroll_concurrency.sh — the node quota and the rate limits under load.
#
# 1. Quota: a token good for 20 nodes, 50 enrollments at once (50 curl processes released
#    together). Exactly 20 are issued and 30 refused with 403 and a JSON error; the database
#    lists exactly 20 distinct nodes; the 20 certificates verify and each certifies the key
#    of the CSR that asked for it; the audit log has 20 issued lines.
# 2. Source rate: --source-rate 1 --source-burst 3; 10 enrollments at once from 127.0.0.1
#    (10 TLS connections opened first, then the 10 requests written together) get at least 6
#    answers 429 with a JSON error, the rest 201; the limit refills.
# 3. Token rate: --token-rate 1 --token-burst 2 (source limit raised); 8 enrollments at once
#    with one token get at least 5 answers 429, the rest 201.
# check's condition is evaluated when check runs, so it is written in single quotes:
# shellcheck disable=SC2016
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

OV=$TMP/overlay
CACERT=$OV/ca.crt
PARALLEL=50
QUOTA=20

# burst N TOKEN PREFIX: posts CSR PREFIX.I.csr (I = 1..N) with N background curl processes
# released together; writes PREFIX.I.code and PREFIX.I.body. Every curl is bounded by
# --max-time; the release waits at most 10 s.
burst() {
    local n=$1 token=$2 prefix=$3 i
    local go=$prefix.go
    local pids=()
    rm -f "$go"
    for ((i = 1; i <= n; i++)); do
        (
            for ((w = 0; w < 200; w++)); do
                [ -e "$go" ] && break
                sleep 0.05
            done
            curl -sS --max-time 60 --cacert "$CACERT" -o "$prefix.$i.body" -w '%{http_code}' \
                -H "Authorization: Bearer $token" -H 'Content-Type: application/pkcs10' \
                --data-binary "@$prefix.$i.csr" "https://127.0.0.1:$PORT/v1/enroll" \
                >"$prefix.$i.code" 2>"$prefix.$i.err" || true
        ) &
        pids+=($!)
    done
    sleep 0.3 # let every job reach its wait
    touch "$go"
    for i in "${pids[@]}"; do
        wait "$i" || true
    done
}

# quick_burst N TOKEN PREFIX: like burst, but for measuring rate limits: the N TLS
# connections (openssl s_client, each reading its request from a FIFO) are all established
# first, and only then are the N requests written, so that the server sees them within a few
# milliseconds however long the handshakes took on a loaded machine. Bounded: the handshakes
# are awaited at most 30 s, each s_client lives at most 60 s.
quick_burst() {
    local n=$1 token=$2 prefix=$3 i w up
    local pids=()
    for ((i = 1; i <= n; i++)); do
        {
            printf 'POST /v1/enroll HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nAuthorization: Bearer %s\r\n' \
                "$PORT" "$token"
            printf 'Content-Type: application/pkcs10\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' \
                "$(stat -c %s "$prefix.$i.csr")"
            cat "$prefix.$i.csr"
        } >"$prefix.$i.req"
        rm -f "$prefix.$i.fifo"
        mkfifo "$prefix.$i.fifo"
        # Read-write open of the FIFO: it does not wait for a writer, and never sees EOF.
        timeout 60 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CACERT" \
            -verify_return_error -quiet <>"$prefix.$i.fifo" >"$prefix.$i.resp" 2>"$prefix.$i.tls" &
        pids+=($!)
    done
    for ((w = 0; w < 300; w++)); do
        up=0
        for ((i = 1; i <= n; i++)); do
            if grep -q '^depth=0' "$prefix.$i.tls" 2>/dev/null; then up=$((up + 1)); fi
        done
        [ "$up" -lt "$n" ] || break
        sleep 0.1
    done
    sleep 0.2 # the last handshake's final flight
    for ((i = 1; i <= n; i++)); do
        cat "$prefix.$i.req" >"$prefix.$i.fifo"
    done
    for i in "${pids[@]}"; do
        wait "$i" || true
    done
    for ((i = 1; i <= n; i++)); do
        head -n 1 "$prefix.$i.resp" | cut -d ' ' -f 2 | tr -d '\r\n' >"$prefix.$i.code" || true
        sed '1,/^\r$/d' "$prefix.$i.resp" >"$prefix.$i.body"
    done
    echo "$up"
}

# count_codes PREFIX N CODE: how many of PREFIX.1..N.code hold CODE.
count_codes() {
    local prefix=$1 n=$2 code=$3 i c=0
    for ((i = 1; i <= n; i++)); do
        if [ -f "$prefix.$i.code" ] && [ "$(<"$prefix.$i.code")" = "$code" ]; then c=$((c + 1)); fi
    done
    echo "$c"
}

# codes_seen PREFIX N: a summary such as "20x201 30x403".
codes_seen() {
    local prefix=$1 n=$2 i
    for ((i = 1; i <= n; i++)); do
        cat "$prefix.$i.code" 2>/dev/null || echo none
        echo
    done | grep . | sort | uniq -c | awk '{ printf "%s%sx%s", sep, $1, $2; sep = " " }'
}

make_csrs() { # N PREFIX
    local i
    for ((i = 1; i <= $1; i++)); do
        make_csr p256 "$2.$i.key" "$2.$i.csr" -subj "/CN=node$i"
    done
}

"$CORDON_ENROLL" init --dir "$OV" --overlay loadtest >/dev/null

# ---- 1. the node quota holds under 50 concurrent enrollments ----------------------------------------

TOKEN=$("$CORDON_ENROLL" token --dir "$OV" --max-nodes "$QUOTA" --label quota20)
Q=$TMP/q
make_csrs "$PARALLEL" "$Q"
start_server "$OV" --source-rate 1000 --source-burst 1000 --token-rate 1000 --token-burst 1000

start_s=$SECONDS
burst "$PARALLEL" "$TOKEN" "$Q"
ok "$PARALLEL concurrent enrollments finished in $((SECONDS - start_s)) s: $(codes_seen "$Q" "$PARALLEL")"
check_eq "$(count_codes "$Q" "$PARALLEL" 201)" "$QUOTA" "exactly $QUOTA answered 201"
check_eq "$(count_codes "$Q" "$PARALLEL" 403)" $((PARALLEL - QUOTA)) "exactly $((PARALLEL - QUOTA)) answered 403"

bad_403=0
issued_ids=()
bad_certs=0
for ((i = 1; i <= PARALLEL; i++)); do
    case $(<"$Q.$i.code") in
        403)
            if ! is_json_error "$Q.$i.body" || ! grep -q "no node enrollments left" "$Q.$i.body"; then
                bad_403=$((bad_403 + 1))
                echo "    request $i: 403 body: $(head -c 200 "$Q.$i.body")"
            fi
            ;;
        201)
            openssl x509 -in "$Q.$i.body" -out "$Q.$i.crt"
            if [ "$(openssl verify -CAfile "$CACERT" "$Q.$i.crt" 2>&1)" != "$Q.$i.crt: OK" ] ||
                ! same_public_key "$Q.$i.crt" "$Q.$i.key"; then
                bad_certs=$((bad_certs + 1))
            fi
            issued_ids+=("$(node_id_of "$Q.$i.crt")")
            ;;
    esac
done
check_eq "$bad_403" 0 "every 403 carries the JSON error 'enrollment token has no node enrollments left'"
check_eq "$bad_certs" 0 "the $QUOTA returned certificates verify against the CA and certify their CSR's key"
issued_sorted=$(printf '%s\n' "${issued_ids[@]}" | grep -E '^[0-9a-f]{64}$' | sort -u || true)
check_eq "$(grep -c . <<<"$issued_sorted" || true)" "$QUOTA" "the $QUOTA certificates carry $QUOTA distinct node IDs"

"$CORDON_ENROLL" list --dir "$OV" >"$TMP/list"
check_eq "$(grep -c . "$TMP/list" || true)" "$QUOTA" "cordon-enroll list has exactly $QUOTA lines"
listed=$(grep -oE '^\{"node":"[0-9a-f]{64}"' "$TMP/list" | cut -d '"' -f 4 | sort -u || true)
check_eq "$(grep -c . <<<"$listed" || true)" "$QUOTA" "cordon-enroll list has $QUOTA distinct node IDs"
check_eq "$listed" "$issued_sorted" "the listed node IDs are exactly those of the certificates returned"

check_eq "$(metric 'cordon_enroll_enrollments_total{outcome="issued"}')" "$QUOTA" "metrics: $QUOTA issued"
check_eq "$(metric 'cordon_enroll_enrollments_total{outcome="forbidden"}')" $((PARALLEL - QUOTA)) \
    "metrics: $((PARALLEL - QUOTA)) forbidden"
check_eq "$(metric cordon_enroll_certificates)" "$QUOTA" "metrics: $QUOTA certificates in the database"
stop_server

AUDIT=$OV/audit.log
check_eq "$(grep -c '"event":"enroll","outcome":"issued"' "$AUDIT" || true)" "$QUOTA" "the audit log has $QUOTA issued lines"
check_eq "$(grep -c '"event":"enroll","outcome":"forbidden"' "$AUDIT" || true)" $((PARALLEL - QUOTA)) \
    "the audit log has $((PARALLEL - QUOTA)) forbidden lines"
audited=$(grep '"outcome":"issued"' "$AUDIT" | grep -oE '"node":"[0-9a-f]{64}"' | cut -d '"' -f 4 | sort -u || true)
check_eq "$audited" "$issued_sorted" "the audit log's issued node IDs are those of the certificates returned"

# ---- 2. the per-source rate limit --------------------------------------------------------------------------

TOKEN2=$("$CORDON_ENROLL" token --dir "$OV" --max-nodes 100 --label rate)
R=$TMP/r
N_RATE=10
make_csrs "$N_RATE" "$R"
start_server "$OV" --source-rate 1 --source-burst 3 --token-rate 1000 --token-burst 1000
up=$(quick_burst "$N_RATE" "$TOKEN2" "$R")
check_eq "$up" "$N_RATE" "(setup) $N_RATE TLS connections established before the requests are sent"
limited=$(count_codes "$R" "$N_RATE" 429)
issued=$(count_codes "$R" "$N_RATE" 201)
check '[ "$limited" -ge 6 ]' "with --source-rate 1 --source-burst 3, at least 6 of $N_RATE quick requests get 429 ($(codes_seen "$R" "$N_RATE"))"
check_eq $((limited + issued)) "$N_RATE" "every other request was issued (201)"
bad=0
for ((i = 1; i <= N_RATE; i++)); do
    if [ "$(<"$R.$i.code")" = 429 ] &&
        { ! is_json_error "$R.$i.body" || ! grep -q "too many enrollment requests from this address" "$R.$i.body"; }; then
        bad=$((bad + 1))
    fi
done
check_eq "$bad" 0 "every 429 carries a JSON error naming the address limit"
check_eq "$(metric 'cordon_enroll_enrollments_total{outcome="rate_limited"}')" "$limited" \
    "metrics: $limited rate-limited"
# The bucket refills at 1/s: after 2 s one more enrollment goes through.
sleep 2
make_csr p256 "$R.late.key" "$R.late.csr" -subj /CN=late
code=$(http "$R.late.body" POST /v1/enroll -H "Authorization: Bearer $TOKEN2" \
    -H 'Content-Type: application/pkcs10' --data-binary "@$R.late.csr")
check_eq "$code" 201 "after 2 s the address may enroll again (the limit is a rate, not a ban)"
stop_server

# ---- 3. the per-token rate limit ----------------------------------------------------------------------------

TOKEN3=$("$CORDON_ENROLL" token --dir "$OV" --max-nodes 100 --label tokenrate)
T=$TMP/t
N_TOK=8
make_csrs "$N_TOK" "$T"
start_server "$OV" --source-rate 1000 --source-burst 1000 --token-rate 1 --token-burst 2
up=$(quick_burst "$N_TOK" "$TOKEN3" "$T")
check_eq "$up" "$N_TOK" "(setup) $N_TOK TLS connections established before the requests are sent"
limited=$(count_codes "$T" "$N_TOK" 429)
issued=$(count_codes "$T" "$N_TOK" 201)
check '[ "$limited" -ge 5 ]' "with --token-rate 1 --token-burst 2, at least 5 of $N_TOK quick requests with one token get 429 ($(codes_seen "$T" "$N_TOK"))"
check_eq $((limited + issued)) "$N_TOK" "every other request was issued (201)"
bad=0
for ((i = 1; i <= N_TOK; i++)); do
    if [ "$(<"$T.$i.code")" = 429 ] &&
        { ! is_json_error "$T.$i.body" || ! grep -q "too many enrollments with this token" "$T.$i.body"; }; then
        bad=$((bad + 1))
    fi
done
check_eq "$bad" 0 "every 429 carries a JSON error naming the token limit"
stop_server

"$CORDON_ENROLL" list --dir "$OV" >"$TMP/list.all"
check_eq "$(grep -c . "$TMP/list.all" || true)" "$(grep -c '"outcome":"issued"' "$AUDIT" || true)" \
    "in the end, every node in the database has its issued line in the audit log"

pass
