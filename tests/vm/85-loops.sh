# Every loop form must pass the verifier of each guest kernel, 6.1 included
# (bpf_loop callbacks for ranges where the kernel has them, 5.17; bounded back edges otherwise and for while): while with break/continue, unroll, for
# over constant ranges, over a range read from a map (unknown to the
# verifier: bounded by the round cap), nested loops, a loop inside a block
# expression, and exit(code) from inside a loop. Then a kprobe reads a count
# aggregation inside the probe (bpf_map_lookup_percpu_elem, since 5.19).
# for ($kv : @map) runs its body as a bpf_for_each_map_elem callback (5.13),
# loaded with program BTF: in BEGIN/END, and in a kprobe whose body reads the
# probe's context (arg2) and a per-CPU count's total.
# vm-timeout: 90
. tests/vm/common.inc
cat >"$TMPDIR/loops.bt" <<'FT'
BEGIN {
    $i = 0;
    while ($i < 5) {
        $i++;
        if ($i == 2) { continue; }
        if ($i == 4) { break; }
        printf("while %d\n", $i);
    }
    $u = 1;
    unroll (3) { $u = $u * 2; }
    printf("unroll %d\n", $u);
    for ($j : 0..3) { printf("for %d\n", $j); }
    @n = 4;
    $sum = 0;
    for ($k : 1..@n) {
        for ($l : 0..$k) {
            if ($l == 1) { continue; }
            $sum += $l;
        }
        if ($k == 3) { break; }
    }
    printf("nested %d\n", $sum);
    for ($m : (-2)..1) { printf("neg %d\n", $m); }
    for ($e : 5..5) { printf("never\n"); }
    $b = { let $x = 10; for ($q : 0..3) { $x += $q; } $x };
    printf("block %d\n", $b);
    delete(@n);
    for ($r : 0..3) { if ($r == 1) { exit(7); } printf("r %d\n", $r); }
}
FT
# Ranges as bpf_loop callbacks (both guests have the helper), then as
# bounded back edges (what kernels without it get): same output.
for back_edge in 0 1; do
FLOWTRACE_NO_BPF_LOOP=$back_edge flowtrace --timeout 40 "$TMPDIR/loops.bt" >"$TMPDIR/out" 2>&1
rc=$?
cat "$TMPDIR/out"
[ $rc = 7 ] || vm_fail "flowtrace exited $rc, not exit(7)'s 7 (FLOWTRACE_NO_BPF_LOOP=$back_edge)"
cat >"$TMPDIR/want" <<'OUT'
Attaching 1 probe...
while 1
while 3
unroll 8
for 0
for 1
for 2
nested 2
neg -2
neg -1
neg 0
block 13
r 0



OUT
diff "$TMPDIR/want" "$TMPDIR/out" || vm_fail "loop output differs on $(uname -r) (FLOWTRACE_NO_BPF_LOOP=$back_edge)"
done

# A bound the verifier cannot know (from a map) beyond the 1024-round cap:
# it verifies, stops at the cap, and the cut is reported at exit.
FLOWTRACE_NO_BPF_LOOP=1 flowtrace --timeout 40 -e 'BEGIN { @n = 3000; $c = 0; for ($i : 0..@n) { $c++; } printf("rounds %d\n", $c); delete(@n); exit(); }' >"$TMPDIR/out3" 2>&1
rc=$?
cat "$TMPDIR/out3"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc"
grep -q '^rounds 1024$' "$TMPDIR/out3" || vm_fail "the range did not stop at the cap"
grep -q 'warning: 1 for-loop range(s) stopped after 1024 rounds' "$TMPDIR/out3" || vm_fail "the cut was not reported"
# With bpf_loop the same range runs all its rounds.
flowtrace --timeout 40 -e 'BEGIN { @n = 3000; $c = 0; for ($i : 0..@n) { $c++; } printf("rounds %d\n", $c); delete(@n); exit(); }' >"$TMPDIR/out3b" 2>&1
rc=$?
cat "$TMPDIR/out3b"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc"
grep -q '^rounds 3000$' "$TMPDIR/out3b" || vm_fail "the bpf_loop range did not run 3000 rounds"
grep -q 'stopped after' "$TMPDIR/out3b" && vm_fail "a bpf_loop range within its limit was reported as cut"

# With bpf_loop a while needs no bound the verifier sees, and a counter
# tested in a range body verifies (variables made unknown before the loop).
flowtrace --timeout 40 -e 'BEGIN { @n = 3000; $i = 0; while ($i < @n) { $i++; if ($i > 2500) { break; } } $c = 0; for ($r : 0..@n) { $c++; if ($c > 2000) { break; } } printf("while %d counter %d\n", $i, $c); delete(@n); exit(); }' >"$TMPDIR/out3c" 2>&1
rc=$?
cat "$TMPDIR/out3c"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc"
grep -q '^while 2501 counter 2001$' "$TMPDIR/out3c" || vm_fail "while/for by bpf_loop gave the wrong result"

ft_traffic_script "$TMPDIR/traffic.sh" vm_tcp_traffic 6085 100000
flowtrace --timeout 40 -c "sh $TMPDIR/traffic.sh" -e 'kprobe:tcp_sendmsg /comm == "nc"/ {
    @calls = count();
    if (@calls >= 2) { printf("read %d\n", (int64)@calls); clear(@calls); exit(); }
}' >"$TMPDIR/out2" 2>&1
rc=$?
cat "$TMPDIR/out2"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc"
grep -q '^read 2$' "$TMPDIR/out2" || vm_fail "count() read inside the probe is not the total"

# for over maps: a callback subprogram with program BTF and func_info.
cat >"$TMPDIR/formap.bt" <<'FT'
BEGIN {
    @n[1] = 10; @n[2] = 20; @n[3] = 30; @n[-4] = 40;
    $sum = 0; $keys = 0;
    for ($kv : @n) { $sum += $kv.1; $keys += $kv.0; }
    printf("sum %d keys %d\n", $sum, $keys);
    @s["abc", 7] = "aa"; @s["de", 8] = "bbb";
    for ($kv : @s) { @back[$kv.1] = ($kv.0.1, $kv.0.0); }
    @one["only"] = 5;
    for ($kv : @one) { printf("key %s value %d\n", $kv.0, $kv.1); print($kv); }
    $seen = 0;
    for ($kv : @n) { $seen++; break; }
    printf("break after %d\n", $seen);
    $odd = 0;
    for ($kv : @n) { if ($kv.1 % 20 == 0) { continue; } $odd += $kv.1; }
    printf("continue: %d\n", $odd);
    for ($kv : @one) { for ($in : @n) { printf("B"); } printf("A\n"); }
    $v = 1;
    for ($kv : @n) { $v *= 2; }
    printf("doubled %d\n", $v);
    for ($kv : @n) { if ($kv.0 < 0) { delete(@n, $kv.0); } }
    for ($kv : @one) { if ($kv.1 == 5) { printf("leaving\n"); exit(); } }
    printf("not reached\n");
}
END { for ($kv : @s) { delete(@s, $kv.0); } for ($kv : @one) { return; } printf("not reached in END\n"); }
FT
flowtrace --timeout 40 "$TMPDIR/formap.bt" >"$TMPDIR/out4" 2>&1
rc=$?
cat "$TMPDIR/out4"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc on the for-map script"
cat >"$TMPDIR/want4" <<'OUT'
Attaching 2 probes...
sum 100 keys 2
key only value 5
(only, 5)
break after 1
continue: 40
BBBBA
doubled 16
leaving


@back[aa]: (7, abc)
@back[bbb]: (8, de)
@n[1]: 10
@n[2]: 20
@n[3]: 30
@one[only]: 5

OUT
diff "$TMPDIR/want4" "$TMPDIR/out4" || vm_fail "for-map output differs on $(uname -r)"

ft_traffic_script "$TMPDIR/traffic5.sh" vm_tcp_traffic 6086 100000
flowtrace --timeout 40 -c "sh $TMPDIR/traffic5.sh" -e 'kprobe:tcp_sendmsg /comm == "nc"/ {
    @calls["send"] = count();
    for ($kv : @calls) {
        if ($kv.1 >= 2) { printf("for-map %s %d size>0 %d\n", $kv.0, $kv.1, arg2 > 0); clear(@calls); exit(); }
    }
}' >"$TMPDIR/out5" 2>&1
rc=$?
cat "$TMPDIR/out5"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc on the for-map kprobe"
grep -q '^for-map send 2 size>0 1$' "$TMPDIR/out5" || vm_fail "for-map in a kprobe did not read the total and the context"
