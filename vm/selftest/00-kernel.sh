# The guest runs the kernel the host prepared, and /init set up the basics.
kver=$(uname -r)
[ "$kver" = "$VM_EXPECTED_KERNEL" ] || vm_fail "running $kver, expected $VM_EXPECTED_KERNEL"
case $kver in "$VM_SERIES".*) ;; *) vm_fail "$kver is not a $VM_SERIES kernel" ;; esac
echo "kernel $kver"

for fs in proc:/proc sysfs:/sys devtmpfs:/dev debugfs:/sys/kernel/debug \
          tracefs:/sys/kernel/tracing bpf:/sys/fs/bpf cgroup2:/sys/fs/cgroup; do
    grep -q " ${fs#*:} ${fs%%:*} " /proc/mounts || vm_fail "${fs%%:*} not mounted on ${fs#*:}"
done
for m in sch_ingress cls_bpf act_bpf sch_netem veth; do
    grep -q "^$m " /proc/modules || vm_fail "module $m not loaded"
done
[ -r /sys/kernel/btf/vmlinux ] || vm_fail "no BTF at /sys/kernel/btf/vmlinux"
ip -o link show lo | grep -q 'UP' || vm_fail "lo is not up"
echo "mounts, modules, BTF and lo are in place"
