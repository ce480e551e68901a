#!/usr/bin/env bash
# tests/integration/peer_storage.sh — storage end to end on real peers on 127.0.0.1.
#
# Twelve peers enrolled through a real `cordon-enroll serve` (an overlay with small limits:
# max_object_size 4096, writer_quota_objects 6) run as separate processes and store signed
# objects on r = 3 replicas through `cordon put/get/del` and the control API:
#   - objects put by several peers are read from others with their latest value, and a
#     newer put replaces the older one everywhere;
#   - another node's attempt to overwrite an owned object or a dictionary entry is refused
#     by the replicas (not_allowed): with resource IDs bound to the writer, the only
#     attempt there is to make is an object that claims the victim's place (PUT ?owner=):
#     an owned object at the victim's resource ID signed by the attacker, a dictionary entry
#     naming the victim as writer with the attacker's certificate; the victim's value stays;
#   - a writer past its quota gets the quota error (CLI exit 6, HTTP 507 quota_exceeded);
#   - a value over the overlay's maximum is refused 413 before its body is read; bad names,
#     ttls, kinds and owners are refused 400;
#   - a delete is read back as deleted (CLI exit 4, HTTP 410);
#   - two peers killed (SIGKILL), every object is still readable (r = 3: two lost nodes
#     cannot take all three replicas of any object, with or without maintenance);
#   - a peer restarted keeps its store (DIR/store, 0700, files 0600) and serves from it.
# Every wait is bounded.
# check's condition is evaluated when check runs, so it is written in single quotes:
# shellcheck disable=SC2016
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${CORDON_CLI:?set CORDON_CLI to the cordon binary (ctest does)}"
command -v jq >/dev/null || { echo "$TEST_NAME: jq is needed" >&2; exit 1; }

OVERLAY=acme
N=12
PEER_IDS=()

# shellcheck source=peers.sh
. "$(dirname "$0")/peers.sh"

# api I METHOD PATH [curl args...]: the control API with curl; prints the HTTP status, the
# body goes to $TMP/api.body.
api() {
    local i=$1 method=$2 path=$3
    shift 3
    curl -sS --max-time 40 --unix-socket "$TMP/p.$i/control.sock" -X "$method" \
        -o "$TMP/api.body" -w '%{http_code}' "$@" "http://peer$path" || true
}

# get_value READER OWNER_INDEX NAME [--shared]: the value peer READER reads (empty on error;
# the CLI's exit status in GET_RC).
get_value() {
    local reader=$1 owner=$2 name=$3
    shift 3
    GET_RC=0
    ctl "$reader" get "$name" --owner "${PEER_IDS[$owner]}" "$@" -o "$TMP/got" \
        2>"$TMP/get.err" || GET_RC=$?
    if [ "$GET_RC" = 0 ]; then cat "$TMP/got"; fi
}

# ---- an overlay with small limits, twelve peers ---------------------------------------------------

"$CORDON_ENROLL" init --dir "$TMP/ov" --overlay "$OVERLAY" >/dev/null 2>"$TMP/init.err"
P=$TMP/ov/params.json
sed -i -E -e 's/"per_prefix_contacts": *[0-9]+/"per_prefix_contacts": 20/' \
    -e 's/"max_object_size": *[0-9]+/"max_object_size": 4096/' \
    -e 's/"writer_quota_objects": *[0-9]+/"writer_quota_objects": 6/' "$P"
check 'grep -q "\"max_object_size\": 4096" "$P" && grep -q "\"writer_quota_objects\": 6" "$P"' \
    "params.json: max_object_size 4096, writer_quota_objects 6, per_prefix_contacts 20"
token=$("$CORDON_ENROLL" token --dir "$TMP/ov" --max-nodes "$N" --label peer-storage)
fp=$(fingerprint "$TMP/ov")
start_server "$TMP/ov"
enroll_peers "$N" "$token" "$fp"
ok "$N peers enrolled"

PEER_IDS=("")
start_peer 1
FIRST_PORT=$PEER_PORT
PEER_IDS+=("$PEER_ID")
for ((i = 2; i <= N; i++)); do
    start_peer "$i" --bootstrap "127.0.0.1:$FIRST_PORT"
    PEER_IDS+=("$PEER_ID")
done
for ((t = 0; t < 300; t++)); do
    n=0
    for ((i = 1; i <= N; i++)); do
        grep -q "event=peer.joined" "$TMP/p$i.log" && n=$((n + 1))
    done
    [ "$n" -eq "$N" ] && break
    sleep 0.1
done
check '[ "$n" -eq "$N" ]' "all $N peers joined ($n)"
check '[ -d "$TMP/p.1/store" ] && [ "$(stat -c %a "$TMP/p.1/store")" = 700 ] && [ "$(stat -c %a "$TMP/p.1/store/data.mdb")" = 600 ]' \
    "DIR/store is 0700 and its data.mdb 0600"
check 'grep -q "event=peer.store node=${PEER_IDS[1]} .*objects=0" "$TMP/p1.log"' \
    "p1 logged peer.store with an empty store"

# ---- puts from several peers, gets from others -------------------------------------------------------

for w in 2 3 4 5; do
    printf 'value-1 of p%s' "$w" >"$TMP/v.$w"
    rc=0
    ctl "$w" put "obj-$w" "$TMP/v.$w" --ttl 600 >"$TMP/put.$w.out" 2>&1 || rc=$?
    check '[ "$rc" = 0 ] && grep -q "^stored obj-$w: seq [0-9]*, [1-3] of 3 replicas accepted" "$TMP/put.$w.out"' \
        "p$w put obj-$w ($(head -c 200 "$TMP/put.$w.out"))"
done
# An object that lives one second: the replicas' expiry sweep (every 5 s) removes it.
printf 'short' | ctl 8 put short-lived - --ttl 1 >/dev/null
for w in 2 3 4 5; do
    r=$((w + 4))
    got=$(get_value "$r" "$w" "obj-$w")
    check_eq "$got" "value-1 of p$w" "p$r reads p$w's obj-$w"
done
# The owner reads its own without --owner; a name nobody wrote is not found.
got=$(ctl 2 get obj-2)
check_eq "$got" "value-1 of p2" "p2 reads its own obj-2"
rc=0
ctl 6 get no-such-object --owner "${PEER_IDS[2]}" >/dev/null 2>"$TMP/nf.err" || rc=$?
check '[ "$rc" = 4 ] && grep -q "not found" "$TMP/nf.err"' \
    "a name nobody wrote: exit 4, not found ($(cat "$TMP/nf.err"))"
# The same over HTTP: 404 with the replicas' counts and the lookup that chose them.
code=$(api 6 GET "/v1/objects/no-such-object?owner=${PEER_IDS[2]}")
check '[ "$code" = 404 ] && [ "$(jq -r .code "$TMP/api.body")" = not_found ] && [ "$(jq -r ".asked >= 3 and .found == 0 and .lookup.messages >= 1 and .lookup.answered >= 1" "$TMP/api.body")" = true ]' \
    "GET of a name nobody wrote: 404 not_found, replicas asked, none found, and the lookup's counts ($code $(cat "$TMP/api.body"))"

# A newer put replaces the older one, as every reader sees.
printf 'value-2 of p2' | ctl 2 put obj-2 - >/dev/null
for r in 7 9 11 1; do
    got=$(get_value "$r" 2 obj-2)
    check_eq "$got" "value-2 of p2" "p$r reads the newer obj-2"
done
code=$(api 8 GET "/v1/objects/obj-2?owner=${PEER_IDS[2]}" -D "$TMP/h")
check '[ "$code" = 200 ] && grep -qi "^X-Cordon-Writer: ${PEER_IDS[2]}" "$TMP/h" && grep -qi "^X-Cordon-Seq: [0-9]" "$TMP/h" && grep -qi "^Content-Type: application/octet-stream" "$TMP/h"' \
    "GET answers the value as application/octet-stream with its seq and writer in headers"

# A replica holding a higher seq than the writer's clock gives (a clock that went back):
# the put is refused stale once and retried with the held seq + 1.
big=$(($(date +%s%3N) * 2))
code=$(api 2 PUT "/v1/objects/seqtest?seq=$big" --data-binary 'from the future')
check '[ "$code" = 200 ] && [ "$(jq -r .seq "$TMP/api.body")" = "$big" ]' "a put with seq=$big is stored at that seq ($code)"
code=$(api 2 PUT "/v1/objects/seqtest" --data-binary 'from now')
check '[ "$code" = 200 ] && [ "$(jq -r .seq "$TMP/api.body")" = "$((big + 1))" ]' \
    "a put on the wall clock after it is retried past the held seq: seq $((big + 1)) ($code $(cat "$TMP/api.body"))"
check_eq "$(get_value 7 2 seqtest)" "from now" "p7 reads the retried value"
code=$(api 2 PUT "/v1/objects/seqtest?seq=5" --data-binary 'old')
check '[ "$code" = 409 ] && [ "$(jq -r .code "$TMP/api.body")" = stale ] && [ "$(jq -r .held "$TMP/api.body")" = "$((big + 1))" ]' \
    "an explicit seq below the held one is refused 409 stale with the held seq, not retried ($code)"

# curl -T (an upload of a file: PUT with its Content-Length) works as the CLI does.
printf 'uploaded' >"$TMP/up"
code=$(api 3 PUT "/v1/objects/up?ttl=300" -T "$TMP/up")
check '[ "$code" = 200 ] && [ "$(jq -r .result "$TMP/api.body")" = stored ]' "curl -T stores a file ($code)"
check_eq "$(get_value 5 3 up)" "uploaded" "and p5 reads it"

# A name with bytes that need escapes.
printf 'binary name' | ctl 3 put 'a/b c%é' - >/dev/null
got=$(get_value 10 3 'a/b c%é')
check_eq "$got" "binary name" "a name with '/', ' ', '%' and UTF-8 round-trips"

# ---- dictionaries and the attacks on other writers ---------------------------------------------------

printf 'entry of p2' | ctl 2 put dict - --shared >/dev/null
printf 'entry of p3' | ctl 3 put dict - --shared >/dev/null
check_eq "$(get_value 9 2 dict --shared)" "entry of p2" "p9 reads p2's entry of the dictionary"
check_eq "$(get_value 9 3 dict --shared)" "entry of p3" "p9 reads p3's entry of the dictionary"

# p3 claims p2's dictionary entry: an object naming p2 as writer, with p3's certificate.
code=$(api 3 PUT "/v1/objects/dict?kind=shared&owner=${PEER_IDS[2]}" --data-binary 'p3 was here')
check '[ "$code" = 403 ] && [ "$(jq -r .code "$TMP/api.body")" = not_allowed ] && [ "$(jq -r .accepted "$TMP/api.body")" = 0 ]' \
    "writer p3 cannot replace p2's dictionary entry: 403 not_allowed from the replicas ($code $(cat "$TMP/api.body"))"
# p4 claims p2's owned obj-2: an object at p2's resource ID, signed by p4.
code=$(api 4 PUT "/v1/objects/obj-2?owner=${PEER_IDS[2]}" --data-binary 'p4 was here')
check '[ "$code" = 403 ] && [ "$(jq -r .code "$TMP/api.body")" = not_allowed ] && [ "$(jq -r .accepted "$TMP/api.body")" = 0 ]' \
    "p4 cannot overwrite p2's owned obj-2: 403 not_allowed from the replicas ($code $(cat "$TMP/api.body"))"
check_eq "$(get_value 10 2 dict --shared)" "entry of p2" "p2's dictionary entry is unchanged"
check_eq "$(get_value 10 2 obj-2)" "value-2 of p2" "p2's obj-2 is unchanged"
# p4's own obj-2 is another object: it lands at p4's resource ID and leaves p2's alone.
printf 'p4 own obj-2' | ctl 4 put obj-2 - >/dev/null
check_eq "$(get_value 11 4 obj-2)" "p4 own obj-2" "p4's own obj-2 is its own object"
check_eq "$(get_value 11 2 obj-2)" "value-2 of p2" "and p2's obj-2 still reads p2's value"

# ---- bad input -------------------------------------------------------------------------------------

head -c 4097 /dev/zero >"$TMP/big"
rc=0
ctl 2 put big "$TMP/big" 2>"$TMP/big.err" || rc=$?
check '[ "$rc" = 7 ] && grep -q "too large" "$TMP/big.err"' "a 4097-byte value: exit 7, too large ($(cat "$TMP/big.err"))"
head -c 4096 /dev/zero >"$TMP/max"
rc=0
ctl 2 put max "$TMP/max" >/dev/null 2>&1 || rc=$?
check_eq "$rc" 0 "a 4096-byte value (the overlay's max_object_size) is stored"
# A Content-Length over the cap is refused before the body is read (curl sends none of it).
code=$(api 2 PUT /v1/objects/huge -H 'Content-Length: 100000000' -H 'Expect:' --data-binary 'x')
check '[ "$code" = 413 ] && [ "$(jq -r .code "$TMP/api.body")" = too_large ]' "Content-Length 100000000: 413 too_large ($code)"
code=$(api 2 PUT /v1/objects/chunked -H 'Transfer-Encoding: chunked' --data-binary 'x')
check_eq "$code" 411 "a chunked PUT: 411"
code=$(api 2 PUT /v1/objects/a%00b --data-binary x)
check_eq "$code" 400 "a name with %00: 400"
code=$(api 2 PUT /v1/objects/ --data-binary x)
check_eq "$code" 400 "an empty name: 400"
code=$(api 2 PUT "/v1/objects/$(head -c 256 /dev/zero | tr '\0' a)" --data-binary x)
check_eq "$code" 400 "a 256-byte name: 400"
code=$(api 2 PUT /v1/objects/a%zz --data-binary x)
check_eq "$code" 400 "a bad escape: 400"
for q in ttl=abc ttl=0 ttl=-5 ttl=99999999999 kind=other owner=zz owner=; do
    code=$(api 2 PUT "/v1/objects/q?$q" --data-binary x)
    check '[ "$code" = 400 ] && [ "$(jq -r .code "$TMP/api.body")" = invalid ]' "PUT ?$q: 400 invalid ($code)"
done
code=$(api 2 PUT "/v1/objects/q?ttl=999999999" --data-binary x)
check '[ "$code" = 400 ] && [ "$(jq -r .code "$TMP/api.body")" = lifetime ]' "a ttl over max_lifetime: 400 lifetime ($code)"
code=$(api 2 GET "/v1/objects/q?ttl=5")
check_eq "$code" 400 "GET ?ttl: 400"
code=$(api 2 GET /v1/objects/q --data-binary x)
check_eq "$code" 413 "a GET with a body: 413"
code=$(api 2 POST /v1/objects/q --data-binary x)
check_eq "$code" 405 "POST: 405"
rc=0
ctl 2 get q --owner xyz 2>/dev/null || rc=$?
check_eq "$rc" 2 "cordon get --owner xyz: usage error (exit 2)"
rc=0
ctl 2 put q /dev/null --ttl 0 2>/dev/null || rc=$?
check_eq "$rc" 2 "cordon put --ttl 0: usage error (exit 2)"

# ---- quota ---------------------------------------------------------------------------------------------

# p6 writes new objects until every replica of one holds 6 of p6's: 12 nodes hold at most
# 72 of them, 3 copies each, so the quota error comes within 24 objects (+ p6's own). A put
# succeeds when one replica accepts, so near the quota some objects have fewer than three
# copies: QALL[j] says whether all three replicas took q-j.
quota_rc=0
declare -A QALL
for ((q = 1; q <= 40; q++)); do
    rc=0
    printf 'q%s' "$q" | ctl 6 --json put "q-$q" - >"$TMP/quota.out" 2>"$TMP/quota.err" || rc=$?
    if [ "$rc" != 0 ]; then quota_rc=$rc; break; fi
    QALL[$q]=$(jq -r '.accepted == .replicas and .replicas == 3' "$TMP/quota.out")
done
check '[ "$quota_rc" = 6 ] && grep -q "quota exceeded" "$TMP/quota.err"' \
    "p6 past its quota: exit 6, quota exceeded after $q puts ($(cat "$TMP/quota.err"))"
code=$(api 6 PUT "/v1/objects/q-$q" --data-binary again)
check '[ "$code" = 507 ] && [ "$(jq -r .code "$TMP/api.body")" = quota_exceeded ]' "and HTTP 507 quota_exceeded ($code)"
# Another writer is not affected.
rc=0
printf 'after' | ctl 7 put after-quota - >/dev/null 2>&1 || rc=$?
check_eq "$rc" 0 "p7 still writes"

# ---- delete ------------------------------------------------------------------------------------------------

rc=0
ctl 5 del obj-5 >"$TMP/del.out" 2>&1 || rc=$?
check '[ "$rc" = 0 ] && grep -q "^deleted obj-5" "$TMP/del.out"' "p5 deleted obj-5 ($(cat "$TMP/del.out"))"
get_value 8 5 obj-5 >/dev/null
check '[ "$GET_RC" = 4 ] && grep -q "deleted" "$TMP/get.err"' "p8 reads obj-5 as deleted: exit 4 ($(cat "$TMP/get.err"))"
code=$(api 9 GET "/v1/objects/obj-5?owner=${PEER_IDS[5]}")
check '[ "$code" = 410 ] && [ "$(jq -r .code "$TMP/api.body")" = deleted ]' "GET of a deleted object: 410 deleted ($code)"

# ---- expiry ----------------------------------------------------------------------------------------------

get_value 1 8 short-lived >/dev/null
check '[ "$GET_RC" = 4 ]' "the 1-second object is not found any more (exit $GET_RC)"
for ((t = 0; t < 100; t++)); do
    expired=0
    for ((i = 1; i <= N; i++)); do
        e=$(ctl "$i" --json status | jq -r .counters.store_expired)
        expired=$((expired + e))
    done
    [ "$expired" -ge 1 ] && break
    sleep 0.1
done
check '[ "$expired" -ge 1 ]' "the replicas' expiry sweeps removed it (store_expired sums to $expired)"
fds=$(ls "/proc/${PID[1]}/fd" | wc -l)
ok "p1 holds $fds file descriptors (store included)"

# ---- two peers lost ------------------------------------------------------------------------------------------

for k in 11 12; do
    kill -KILL "${PID[$k]}"
    wait "${PID[$k]}" 2>/dev/null || true
    unset "PID[$k]"
done
ok "p11 and p12 killed"
all=0
for w in 2 3 4; do
    exp="value-1 of p$w"
    [ "$w" = 2 ] && exp="value-2 of p2"
    got=$(get_value 1 "$w" "obj-$w")
    [ "$got" = "$exp" ] && all=$((all + 1))
    check_eq "$got" "$exp" "after the kills p1 reads p$w's obj-$w"
done
check_eq "$(get_value 8 2 dict --shared)" "entry of p2" "after the kills p8 reads p2's dictionary entry"
check_eq "$(get_value 8 3 'a/b c%é')" "binary name" "after the kills p8 reads p3's escaped name"
check_eq "$(get_value 9 4 obj-2)" "p4 own obj-2" "after the kills p9 reads p4's obj-2"
check_eq "$(get_value 9 7 after-quota)" "after" "after the kills p9 reads p7's after-quota"
qok=0
qall=0
for ((j = 1; j < q; j++)); do
    [ "${QALL[$j]}" = true ] || continue
    qall=$((qall + 1))
    [ "$(get_value 10 6 "q-$j")" = "q$j" ] && qok=$((qok + 1))
done
# Two lost nodes cannot take all three copies; an object the quota left with one or two
# copies may be lost with them, and is not counted.
check_eq "$qok" "$qall" "after the kills every one of p6's $qall objects stored on all three replicas reads back (of $((q - 1)) stored)"

# ---- restart keeps the store --------------------------------------------------------------------------------

acc=$(ctl 9 --json status | jq -r .counters.store_accepted)
check '[ "$acc" -ge 1 ]' "p9's store accepted $acc objects"
curl -sS --max-time 10 --unix-socket "$TMP/p.9/control.sock" http://peer/metrics >"$TMP/metrics"
check 'grep -q "^cordon_peer_store_accepted_total [0-9]" "$TMP/metrics" && grep -q "^cordon_control_objects_total [1-9]" "$TMP/metrics"' \
    "/metrics shows the store and control object counters"
terminate p9 "${PID[9]}"
unset "PID[9]"
start_peer 9 --bootstrap "127.0.0.1:$FIRST_PORT"
held=$(grep -oE "event=peer.store node=${PEER_IDS[9]} .*objects=[0-9]+" "$TMP/p9.log" | tail -n 1 | grep -oE 'objects=[0-9]+' | cut -d = -f 2)
check '[ "${held:-0}" -ge 1 ]' "restarted p9 opened its store with ${held:-0} objects"
for ((t = 0; t < 100; t++)); do
    [ "$(grep -c "event=peer.joined" "$TMP/p9.log")" -ge 2 ] && break
    sleep 0.1
done
check_eq "$(get_value 9 3 dict --shared)" "entry of p3" "restarted p9 reads p3's dictionary entry"
check_eq "$(get_value 2 2 obj-2)" "value-2 of p2" "and p2 still reads obj-2"

# ---- stop ---------------------------------------------------------------------------------------------------

for k in "${!PID[@]}"; do
    terminate "p$k" "${PID[$k]}"
done
PID=()
stop_server
# Nothing secret in any log: no private key PEM, no token.
check '! grep -l "PRIVATE KEY\|cdt_" "$TMP"/p*.log' "no key material or token in the peer logs"
check '! grep -q "event=peer.store_clamped" "$TMP/p1.log"' "the overlay's storage limits fit the store: no peer.store_clamped"
pass
