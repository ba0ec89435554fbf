# The seed's flow one-liner, verbatim: tcp_sendmsg counted per comm and
# destination. Three senders: nc (to port 6002), wget and busybox httpd (the
# HTTP request and response on port 6003). The script's `skc_dport >> 8`
# keeps the high byte of the port as stored (network order), i.e. the low
# byte of the port number: 6002 -> 114, 6003 -> 115.
# vm-timeout: 60
. tests/vm/common.inc
mkdir -p "$TMPDIR/www" && head -c 20000 /dev/zero >"$TMPDIR/www/blob"
httpd -f -p 6003 -h "$TMPDIR/www" &
vm_wait_listen 6003 || vm_fail "httpd does not listen"
ft_traffic_script "$TMPDIR/traffic.sh" "vm_tcp_traffic 6002 100000 && wget -q -O /dev/null http://127.0.0.1:6003/blob"
flowtrace --timeout 40 -c "sh $TMPDIR/traffic.sh" $SEEDS/seed_flows.ft >"$TMPDIR/out" 2>&1
rc=$?
cat "$TMPDIR/out"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc"
ft_positive 'nc to port 6002' "$(ft_value "$TMPDIR/out" '@flows[nc, 127.0.0.1, 114]')"
ft_positive 'wget to port 6003' "$(ft_value "$TMPDIR/out" '@flows[wget, 127.0.0.1, 115]')"
grep -q '^@flows\[httpd, 127\.0\.0\.1, [0-9]*\]: [1-9]' "$TMPDIR/out" || vm_fail "no flow counted for httpd's response"
