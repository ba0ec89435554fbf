# A wildcard kprobe: every tcp_v4_* function (one program for all). One
# connection passes through tcp_v4_connect once and tcp_v4_rcv for every
# segment; functions the kernel cannot trace (tcp_v4_init is __init code,
# freed after boot) are skipped with a warning, not an error.
# vm-timeout: 90
. tests/vm/common.inc
ft_traffic_script "$TMPDIR/traffic.sh" vm_tcp_traffic 6041 10000
flowtrace --timeout 60 -c "sh $TMPDIR/traffic.sh" -e 'kprobe:tcp_v4_* { @[func] = count(); }' >"$TMPDIR/out" 2>&1
rc=$?
cat "$TMPDIR/out"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc"
# One program serves every matched function (tests/vm/75-kprobe-multi.sh), but
# "Attaching N probes" counts the functions, as bpftrace does.
n=$(sed -n 's/^Attaching \([0-9]*\) probes\.\.\.$/\1/p' "$TMPDIR/out")
[ "${n:-0}" -ge 2 ] || vm_fail "expected one probe per matched function, got '${n}'"
[ "$(ft_value "$TMPDIR/out" '@[tcp_v4_connect]')" = 1 ] || vm_fail "tcp_v4_connect not counted once"
ft_positive '@[tcp_v4_rcv]' "$(ft_value "$TMPDIR/out" '@[tcp_v4_rcv]')"
