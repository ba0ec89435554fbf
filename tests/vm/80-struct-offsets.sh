# Struct layouts differ between 6.1, 6.12 and the host's 6.18: the same
# script reads struct sock_common through a kprobe argument and must see the
# connection nc makes (127.0.0.1, port 6051, IPv4) on every kernel. The host
# runs the tracepoint form of it (tests/root_kprobe_host.rs).
# vm-timeout: 60
. tests/vm/common.inc
ft_traffic_script "$TMPDIR/traffic.sh" vm_tcp_traffic 6051 1000
flowtrace --timeout 40 -c "sh $TMPDIR/traffic.sh" -e 'kprobe:tcp_sendmsg /comm == "nc"/ {
    $sk = (struct sock *)arg0;
    printf("daddr=%s dport=%d family=%d\n", ntop($sk->__sk_common.skc_daddr),
           bswap($sk->__sk_common.skc_dport), $sk->__sk_common.skc_family);
    exit();
}' >"$TMPDIR/out" 2>&1
rc=$?
cat "$TMPDIR/out"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc"
grep -q '^daddr=127\.0\.0\.1 dport=6051 family=2$' "$TMPDIR/out" || vm_fail "wrong sock_common fields on $(uname -r)"
