# A veth pair across two network namespaces (what tc-program tests use).
trap 'ip netns del vmA 2>/dev/null; ip netns del vmB 2>/dev/null' EXIT
ip netns add vmA && ip netns add vmB || vm_fail "ip netns add failed"
ip link add vA netns vmA type veth peer name vB netns vmB || vm_fail "cannot create a veth pair"
ip -n vmA addr add 10.99.0.1/24 dev vA && ip -n vmA link set vA up
ip -n vmB addr add 10.99.0.2/24 dev vB && ip -n vmB link set vB up
ip netns exec vmA ping -c 2 -W 2 10.99.0.2 || vm_fail "no ping across the veth pair"
