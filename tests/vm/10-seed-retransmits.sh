# The seed's retransmit one-liner, verbatim, on real retransmissions: netem
# drops 10% of loopback packets while nc moves 400 kB; -c ends the run (and
# prints the map) when the transfer is done.
# vm-timeout: 90
. tests/vm/common.inc
ft_netem_loss 10%
ft_traffic_script "$TMPDIR/traffic.sh" vm_tcp_traffic 6001 400000 40
flowtrace --timeout 60 -c "sh $TMPDIR/traffic.sh" $SEEDS/seed_retransmits.ft >"$TMPDIR/out" 2>&1
rc=$?
cat "$TMPDIR/out"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc"
n=$(ft_value "$TMPDIR/out" '@retransmits[127.0.0.1]')
ft_positive '@retransmits[127.0.0.1]' "$n"
tc -s qdisc show dev lo | grep -o 'dropped [0-9]*'
