# The builtins whose probe code is unrolled or writes into the ring buffer
# (strcontains with a computed needle, join, buf, tseries, nsecs clocks)
# must pass the verifier of the older guest kernels too, with the output
# the host tests (tests/root_builtins.rs) expect.
# vm-timeout: 90
. tests/vm/common.inc
flowtrace --timeout 30 -c "/bin/busybox true ft-join two" -e '
tracepoint:syscalls:sys_enter_execve /strcontains(str(args.filename), "busybox")/ {
    $needle = "box";
    printf("%d %d\n", strcontains(str(args.filename), $needle), strcontains(str(args.filename), comm));
    join(args.argv, ",");
    printf("[%r] [%rh]\n", buf(args.filename, 5), buf("ab", 2));
    $mono = nsecs(monotonic);
    $boot = nsecs(boot);
    printf("%d\n", $boot >= $mono);
    @t = tseries(7, 10s, 3, "max");
    exit();
}' >"$TMPDIR/out" 2>&1
rc=$?
cat "$TMPDIR/out"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc"
for line in "1 0" "/bin/busybox,true,ft-join,two" "[/bin/] [61 62]" "1"; do
    grep -qxF "$line" "$TMPDIR/out" || vm_fail "missing line: $line"
done
grep -q '|                         \*                         | 7$' "$TMPDIR/out" || vm_fail "no tseries row for 7"
