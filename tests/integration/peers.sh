# tests/integration/peers.sh — `cordon-peer run` processes for the integration scripts that
# run several peers (peer_storage.sh, peer_crl_dht.sh, peer_storage_e2e.sh). Sourced after
# lib.sh: it replaces lib.sh's EXIT trap with one that kills every peer it started before
# lib.sh's cleanup removes their directories.
#
# Peer I lives in $TMP/p.I and logs to $TMP/pI.log; PID[I] is its process.
# shellcheck shell=bash

declare -A PID

# shellcheck disable=SC2317 # invoked from the EXIT trap
stop_all_peers() {
    local pid
    for pid in "${PID[@]}"; do
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    done
    return 0
}
# shellcheck disable=SC2154 # rc is assigned in the trap itself
trap 'rc=$?; stop_all_peers; if [ "$rc" = 0 ]; then cleanup; else (exit "$rc") || cleanup; fi' EXIT

# start_peer I [run args...]: starts peer I (log appended to), waits at most 10 s for its
# ready file, sets PEER_PORT and PEER_ID.
start_peer() {
    local i=$1 t
    shift
    local ready=$TMP/p$i.ready
    rm -f "$ready"
    "$CORDON_PEER" run --dir "$TMP/p.$i" --listen 127.0.0.1:0 --ready-file "$ready" "$@" \
        >>"$TMP/p$i.log" 2>&1 &
    PID[$i]=$!
    for ((t = 0; t < 100; t++)); do
        [ -s "$ready" ] && break
        kill -0 "${PID[$i]}" 2>/dev/null || break
        sleep 0.1
    done
    [ -s "$ready" ] || { cat "$TMP/p$i.log"; die "p$i wrote no ready file within 10 s"; }
    # shellcheck disable=SC2034 # read by the scripts that source this
    read -r PEER_PORT PEER_ID <"$ready"
}

# enroll_peers N TOKEN FP: enrolls peers 1..N ($TMP/p.I) with the server on $PORT, whose CA
# has the SHA-256 fingerprint FP (hex); a peer that does not enroll ends the script.
enroll_peers() {
    local n=$1 token=$2 fp=$3 i rc
    for ((i = 1; i <= n; i++)); do
        rc=0
        "$CORDON_PEER" enroll --dir "$TMP/p.$i" --server "https://127.0.0.1:$PORT" \
            --token "$token" --ca-fingerprint "sha256:$fp" --timeout 10 \
            >"$TMP/enroll.$i.out" 2>"$TMP/enroll.$i.err" || rc=$?
        [ "$rc" = 0 ] || die "p$i did not enroll: $(cat "$TMP/enroll.$i.err")"
    done
}

# ctl I ARGS...: the cordon CLI against peer I.
ctl() {
    local i=$1
    shift
    "$CORDON_CLI" --control "$TMP/p.$i/control.sock" "$@"
}
