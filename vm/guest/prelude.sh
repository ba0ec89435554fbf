# Sourced (by busybox sh) before every shell test in the guest. Helpers for
# tests; vm/lib.sh appends functions for host tools added to the payload.

# Print to stderr and fail the test.
vm_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Wait until something listens on TCP PORT (up to ~5 s). /proc/net/tcp{,6}
# list ports in hex and state 0A is LISTEN; busybox nc -l listens on IPv6
# (dual-stack), so it shows up in tcp6 only.
vm_wait_listen() { # PORT
    _hex=$(printf '%04X' "$1")
    _i=0
    while ! grep -q ":$_hex [0-9A-F]*:0000 0A" /proc/net/tcp /proc/net/tcp6; do
        _i=$((_i + 1))
        [ "$_i" -gt 100 ] && return 1
        sleep 0.05
    done
}

# Loopback TCP traffic with busybox nc: a sink on PORT, then a client sending
# BYTES zero bytes to it. Succeeds once the sink has received all of them.
# The sink's stdin is held open by a sleep: busybox nc quits when its stdin
# ends, and a socket closed with unread data answers with a reset.
vm_tcp_traffic() { # PORT [BYTES [SECONDS]]
    _port=$1 _bytes=${2:-100000} _limit=${3:-20}
    _out=${TMPDIR:-/tmp}/vm-sink.$_port
    (sleep "$_limit" | timeout "$_limit" nc -l -p "$_port" >"$_out") &
    vm_wait_listen "$_port" || { echo "vm_tcp_traffic: nothing listens on $_port" >&2; return 1; }
    head -c "$_bytes" /dev/zero | timeout "$_limit" nc 127.0.0.1 "$_port" || return 1
    _i=0
    while [ "$(wc -c <"$_out")" -lt "$_bytes" ]; do
        _i=$((_i + 1))
        [ "$_i" -gt $((_limit * 20)) ] && { echo "vm_tcp_traffic: sink got $(wc -c <"$_out") of $_bytes bytes" >&2; return 1; }
        sleep 0.05
    done
    rm -f "$_out"
}
