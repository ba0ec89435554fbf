# netem loss on lo makes real TCP retransmissions (the host kernel has no netem).
# vm-timeout: 60
trap 'tc qdisc del dev lo root 2>/dev/null' EXIT
retrans() { awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "RetransSegs") c = i; h = 1 } else print $c }' /proc/net/snmp; }
before=$(retrans)
tc qdisc add dev lo root netem loss 10% || vm_fail "cannot add netem loss on lo"
tc qdisc show dev lo | grep -q 'netem.*loss 10%' || vm_fail "netem qdisc not listed"
vm_tcp_traffic 5002 2000000 40 || vm_fail "transfer under 10% loss did not complete"
after=$(retrans)
drops=$(tc -s qdisc show dev lo | awk '/dropped/ { sub(",", "", $7); print $7; exit }')
echo "RetransSegs $before -> $after, netem dropped $drops"
[ "$after" -gt "$before" ] || vm_fail "no TCP retransmissions under 10% loss"
