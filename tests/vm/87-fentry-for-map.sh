# for ($kv : @map) and len(@map) in fentry/fexit programs: their callback
# subprograms load with program BTF (func_info) next to the traced
# function's attach BTF id, through flowtrace's own loader; so do bpf_loop
# ranges and while loops. nc sends 100000
# bytes; the fexit probe walks the map the fentry probe filled.
# vm-timeout: 60
. tests/vm/common.inc
ft_traffic_script "$TMPDIR/traffic.sh" vm_tcp_traffic 6087 100000
flowtrace --timeout 40 -c "sh $TMPDIR/traffic.sh" -e '
fentry:tcp_sendmsg /comm == "nc"/ { @asked[args.sk->__sk_common.skc_family] = sum(args.size); @seen["fentry"] = 1; }
fexit:tcp_sendmsg /comm == "nc"/ {
    @seen["fexit"] = 1;
    $total = 0;
    for ($kv : @asked) { $total += $kv.1; }
    @last_total = $total;
    @keys = len(@seen);
    $c = 0;
    for ($i : 0..3000) { $c++; }
    $w = 0;
    while ($w < @last_total) { $w++; }
    @rounds = ($c, $w);
}
END { printf("total %d keys %d\n", @last_total, @keys); print(@rounds); clear(@asked); clear(@seen); clear(@last_total); clear(@keys); clear(@rounds); }' >"$TMPDIR/out" 2>&1
rc=$?
cat "$TMPDIR/out"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc"
grep -q '^total 100000 keys 2$' "$TMPDIR/out" || vm_fail "for over a map / len() in fexit gave the wrong result"
# Ranges and while loops run by bpf_loop there too: past the 1024-round cap
# of back edges, and a while bound the verifier cannot see (from a map).
grep -q '^@rounds: (3000, 100000)$' "$TMPDIR/out" || vm_fail "bpf_loop range/while in fexit gave the wrong round counts"
if grep -q 'stopped after' "$TMPDIR/out"; then vm_fail "a bpf_loop loop in fexit was reported as cut"; fi
