# kprobes work: a tracefs kprobe on tcp_sendmsg counts loopback TCP sends.
# (The host kernel has CONFIG_KPROBES unset; this is why the VM tier exists.)
T=/sys/kernel/tracing
[ -w $T/kprobe_events ] || vm_fail "$T/kprobe_events is not writable"
cleanup() {
    echo 0 >$T/events/kprobes/vm_sendmsg/enable 2>/dev/null
    echo '-:vm_sendmsg' >>$T/kprobe_events 2>/dev/null
}
trap cleanup EXIT
echo 'p:vm_sendmsg tcp_sendmsg' >>$T/kprobe_events || vm_fail "cannot add a kprobe on tcp_sendmsg"
echo 1 >$T/events/kprobes/vm_sendmsg/enable
echo >$T/trace

vm_tcp_traffic 5001 200000 || vm_fail "no loopback TCP traffic"

hits=$(awk '$1 == "vm_sendmsg" { print $2 }' $T/kprobe_profile)
traced=$(grep -c 'vm_sendmsg:' $T/trace)
echo "kprobe_profile hits=$hits, trace lines=$traced"
[ "${hits:-0}" -gt 0 ] || vm_fail "kprobe on tcp_sendmsg never hit"
[ "$traced" -gt 0 ] || vm_fail "no vm_sendmsg events in the trace buffer"
