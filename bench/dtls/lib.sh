# bench/dtls/lib.sh — what bench/dtls/run and bench/dtls/profile share: the binaries, the
# identities (enrolled through a real cordon-enroll serve, or reused), the peer's handshake
# limits, and starting `cordon-peer run` and `openssl s_server -dtls1_2`.
#
# Sourced, never run. The caller sets root, build and tmp, and an array pids (every
# background process started here is appended to it, for the caller's cleanup).
# shellcheck shell=bash
# The caller sets root, build and tmp, and uses what this file sets:
# shellcheck disable=SC2154,SC2034

for tool in openssl curl jq ss; do
    command -v "$tool" >/dev/null || { echo "bench/dtls: needs $tool" >&2; exit 1; }
done
enroll=$build/enroll/cordon-enroll
peer=$build/peer/cordon-peer
bench=$build/bench/cordon-bench-dtls
if [[ ! -x $enroll || ! -x $peer || ! -x $bench ]]; then
    echo "== building in $build"
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j"$(nproc)" --target cordon-enroll cordon-peer cordon-bench-dtls \
        >/dev/null
fi

# The peer's handshake limiter (common/limits.h): RATE per source address, BURST deep, for
# at most SOURCES addresses at a time. Clients pace each of their addresses at 95% of it.
limit() { sed -n "s/^#define $1 \([0-9.]*\).*/\1/p" "$root/common/limits.h"; }
peer_rate=$(limit CORDON_LINK_DEFAULT_RATE)
peer_burst=$(limit CORDON_LINK_DEFAULT_BURST)
peer_sources=$(limit CORDON_LINK_RATE_SOURCES)
if [[ -z $peer_rate || -z $peer_burst || -z $peer_sources ]]; then
    echo "bench/dtls: cannot read the link limits from common/limits.h" >&2
    exit 1
fi
source_rate=$(awk -v r="$peer_rate" 'BEGIN { printf "%.3f", r * 0.95 }')
source_net=127.200.0.1

# wait_for FILE PID: at most 10 s for FILE to be non-empty while PID lives.
wait_for() {
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -s $1 ]] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# fresh DIR: its certificate and CRL are good for at least another hour.
fresh() {
    openssl x509 -in "$1/node.crt" -noout -checkend 3600 >/dev/null 2>&1 &&
        [[ $(date -d "$(openssl crl -in "$1/crl.pem" -noout -nextupdate | cut -d= -f2)" +%s) -gt \
            $(($(date +%s) + 3600)) ]]
}

# identities DIR: sets ids and overlay. Reuses DIR/{peer,sserver,client} when they are
# fresh; else enrolls them there through cordon-enroll serve on 127.0.0.1.
identities() {
    ids=$1
    mkdir -p "$ids"
    if [[ -s $ids/overlay.name ]] && fresh "$ids/peer" && fresh "$ids/sserver" &&
        fresh "$ids/client"; then
        overlay=$(cat "$ids/overlay.name")
        echo "== reusing the identities in $ids (overlay $overlay)"
    else
        rm -rf "${ids:?}"/{ov,peer,sserver,client,overlay.name}
        overlay=bench
        echo "== enrolling three identities through cordon-enroll serve on 127.0.0.1"
        "$enroll" init --dir "$ids/ov" --overlay "$overlay" >/dev/null
        local token fp enroll_pid who
        token=$("$enroll" token --dir "$ids/ov" --max-nodes 3 --label bench-dtls)
        fp=$(openssl x509 -in "$ids/ov/ca.crt" -outform DER | sha256sum | cut -d ' ' -f 1)
        "$enroll" serve --dir "$ids/ov" --listen 127.0.0.1:0 --ready-file "$tmp/enroll.port" \
            2>"$tmp/enroll.log" &
        enroll_pid=$!
        pids+=("$enroll_pid")
        if ! wait_for "$tmp/enroll.port" "$enroll_pid"; then
            echo "bench/dtls: cordon-enroll serve did not start:" >&2
            cat "$tmp/enroll.log" >&2
            exit 1
        fi
        for who in peer sserver client; do
            "$peer" enroll --dir "$ids/$who" \
                --server "https://127.0.0.1:$(head -n 1 "$tmp/enroll.port")" --token "$token" \
                --ca-fingerprint "sha256:$fp" --timeout 10 2>/dev/null
        done
        kill -TERM "$enroll_pid"
        wait "$enroll_pid" || { echo "bench/dtls: cordon-enroll serve failed to stop" >&2; exit 1; }
        echo "$overlay" >"$ids/overlay.name"
    fi
    for who in peer sserver client; do
        printf '   %-8s node %s...\n' "$who" "$(openssl x509 -in "$ids/$who/node.crt" -noout \
            -ext subjectAltName | grep -o 'cordon://[^,]*' | sed 's#.*/node/##' | cut -c 1-16)"
    done
}

# start_peer: cordon-peer run with the peer identity on 127.0.0.1; sets peer_pid, peer_port;
# its control API listens on $tmp/peer.sock.
start_peer() {
    local extra=()
    # No CRL fetches or renewals during the measurement (options of newer builds).
    "$peer" --help 2>&1 | grep -q -- '--crl-refresh' && extra+=(--crl-refresh 0)
    "$peer" --help 2>&1 | grep -q -- '--renew-before' && extra+=(--renew-before 0)
    "$peer" run --dir "$ids/peer" --listen 127.0.0.1:0 --ready-file "$tmp/peer.ready" \
        --control "$tmp/peer.sock" "${extra[@]}" 2>"$tmp/peer.log" &
    peer_pid=$!
    pids+=("$peer_pid")
    if ! wait_for "$tmp/peer.ready" "$peer_pid"; then
        echo "bench/dtls: cordon-peer run did not start:" >&2
        tail -5 "$tmp/peer.log" >&2
        exit 1
    fi
    peer_port=$(cut -d ' ' -f 1 "$tmp/peer.ready")
}

# counter NAME: one link counter of the peer now, from its control API.
counter() {
    curl -sS --max-time 10 --unix-socket "$tmp/peer.sock" http://peer/v1/status |
        jq -r --arg n "$1" '.counters[$n]'
}

# start_sserver: a fresh openssl s_server -dtls1_2 with the sserver identity; sets ss_pid,
# ss_port. It serves one client at a time. Same suites and groups as peer/link.c, the same
# MTU (1208 bytes of DTLS payload + 28 of IPv4/UDP headers), client certificate required and
# checked against the CA and the CRL, tickets on (as the link table). Its stdin stays open.
ciphers=ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305
start_sserver() {
    local i
    mkfifo "$tmp/ss.in"
    openssl s_server -dtls1_2 -accept 127.0.0.1:0 -cert "$ids/sserver/node.crt" \
        -key "$ids/sserver/node.key" -CAfile "$ids/sserver/ca.crt" -Verify 1 \
        -verify_return_error -CRL "$ids/sserver/crl.pem" -crl_check -cipher "$ciphers" \
        -groups X25519:P-256 -mtu 1236 -quiet <"$tmp/ss.in" >"$tmp/ss.log" 2>&1 &
    ss_pid=$!
    pids+=("$ss_pid")
    exec 9>"$tmp/ss.in"
    ss_port=
    for ((i = 0; i < 100; i++)); do
        ss_port=$(ss -H -lunp 2>/dev/null | grep "pid=$ss_pid," | awk '{ print $4 }' |
            sed 's/.*://' | head -n 1 || true)
        [[ -n $ss_port ]] && return 0
        sleep 0.1
    done
    echo "bench/dtls: openssl s_server did not start:" >&2
    cat "$tmp/ss.log" >&2
    exit 1
}

stop_sserver() {
    exec 9>&-
    kill -TERM "$ss_pid" 2>/dev/null || true
    wait "$ss_pid" 2>/dev/null || true
    rm -f "$tmp/ss.in"
}
