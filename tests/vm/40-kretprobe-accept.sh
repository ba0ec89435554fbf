# kretprobe retval: inet_csk_accept returns the accepted socket. Three
# connections to three listeners: three kernel pointers (ff… in the direct
# map, whether paging has 4 or 5 levels), each a socket
# whose local port (read through the returned pointer) is its listener's.
# vm-timeout: 60
. tests/vm/common.inc
ft_traffic_script "$TMPDIR/traffic.sh" "vm_tcp_traffic 6011 1000 && vm_tcp_traffic 6012 1000 && vm_tcp_traffic 6013 1000"
flowtrace --timeout 40 -c "sh $TMPDIR/traffic.sh" -e 'kretprobe:inet_csk_accept {
    $sk = (struct sock *)retval;
    printf("accepted sk=%lx lport=%d\n", retval, $sk->__sk_common.skc_num);
    @accepts = count();
}' >"$TMPDIR/out" 2>&1
rc=$?
cat "$TMPDIR/out"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc"
[ "$(ft_value "$TMPDIR/out" '@accepts')" = 3 ] || vm_fail "expected 3 accepts"
for port in 6011 6012 6013; do
    grep -q "^accepted sk=ff[0-9a-f]\{14\} lport=$port\$" "$TMPDIR/out" ||
        vm_fail "no accept with a kernel socket pointer on port $port"
done
