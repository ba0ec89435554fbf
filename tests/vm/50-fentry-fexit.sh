# fentry/fexit with typed arguments: tcp_sendmsg(struct sock *sk, struct
# msghdr *msg, size_t size). nc sends exactly 100000 bytes, so the sizes
# asked for (fentry args.size) and the sizes sent (fexit retval) both sum to
# 100000, and args.sk's destination is 127.0.0.1.
# vm-timeout: 60
. tests/vm/common.inc
ft_traffic_script "$TMPDIR/traffic.sh" vm_tcp_traffic 6031 100000
flowtrace --timeout 40 -c "sh $TMPDIR/traffic.sh" -e '
fentry:tcp_sendmsg /comm == "nc"/ {
    @asked[comm] = sum(args.size);
    @dst[ntop(args.sk->__sk_common.skc_daddr), bswap(args.sk->__sk_common.skc_dport)] = count();
}
fexit:tcp_sendmsg /comm == "nc"/ { @sent[comm] = sum(retval); }' >"$TMPDIR/out" 2>&1
rc=$?
cat "$TMPDIR/out"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc"
[ "$(ft_value "$TMPDIR/out" '@asked[nc]')" = 100000 ] || vm_fail "fentry args.size does not sum to 100000"
[ "$(ft_value "$TMPDIR/out" '@sent[nc]')" = 100000 ] || vm_fail "fexit retval does not sum to 100000"
ft_positive '@dst[127.0.0.1, 6031]' "$(ft_value "$TMPDIR/out" '@dst[127.0.0.1, 6031]')"
