# netem loss on lo makes real TCP retransmissions (the host kernel has no netem).
# lo's 64 KiB MTU would carry the transfer in a handful of packets, so a lost
# one is usually the tail (a 200 ms+ timeout, doubling); at 1500 bytes many
# segments are in flight and most losses are repaired by fast retransmit.
# 5%, not more: a lost SYN costs a fixed 1 s, two cost 3 s.
trap 'tc qdisc del dev lo root 2>/dev/null; ip link set lo mtu 65536' EXIT
retrans() { awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "RetransSegs") c = i; h = 1 } else print $c }' /proc/net/snmp; }
ip link set lo mtu 1500
before=$(retrans)
tc qdisc add dev lo root netem loss 5% || vm_fail "cannot add netem loss on lo"
tc qdisc show dev lo | grep -q 'netem.*loss 5%' || vm_fail "netem qdisc not listed"
vm_tcp_traffic 5002 500000 40 || vm_fail "transfer under 5% loss did not complete"
after=$(retrans)
drops=$(tc -s qdisc show dev lo | awk '/dropped/ { sub(",", "", $7); print $7; exit }')
echo "RetransSegs $before -> $after, netem dropped $drops"
[ "$after" -gt "$before" ] || vm_fail "no TCP retransmissions under 5% loss"
