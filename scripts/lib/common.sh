# scripts/lib/common.sh — shared by scripts/demo and scripts/test: installs what is missing
# (Debian 12, as root) and builds. Sourced, not run.

CORDON_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Every Debian package the build, the tests, the fuzzers and the demo use.
CORDON_PACKAGES=(
    build-essential cmake pkg-config gcc clang libclang-rt-14-dev clang-format
    libssl-dev openssl libmicrohttpd-dev liblmdb-dev lmdb-utils libcmocka-dev
    libcurl4-openssl-dev curl libjansson-dev ca-certificates procps jq
)

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

cordon_install_deps() {
    local missing=()
    local p
    for p in "${CORDON_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        die "missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        die "apt-get install failed for: ${missing[*]}"
}

# cordon_build DIR [cmake args...]: configure (once) and build into DIR.
cordon_build() {
    local dir=$1
    shift
    mkdir -p "$dir"
    if [ ! -f "$dir/CMakeCache.txt" ]; then
        cmake -S "$CORDON_ROOT" -B "$dir" "$@" >"$dir/configure.log" 2>&1 ||
            { cat "$dir/configure.log" >&2; die "cmake configure failed for $dir"; }
    fi
    cmake --build "$dir" -j "$(nproc)" >"$dir/build.log" 2>&1 ||
        { tail -n 60 "$dir/build.log" >&2; die "build failed in $dir (full log: $dir/build.log)"; }
}
