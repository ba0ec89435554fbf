# The host's tc (not busybox's applet) can add a clsact qdisc to lo.
[ -x /usr/sbin/tc ] || vm_fail "/usr/sbin/tc missing from the payload"
trap 'tc qdisc del dev lo clsact 2>/dev/null' EXIT
tc qdisc add dev lo clsact || vm_fail "tc qdisc add dev lo clsact failed"
tc qdisc show dev lo
tc qdisc show dev lo | grep -q '^qdisc clsact' || vm_fail "clsact not listed on lo"
