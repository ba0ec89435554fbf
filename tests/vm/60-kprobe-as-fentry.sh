# A kernel without kprobes (simulated: FLOWTRACE_NO_KPROBES=1) where fentry
# works runs kprobe probes as fentry/fexit after a one-line notice, with the
# same argN (the seed flow script, verbatim) and retval (bytes sent).
# vm-timeout: 60
. tests/vm/common.inc
ft_traffic_script "$TMPDIR/traffic.sh" vm_tcp_traffic 6002 100000
FLOWTRACE_NO_KPROBES=1 flowtrace --timeout 40 -c "sh $TMPDIR/traffic.sh" $SEEDS/seed_flows.ft >"$TMPDIR/out" 2>&1
rc=$?
cat "$TMPDIR/out"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc"
grep -q '^flowtrace: this kernel has no kprobes; running kprobe/kretprobe probes as fentry/fexit' "$TMPDIR/out" ||
    vm_fail "no notice about running kprobes as fentry"
ft_positive '@flows[nc, 127.0.0.1, 114]' "$(ft_value "$TMPDIR/out" '@flows[nc, 127.0.0.1, 114]')"

ft_traffic_script "$TMPDIR/traffic2.sh" vm_tcp_traffic 6032 100000
FLOWTRACE_NO_KPROBES=1 flowtrace --timeout 40 -c "sh $TMPDIR/traffic2.sh" -e '
kprobe:tcp_sendmsg /comm == "nc"/ { @asked[comm, func] = sum(arg2); }
kretprobe:tcp_sendmsg /comm == "nc"/ { @sent[comm, probe] = sum(retval); }' >"$TMPDIR/out2" 2>&1
rc=$?
cat "$TMPDIR/out2"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc"
[ "$(ft_value "$TMPDIR/out2" '@asked[nc, tcp_sendmsg]')" = 100000 ] || vm_fail "arg2 does not sum to 100000"
[ "$(ft_value "$TMPDIR/out2" '@sent[nc, kretprobe:tcp_sendmsg]')" = 100000 ] || vm_fail "retval does not sum to 100000"
