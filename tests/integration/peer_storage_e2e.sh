#!/usr/bin/env bash
# tests/integration/peer_storage_e2e.sh — issue 5's storage test at scale, on 32 real peers
# (`cordon-peer run` processes on 127.0.0.1) enrolled through a real `cordon-enroll serve`.
#
#   - ten writers put 1,000 objects through their control APIs: 880 owned objects and 120
#     entries of twelve dictionaries (every writer has one entry in each). Before any peer
#     is lost, 200 of them get a second version, 40 of those a third, and 20 are deleted;
#   - ten peers are killed (SIGKILL, writers among them), and afterwards every one of the
#     1,000 objects reads back from the survivors with its latest value (the deleted ones
#     as deleted, HTTP 410);
#   - another node's attempt to overwrite an owned object, and another writer's dictionary
#     entry, is refused by the replicas (403 not_allowed, none accepted; the same attempts
#     as peer_storage.sh: PUT ?owner= claims the victim's entry), and both still read back
#     the victim's value — asked after the kills, so replicas that received their copies
#     from maintenance refuse too;
#   - a writer past its quota gets the quota error (HTTP 507 quota_exceeded, CLI exit 6).
#     The overlay's writer_quota_bytes is 64 KiB: three 16 KiB values fit on one node and a
#     fourth does not, while the ten writers' small objects stay far below it (~0.8 KiB
#     each, the certificate included; a writer's 100 objects x 3 replicas make about 14 per
#     node even on the 22 peers left, 11 KiB).
#
# Why the kills come in waves. With r = 3, losing 10 of 32 peers at once takes all three
# replicas of a given object with probability C(10,3)/C(32,3) = 2.4%, so about 24 of the
# 1,000 objects would be lost however well the overlay works: r = 3 is not sized for a third
# of the overlay failing within one maintenance period. The peers run replica maintenance
# every MAINTAIN seconds (`--maintain`), and the test kills 2 peers per wave, five waves:
# two losses cannot take the three replicas of any object, and before the next wave the
# survivors' maintenance must have put every object back on its three closest live nodes.
# The test waits for that from the status counters (bounded): every survivor completes
# passes after the kill until one full pass at every survivor pushes nothing more.
#
# 1,000 CLI processes are not needed to drive the puts and gets: each writer's puts (and
# each reader's gets) go through one curl process whose requests share one kept-alive
# connection (a generated curl config, one block per request), the writers in parallel;
# the CLI shows the quota error and one read. Every wait is bounded, and an EXIT trap kills
# every peer still running.
# check's condition is evaluated when check runs, so it is written in single quotes:
# shellcheck disable=SC2016
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${CORDON_CLI:?set CORDON_CLI to the cordon binary (ctest does)}"
command -v jq >/dev/null || { echo "$TEST_NAME: jq is needed" >&2; exit 1; }

OVERLAY=e2e
N=32              # peers
WRITERS=10        # p1..p10 write
OWNED=88          # owned objects per writer
DICTS=12          # dictionaries; every writer has one entry in each
KILL_WAVES=5      # waves of kills...
KILL_PER_WAVE=2   # ...of this many peers each: 10 in all
MAINTAIN=2        # seconds between replica maintenance passes (--maintain)
WAVE_WAIT=60      # seconds a wave may wait for maintenance to settle
QUOTA_WRITER=31   # the writer that runs into its quota (not one of the killed)
PEER_IDS=("")
PORTS=("")
ALIVE=()

# shellcheck source=peers.sh
. "$(dirname "$0")/peers.sh"

sock() { echo "$TMP/p.$1/control.sock"; }

# api I METHOD PATH [curl args...]: one control request to peer I; prints the HTTP status,
# the body goes to $TMP/api.body.
api() {
    local i=$1 method=$2 path=$3
    shift 3
    curl -sS --max-time 40 --unix-socket "$(sock "$i")" -X "$method" \
        -o "$TMP/api.body" -w '%{http_code}' "$@" "http://peer$path" || true
}

# ---- the objects ----------------------------------------------------------------------------

# One line per object in $TMP/objects: INDEX WRITER KIND NAME. Its value at version V is
# "NAME by pWRITER v=V" (every version differs, so a read shows which one it got).
# FINAL[INDEX] is the version the last write left (0: deleted).
declare -a OBJ_W OBJ_KIND OBJ_NAME FINAL
n_obj=0
for ((w = 1; w <= WRITERS; w++)); do
    for ((j = 1; j <= OWNED; j++)); do
        OBJ_W[n_obj]=$w OBJ_KIND[n_obj]=owned OBJ_NAME[n_obj]="o-$w-$j" FINAL[n_obj]=1
        n_obj=$((n_obj + 1))
    done
    for ((d = 1; d <= DICTS; d++)); do
        OBJ_W[n_obj]=$w OBJ_KIND[n_obj]=shared OBJ_NAME[n_obj]="dict-$d" FINAL[n_obj]=1
        n_obj=$((n_obj + 1))
    done
done
# shellcheck disable=SC2317 # called from check conditions
value_of() { printf '%s by p%s v=%s' "${OBJ_NAME[$1]}" "${OBJ_W[$1]}" "$2"; }

# batch_config FILE OP PEER INDEX...: a curl config for peer PEER's control socket, one
# block per object: a PUT of its version $VERSION (OP put) or a DELETE (OP del), the answer
# into $TMP/put/INDEX, or a GET of its writer's entry (OP get) into $TMP/got/INDEX. Each
# transfer writes "STATUS INDEX" on a line of standard output. `next` resets every option,
# so each block names the socket again; curl keeps the one connection alive between them.
# Written without a subshell per object: 1,000 forks cost seconds on a busy machine.
batch_config() {
    local file=$1 op=$2 peer=$3 idx q name out=""
    shift 3
    for idx in "$@"; do
        name=${OBJ_NAME[$idx]}
        q=""
        if [ "${OBJ_KIND[$idx]}" = shared ]; then q="kind=shared&"; fi
        if [ -n "$out" ]; then out+="next"$'\n'; fi
        out+="unix-socket = \"$TMP/p.$peer/control.sock\""$'\n'"max-time = 40"$'\n'"silent"$'\n'
        case $op in
            put)
                out+="url = \"http://peer/v1/objects/$name?${q}ttl=3600\""$'\n'"request = \"PUT\""$'\n'
                out+="data-binary = \"$name by p${OBJ_W[$idx]} v=$VERSION\""$'\n'"output = \"$TMP/put/$idx\""$'\n'
                ;;
            del)
                q=${q%&}
                out+="url = \"http://peer/v1/objects/$name${q:+?$q}\""$'\n'"request = \"DELETE\""$'\n'
                out+="output = \"$TMP/put/$idx\""$'\n'
                ;;
            get)
                out+="url = \"http://peer/v1/objects/$name?${q}owner=${PEER_IDS[${OBJ_W[$idx]}]}\""$'\n'
                out+="output = \"$TMP/got/$idx\""$'\n'
                ;;
        esac
        out+="write-out = \"%{http_code} $idx\\n\""$'\n'
    done
    printf '%s' "$out" >"$file"
}

# write_phase NAME OP VERSION INDEX...: every writer sends its share of INDEX... (put at
# VERSION, or del) through one kept-alive curl, all writers at once; then checks that each
# answer was 200 with the replicas' counts, and counts the puts that all 3 replicas took.
write_phase() {
    local name=$1 op=$2 idx w t0 t1 pids=() bad=0 full=0 total=0 code body
    VERSION=$3
    shift 3
    local want=$#
    declare -A mine
    for idx in "$@"; do mine[${OBJ_W[$idx]}]+=" $idx"; done
    mkdir -p "$TMP/put"
    t0=$(date +%s%N)
    for w in "${!mine[@]}"; do
        # shellcheck disable=SC2086 # the list of indexes is split on purpose
        batch_config "$TMP/cfg.$name.$w" "$op" "$w" ${mine[$w]}
    done
    for w in "${!mine[@]}"; do
        curl -K "$TMP/cfg.$name.$w" >"$TMP/codes.$name.$w" 2>"$TMP/curl.$name.$w.err" &
        pids+=($!)
    done
    for t in "${pids[@]}"; do wait "$t" || true; done
    t1=$(date +%s%N)
    for w in "${!mine[@]}"; do
        while read -r code idx; do
            total=$((total + 1))
            if [ "$code" != 200 ]; then
                bad=$((bad + 1))
                if [ "$bad" -le 3 ]; then
                    echo "    $name: object $idx (${OBJ_NAME[$idx]} of p${OBJ_W[$idx]}) answered $code: $(head -c 300 "$TMP/put/$idx" 2>/dev/null || true)"
                fi
                continue
            fi
            body=$(<"$TMP/put/$idx")
            if [[ "$body" == *'"accepted":3,'* ]]; then full=$((full + 1)); fi
        done <"$TMP/codes.$name.$w"
    done
    check '[ "$total" = "$want" ] && [ "$bad" = 0 ]' \
        "$name: $want ${op}s from ${#mine[@]} writers answered 200 ($total answered, $bad not 200; $(((t1 - t0) / 1000000)) ms, all writers at once)"
    PHASE_FULL=$full
}

# read_all LABEL READER...: reads every object, the readers (live peers) sharing the list
# round-robin, each through one kept-alive curl; then compares each answer with the object's
# final version. Sets READ_OK and prints the first mismatches.
read_all() {
    local label=$1 r k idx code pids=() t0 t1 want got body shown=0
    shift
    local readers=("$@")
    declare -A share
    rm -rf "$TMP/got"
    mkdir -p "$TMP/got"
    for ((idx = 0; idx < n_obj; idx++)); do
        r=${readers[$((idx % ${#readers[@]}))]}
        share[$r]+=" $idx"
    done
    t0=$(date +%s%N)
    for r in "${!share[@]}"; do
        # shellcheck disable=SC2086
        batch_config "$TMP/cfg.get.$r" get "$r" ${share[$r]}
    done
    for r in "${!share[@]}"; do
        curl -K "$TMP/cfg.get.$r" >"$TMP/codes.get.$r" 2>"$TMP/curl.get.$r.err" &
        pids+=($!)
    done
    for k in "${pids[@]}"; do wait "$k" || true; done
    t1=$(date +%s%N)
    READ_OK=0
    READ_MS=$(((t1 - t0) / 1000000))
    for r in "${!share[@]}"; do
        while read -r code idx; do
            body=""
            if [ -f "$TMP/got/$idx" ]; then body=$(<"$TMP/got/$idx"); fi
            if [ "${FINAL[$idx]}" = 0 ]; then
                # The answer to a deleted object is {"error":...,"code":"deleted",...}.
                want="410 deleted"
                got="$code $body"
                if [[ "$body" == *'"code":"deleted"'* ]]; then got="$code deleted"; fi
            else
                want="200 ${OBJ_NAME[$idx]} by p${OBJ_W[$idx]} v=${FINAL[$idx]}"
                got="$code $body"
            fi
            if [ "$got" = "$want" ]; then
                READ_OK=$((READ_OK + 1))
            elif [ "$shown" -lt 5 ]; then
                shown=$((shown + 1))
                echo "    $label: p$r read ${OBJ_KIND[$idx]} ${OBJ_NAME[$idx]} of p${OBJ_W[$idx]}: got '${got:0:120}', want '$want'"
            fi
        done <"$TMP/codes.get.$r"
    done
}

# ---- an overlay with a small writer quota, 32 peers ----------------------------------------------

"$CORDON_ENROLL" init --dir "$TMP/ov" --overlay "$OVERLAY" >/dev/null 2>"$TMP/init.err"
P=$TMP/ov/params.json
sed -i -E -e 's/"per_prefix_contacts": *[0-9]+/"per_prefix_contacts": 20/' \
    -e 's/"max_object_size": *[0-9]+/"max_object_size": 16384/' \
    -e 's/"writer_quota_bytes": *[0-9]+/"writer_quota_bytes": 65536/' "$P"
check 'grep -q "\"max_object_size\": 16384" "$P" && grep -q "\"writer_quota_bytes\": 65536" "$P"' \
    "params.json: max_object_size 16384, writer_quota_bytes 65536, per_prefix_contacts 20"
token=$("$CORDON_ENROLL" token --dir "$TMP/ov" --max-nodes "$N" --label e2e)
fp=$(fingerprint "$TMP/ov")
start_server "$TMP/ov" --source-rate 100 --source-burst 100 --token-rate 100 --token-burst 100

# Four enrollments at a time: each generates a key and makes one HTTPS exchange.
t0=$(date +%s)
for ((i = 1; i <= N; i++)); do
    "$CORDON_PEER" enroll --dir "$TMP/p.$i" --server "https://127.0.0.1:$PORT" \
        --token "$token" --ca-fingerprint "sha256:$fp" --timeout 10 \
        >"$TMP/enroll.$i.out" 2>"$TMP/enroll.$i.err" &
    PID[$i]=$!
    if ((i % 4 == 0 || i == N)); then
        for ((k = i - (i - 1) % 4; k <= i; k++)); do
            rc=0
            wait "${PID[$k]}" || rc=$?
            [ "$rc" = 0 ] || die "p$k did not enroll: $(cat "$TMP/enroll.$k.err")"
        done
    fi
done
PID=()
ok "$N peers enrolled ($(($(date +%s) - t0)) s)"

# start_replica I [run args...]: start_peer (peers.sh) with this test's maintenance period,
# keeping the port and node ID of each peer.
start_replica() {
    local i=$1
    shift
    start_peer "$i" --maintain "$MAINTAIN" "$@"
    PORTS[i]=$PEER_PORT
    PEER_IDS[i]=$PEER_ID
}

t0=$(date +%s)
start_replica 1
for ((i = 2; i <= N; i++)); do
    # Through p1 and one earlier peer, so that p1 is not every joiner's only way in.
    start_replica "$i" --bootstrap "127.0.0.1:${PORTS[1]},127.0.0.1:${PORTS[$((i / 2))]}"
done
for ((t = 0; t < 600; t++)); do
    n=0
    for ((i = 1; i <= N; i++)); do
        grep -q "event=peer.joined" "$TMP/p$i.log" && n=$((n + 1))
    done
    [ "$n" -eq "$N" ] && break
    sleep 0.1
done
check '[ "$n" -eq "$N" ]' "all $N peers joined ($n; $(($(date +%s) - t0)) s)"
for ((i = 1; i <= N; i++)); do ALIVE+=("$i"); done

# ---- 1,000 objects, some updated, some deleted ------------------------------------------------

all=()
for ((idx = 0; idx < n_obj; idx++)); do all+=("$idx"); done
check_eq "$n_obj" 1000 "1,000 objects: $((WRITERS * OWNED)) owned, $((WRITERS * DICTS)) dictionary entries"
write_phase put-v1 put 1 "${all[@]}"
full1=$PHASE_FULL
check '[ "$full1" -ge 990 ]' "$full1 of the 1,000 first puts were accepted by all 3 replicas"

# Every fifth object gets a second version, every 25th a third; every 50th (offset 3) is
# deleted. Updates and deletes are spread over writers, owned objects and dictionaries.
v2=() v3=() dels=()
for ((idx = 0; idx < n_obj; idx++)); do
    if ((idx % 50 == 3)); then
        dels+=("$idx")
        FINAL[idx]=0
    elif ((idx % 5 == 0)); then
        v2+=("$idx")
        FINAL[idx]=2
        if ((idx % 25 == 0)); then
            v3+=("$idx")
            FINAL[idx]=3
        fi
    fi
done
write_phase put-v2 put 2 "${v2[@]}"
write_phase put-v3 put 3 "${v3[@]}"
write_phase del del 0 "${dels[@]}"
seq1=$(jq -r .seq "$TMP/put/${v3[0]}")
ok "${#v2[@]} objects at their second version, ${#v3[@]} of them at a third (object ${v3[0]}: seq $seq1), ${#dels[@]} deleted"

read_all before "${ALIVE[@]}"
check_eq "$READ_OK" 1000 "before any loss, every object reads back with its latest value ($READ_MS ms)"

# ---- ten peers lost, in waves, maintenance between -----------------------------------------------

# maint_poll: the status of every live peer, through one curl (a block per control socket);
# sets PASSES[peer] (maintenance passes completed) and PUSHED (objects pushed by all live
# peers). Bash reads the two counters out of the JSON: on a busy machine a process per peer
# per poll made a poll take seconds.
declare -A PASSES
maint_poll() {
    local i line pass="" push="" cfg="" re_pass='"core_maintain_passes":([0-9]+)' re_push='"core_maintain_pushed":([0-9]+)'
    PUSHED=0
    for i in "${ALIVE[@]}"; do
        PASSES[$i]=0
        if [ -n "$cfg" ]; then cfg+="next"$'\n'; fi
        cfg+="unix-socket = \"$TMP/p.$i/control.sock\""$'\n'"url = \"http://peer/v1/status\""$'\n'
        cfg+="max-time = 10"$'\n'"silent"$'\n'"write-out = \"\\npeer $i\\n\""$'\n'
    done
    printf '%s' "$cfg" >"$TMP/poll.cfg"
    while IFS= read -r line; do
        if [[ "$line" =~ ^peer\ ([0-9]+)$ ]]; then
            i=${BASH_REMATCH[1]}
            PASSES[$i]=${pass:-0}
            PUSHED=$((PUSHED + ${push:-0}))
            pass="" push=""
        else
            if [[ "$line" =~ $re_pass ]]; then pass=${BASH_REMATCH[1]}; fi
            if [[ "$line" =~ $re_push ]]; then push=${BASH_REMATCH[1]}; fi
        fi
    done < <(curl -K "$TMP/poll.cfg" || true)
}

# maintain_settle: after a wave, waits (at most WAVE_WAIT s) until every live peer has
# completed two maintenance passes since the kill — the first meets the dead replicas (their
# SUMMARYs time out, so the table marks them suspect), the second sends each entry to the
# live node that now takes their place — and then until one more pass at every live peer
# pushed nothing (PUSHED did not move). Sets SETTLED (1 when it got there) and SETTLE_S.
maintain_settle() {
    local t_start deadline i need pushed_before pushed_start
    local -A since
    t_start=$(date +%s)
    deadline=$((t_start + WAVE_WAIT))
    SETTLED=0
    maint_poll
    for i in "${ALIVE[@]}"; do since[$i]=$((PASSES[$i] + 2)); done
    pushed_before=$PUSHED
    pushed_start=$PUSHED
    while [ "$(date +%s)" -lt "$deadline" ]; do
        sleep 0.5
        maint_poll
        need=0
        for i in "${ALIVE[@]}"; do
            if [ "${PASSES[$i]}" -lt "${since[$i]}" ]; then need=$((need + 1)); fi
        done
        [ "$need" = 0 ] || continue
        echo "    after $(($(date +%s) - t_start)) s every survivor has made the passes asked for; their push counters sum to $PUSHED"
        # Every live peer has completed the passes asked for: if none pushed anything
        # meanwhile, maintenance has nothing more to do; if some did, ask for one more.
        if [ "$PUSHED" = "$pushed_before" ]; then
            # shellcheck disable=SC2034 # read by the check after the call
            SETTLED=1
            break
        fi
        pushed_before=$PUSHED
        for i in "${ALIVE[@]}"; do since[$i]=$((PASSES[$i] + 1)); done
    done
    SETTLE_S=$(($(date +%s) - t_start))
    WAVES_PUSHED=$((WAVES_PUSHED + PUSHED - pushed_start))
}

WAVES_PUSHED=0
# The victims: p2..p10 step 2 are writers (their objects must outlive them), the others are
# spread over the rest; none is p1 (the bootstrap) nor the quota writer.
VICTIMS=(2 4 6 8 10 13 17 21 25 29)
for ((wave = 0; wave < KILL_WAVES; wave++)); do
    killed=()
    for ((k = 0; k < KILL_PER_WAVE; k++)); do
        v=${VICTIMS[$((wave * KILL_PER_WAVE + k))]}
        kill -KILL "${PID[$v]}"
        wait "${PID[$v]}" 2>/dev/null || true
        unset "PID[$v]"
        killed+=("p$v")
    done
    live=()
    for i in "${ALIVE[@]}"; do
        if [ -n "${PID[$i]:-}" ]; then live+=("$i"); fi
    done
    ALIVE=("${live[@]}")
    maintain_settle
    check '[ "$SETTLED" = 1 ]' \
        "wave $((wave + 1)): ${killed[*]} killed; maintenance at the ${#ALIVE[@]} survivors settled within $SETTLE_S s (bounded by $WAVE_WAIT s)"
done
# Each killed peer held about 1,000 x 3 / 32 = 94 replicas: maintenance must have remade them.
check '[ "$WAVES_PUSHED" -ge 100 ]' \
    "while the waves settled, the survivors' maintenance pushed $WAVES_PUSHED objects to new replicas"

# ---- every object from the survivors --------------------------------------------------------------

read_all after "${ALIVE[@]}"
check_eq "$READ_OK" 1000 "after 10 of 32 peers were killed, every object reads back from the 22 survivors with its latest value ($READ_MS ms)"
# A sample through the CLI, from a writer killed in the first wave.
rc=0
"$CORDON_CLI" --control "$(sock 1)" get o-2-7 --owner "${PEER_IDS[2]}" -o "$TMP/cli.got" \
    2>"$TMP/cli.err" || rc=$?
check '[ "$rc" = 0 ] && [ "$(cat "$TMP/cli.got")" = "o-2-7 by p2 v=1" ]' \
    "cordon get on p1 reads o-2-7 of the killed p2 (exit $rc: $(cat "$TMP/cli.err" "$TMP/cli.got"))"

# ---- forged overwrites are refused ------------------------------------------------------------------

# p3 claims p5's dictionary entry dict-2: an object naming p5 as writer, with p3's certificate.
code=$(api 3 PUT "/v1/objects/dict-2?kind=shared&owner=${PEER_IDS[5]}" --data-binary 'p3 was here')
check '[ "$code" = 403 ] && [ "$(jq -r .code "$TMP/api.body")" = not_allowed ] && [ "$(jq -r .accepted "$TMP/api.body")" = 0 ]' \
    "writer p3 cannot replace p5's entry of dict-2: 403 not_allowed from the replicas ($code $(cat "$TMP/api.body"))"
# p7 claims p1's owned o-1-10: an object at p1's resource ID, signed by p7.
code=$(api 7 PUT "/v1/objects/o-1-10?owner=${PEER_IDS[1]}" --data-binary 'p7 was here')
check '[ "$code" = 403 ] && [ "$(jq -r .code "$TMP/api.body")" = not_allowed ] && [ "$(jq -r .accepted "$TMP/api.body")" = 0 ]' \
    "p7 cannot overwrite p1's owned o-1-10: 403 not_allowed from the replicas ($code $(cat "$TMP/api.body"))"
# The same against an object of a killed writer, whose replicas include new ones.
code=$(api 9 PUT "/v1/objects/o-4-20?owner=${PEER_IDS[4]}" --data-binary 'p9 was here')
check '[ "$code" = 403 ] && [ "$(jq -r .code "$TMP/api.body")" = not_allowed ] && [ "$(jq -r .accepted "$TMP/api.body")" = 0 ]' \
    "p9 cannot overwrite the killed p4's o-4-20: 403 not_allowed ($code $(cat "$TMP/api.body"))"
for spec in "5 dict-2 shared" "1 o-1-10 owned" "4 o-4-20 owned"; do
    read -r w name kind <<<"$spec"
    q=""
    [ "$kind" = shared ] && q="kind=shared&"
    for r in 11 20 32; do
        code=$(api "$r" GET "/v1/objects/$name?${q}owner=${PEER_IDS[$w]}")
        idx=-1
        for ((k = 0; k < n_obj; k++)); do
            [ "${OBJ_W[$k]}" = "$w" ] && [ "${OBJ_NAME[$k]}" = "$name" ] && idx=$k && break
        done
        check '[ "$code" = 200 ] && [ "$(cat "$TMP/api.body")" = "$(value_of "$idx" "${FINAL[$idx]}")" ]' \
            "p$r still reads p$w's $name as p$w wrote it ($code)"
    done
done

# ---- a writer past its quota ---------------------------------------------------------------------

# p31 puts 16 KiB values until a put is refused: three fit in 64 KiB on one node, a fourth
# does not. A put fails only when all its replicas refuse, and each put that succeeds takes
# one of the 22 live nodes x 3 places at least, so the 67th put is refused at the latest;
# much sooner in practice, when the three nodes closest to a name are full.
head -c 16384 /dev/zero | tr '\0' q >"$TMP/big"
quota_code=""
for ((q = 1; q <= 70; q++)); do
    quota_code=$(api "$QUOTA_WRITER" PUT "/v1/objects/big-$q?ttl=600" -T "$TMP/big")
    [ "$quota_code" = 200 ] || break
done
check '[ "$quota_code" = 507 ] && [ "$(jq -r .code "$TMP/api.body")" = quota_exceeded ]' \
    "p$QUOTA_WRITER past its quota: HTTP 507 quota_exceeded at its put $q ($quota_code $(cat "$TMP/api.body"))"
rc=0
"$CORDON_CLI" --control "$(sock "$QUOTA_WRITER")" put "big-$q" "$TMP/big" >/dev/null \
    2>"$TMP/quota.err" || rc=$?
check '[ "$rc" = 6 ] && grep -q "quota exceeded" "$TMP/quota.err"' \
    "and cordon put of the same exits 6, quota exceeded ($(cat "$TMP/quota.err"))"
# The writers' small objects are far from the quota: a writer still puts.
rc=0
printf 'after the quota' | "$CORDON_CLI" --control "$(sock 3)" put after-quota - >/dev/null 2>&1 || rc=$?
check_eq "$rc" 0 "p3 still puts after p$QUOTA_WRITER hit its quota"

# ---- stop ----------------------------------------------------------------------------------------

for i in "${ALIVE[@]}"; do
    terminate "p$i" "${PID[$i]}"
    unset "PID[$i]"
done
stop_server
check '! grep -l "PRIVATE KEY\|cdt_" "$TMP"/p*.log' "no key material or token in the peer logs"
check '! grep -q "event=peer.store_clamped" "$TMP"/p*.log' "the overlay's storage limits fit the store"
pass
