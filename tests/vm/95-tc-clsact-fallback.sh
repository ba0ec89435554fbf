# tc probes on the kernel's own choice of path: on 6.1 (no TCX) flowtrace
# falls back to clsact + cls_bpf by itself; on 6.12 it uses TCX links. Either
# way: exactly one SYN in and one SYN-ACK out for one loopback connection,
# and nothing left after exit (no filter, and no clsact qdisc: flowtrace
# created it). Then the clsact path after SIGKILL: the filter stays, the next
# run reports it, --cleanup-stale removes it.
# vm-timeout: 120
. tests/vm/common.inc
TC=/usr/sbin/tc
ft_traffic_script "$TMPDIR/traffic.sh" "$TC filter show dev lo ingress >$TMPDIR/filters; vm_tcp_traffic 6061 20000"
flowtrace --timeout 60 -c "sh $TMPDIR/traffic.sh" -e '
tc:lo:ingress /proto == IPPROTO_TCP && dport == 6061 && (tcpflags & (TCP_SYN | TCP_ACK)) == TCP_SYN/ { @syn = count(); }
tc:lo:egress /proto == IPPROTO_TCP && sport == 6061 && (tcpflags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)/ { @synack = count(); }
' >"$TMPDIR/out" 2>&1
rc=$?
cat "$TMPDIR/out"
echo "filters while attached:"; cat "$TMPDIR/filters"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc"
case $(uname -r) in
6.1.*) grep -q 'flowtrace/' "$TMPDIR/filters" || vm_fail "6.1 has no TCX: expected a flowtrace cls_bpf filter" ;;
*) grep -q 'flowtrace/' "$TMPDIR/filters" && vm_fail "$(uname -r) has TCX: expected no cls_bpf filter" ;;
esac
[ "$(ft_value "$TMPDIR/out" '@syn')" = 1 ] || vm_fail "expected exactly one SYN on lo ingress"
[ "$(ft_value "$TMPDIR/out" '@synack')" = 1 ] || vm_fail "expected exactly one SYN-ACK on lo egress"
$TC filter show dev lo ingress | grep -q flowtrace && vm_fail "a filter is left on lo ingress"
$TC qdisc show dev lo | grep -q clsact && vm_fail "flowtrace created the clsact qdisc and left it"

# SIGKILL on the clsact path.
FLOWTRACE_TC_MODE=clsact flowtrace -e 'tc:lo:egress { @n = count(); }' >"$TMPDIR/killed" 2>&1 &
pid=$!
ft_wait_attached "$TMPDIR/killed"
kill -9 "$pid"
wait "$pid"
$TC filter show dev lo egress | grep -q 'flowtrace/' || vm_fail "a SIGKILLed run leaves its filter"
FLOWTRACE_TC_MODE=clsact flowtrace --timeout 1 -e 'tc:lo:ingress { @n = count(); }' >"$TMPDIR/warned" 2>&1
cat "$TMPDIR/warned"
grep -q 'left by a flowtrace that is no longer running' "$TMPDIR/warned" || vm_fail "the stale filter was not reported"
grep -q 'tc filter del dev lo egress pref 1 handle 0x' "$TMPDIR/warned" || vm_fail "no removal command"
flowtrace --cleanup-stale --timeout 1 -e 'tc:lo:ingress { @n = count(); }' >"$TMPDIR/cleaned" 2>&1
cat "$TMPDIR/cleaned"
grep -q 'removed stale tc filter lo egress' "$TMPDIR/cleaned" || vm_fail "--cleanup-stale did not remove it"
$TC filter show dev lo egress | grep -q flowtrace && vm_fail "the stale filter is still there"
exit 0
