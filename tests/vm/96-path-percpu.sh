# path() (bpf_d_path, allowed only in fentry/fexit of allow-listed functions
# such as security_file_open) and percpu_kaddr() (a per-CPU kernel variable by its
# BTF id; the host kernel cannot resolve data symbols, these kernels can).
# vm-timeout: 90
. tests/vm/common.inc
flowtrace --timeout 30 -c "cat /proc/version" -e '
fentry:security_file_open /comm == "cat"/ { printf("opened %s\n", path(args.file->f_path)); }' >"$TMPDIR/out" 2>&1
rc=$?
cat "$TMPDIR/out"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc"
grep -qx "opened /proc/version" "$TMPDIR/out" || vm_fail "path() did not name /proc/version"
flowtrace --timeout 20 -e '
interval:ms:10 {
    $rq = (struct rq *)percpu_kaddr("runqueues", 0);
    $here = (struct rq *)percpu_kaddr("runqueues");
    printf("rq %d %d %d %d\n", $rq != 0, $rq->cpu, $here->cpu == cpu, percpu_kaddr("runqueues", 100000) == 0);
    exit();
}' >"$TMPDIR/out2" 2>&1
rc=$?
cat "$TMPDIR/out2"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc"
grep -qx "rq 1 0 1 1" "$TMPDIR/out2" || vm_fail "percpu_kaddr() did not find CPU 0's and this CPU's runqueue"
