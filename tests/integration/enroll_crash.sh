#!/usr/bin/env bash
# enroll_crash.sh — a kill at any moment leaves no half-done issuance.
#
# The server is SIGKILLed while 24 clients enroll as fast as they can against a token with
# quota 60. After a restart: every certificate that was answered is recorded; node IDs and
# serials never repeat; the quota holds exactly (enrolling until refusal yields exactly 60
# certificates in all, never more); the signer died with the server; the audit log's
# "issued" lines name only recorded nodes.
# shellcheck source=lib.sh
# shellcheck disable=SC2016
. "$(dirname "$0")/lib.sh"

QUOTA=60
WORKERS=24
ROUNDS=8

"$CORDON_ENROLL" init --dir "$TMP/ca" --overlay crash >/dev/null
CACERT="$TMP/ca/ca.crt"
TOKEN=$("$CORDON_ENROLL" token --dir "$TMP/ca" --max-nodes "$QUOTA" --ttl 3600 --label crash)
make_csr p256 "$TMP/node.key" "$TMP/node.csr" -subj /CN=crash
mkdir -p "$TMP/answers"

limits=(--source-rate 100000 --source-burst 100000 --token-rate 100000 --token-burst 100000)
start_server "$TMP/ca" "${limits[@]}"
signer=$(ps -o pid= --ppid "$SERVER_PID" | tr -d ' ')

# worker W: up to ROUNDS enrollments, each answer kept as answers/W.R.{code,pem}.
worker() {
    local w=$1 r
    for ((r = 0; r < ROUNDS; r++)); do
        curl -sS --max-time 5 --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" \
            -H 'Content-Type: application/pkcs10' --data-binary "@$TMP/node.csr" \
            -o "$TMP/answers/$w.$r.pem" -w '%{http_code}' \
            "https://127.0.0.1:$PORT/v1/enroll" >"$TMP/answers/$w.$r.code" 2>/dev/null || true
    done
}
pids=()
for ((w = 0; w < WORKERS; w++)); do
    worker "$w" &
    pids+=($!)
done

# Kill in the middle of the traffic: once a few certificates have been answered.
for ((i = 0; i < 200; i++)); do
    n=$(grep -l '^201$' "$TMP"/answers/*.code 2>/dev/null | wc -l || true)
    [ "$n" -ge 8 ] && break
    sleep 0.02
done
kill -KILL "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
for p in "${pids[@]}"; do wait "$p" || true; done
for ((i = 0; i < 50; i++)); do
    kill -0 "$signer" 2>/dev/null || break
    sleep 0.1
done
check '! kill -0 "$signer" 2>/dev/null' "the signer process died with the killed server"

answered=()
for code in "$TMP"/answers/*.code; do
    if [ "$(cat "$code")" = 201 ]; then
        answered+=("$(node_id_of "${code%.code}.pem")")
    fi
done
check '[ "${#answered[@]}" -ge 8 ] && [ "${#answered[@]}" -le "$QUOTA" ]' \
    "the kill came mid-traffic: ${#answered[@]} certificates answered before it"

"$CORDON_ENROLL" list --dir "$TMP/ca" >"$TMP/list1"
recorded=$(grep -oE '"node":"[0-9a-f]{64}"' "$TMP/list1" | cut -d '"' -f 4 | sort)
missing=0
for id in "${answered[@]}"; do
    grep -qx "$id" <<<"$recorded" || missing=$((missing + 1))
done
check_eq "$missing" 0 "every answered certificate is recorded after the kill"
check_eq "$(sort <<<"$recorded" | uniq -d | wc -l)" 0 "no node ID is recorded twice"

# Restart and spend the rest of the quota: the total is exactly the quota.
start_server "$TMP/ca" "${limits[@]}"
refused=0
for ((i = 0; i < QUOTA + 5; i++)); do
    code=$(curl -sS --max-time 10 --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/pkcs10' --data-binary "@$TMP/node.csr" \
        -o "$TMP/after.pem" -w '%{http_code}' "https://127.0.0.1:$PORT/v1/enroll" || true)
    if [ "$code" = 403 ]; then
        refused=1
        break
    fi
    [ "$code" = 201 ] || die "enrollment after the restart answered $code"
done
check_eq "$refused" 1 "after the restart the token is refused once its quota is spent"
stop_server

"$CORDON_ENROLL" list --dir "$TMP/ca" >"$TMP/list2"
check_eq "$(grep -c . "$TMP/list2")" "$QUOTA" "exactly $QUOTA certificates were issued in all"
check_eq "$(grep -oE '"serial":"[0-9a-f]+"' "$TMP/list2" | sort | uniq -d | wc -l)" 0 \
    "no serial repeats"
check_eq "$(grep -oE '"node":"[0-9a-f]{64}"' "$TMP/list2" | sort | uniq -d | wc -l)" 0 \
    "no node ID repeats"
issued_lines=$(grep -c '"outcome":"issued"' "$TMP/ca/audit.log" || true)
check '[ "$issued_lines" -le "$QUOTA" ]' \
    "the audit log names no more issuances ($issued_lines) than were recorded"
unknown=0
while read -r id; do
    grep -q "\"node\":\"$id\"" "$TMP/list2" || unknown=$((unknown + 1))
done < <(grep '"outcome":"issued"' "$TMP/ca/audit.log" | grep -oE '"node":"[0-9a-f]{64}"' |
    cut -d '"' -f 4)
check_eq "$unknown" 0 "every issuance in the audit log is a recorded node"
pass
