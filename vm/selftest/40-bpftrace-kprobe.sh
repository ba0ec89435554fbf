# bpftrace 0.17 from the host runs a kprobe in the guest: a peer for flowtrace.
# vm-timeout: 180
command -v bpftrace >/dev/null || vm_fail "bpftrace missing from the payload"
cat >"$TMPDIR/traffic.sh" <<'TRAFFIC'
. /vm/prelude.sh
vm_tcp_traffic 5003 200000
TRAFFIC
# -c starts the traffic only once the probe is attached, and ends bpftrace
# (printing the map) when it exits.
bpftrace -e 'kprobe:tcp_sendmsg { @sends = count(); }' \
    -c "/usr/bin/busybox sh $TMPDIR/traffic.sh" >"$TMPDIR/out" 2>&1
rc=$?
cat "$TMPDIR/out"
[ $rc = 0 ] || vm_fail "bpftrace exited $rc"
n=$(sed -n 's/^@sends: \([0-9]*\)$/\1/p' "$TMPDIR/out")
[ "${n:-0}" -gt 0 ] || vm_fail "bpftrace counted no tcp_sendmsg calls"
echo "bpftrace counted $n tcp_sendmsg calls"
