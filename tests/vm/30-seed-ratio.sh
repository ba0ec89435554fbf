# The seed's retransmit-ratio script, verbatim, for 12.5 s under 10% loss
# with traffic throughout: its 10 s interval prints the ratio block once
# (with retransmits and sends to 127.0.0.1), then exit prints what the last
# 2.5 s gathered.
# vm-timeout: 90
. tests/vm/common.inc
ft_netem_loss 10%
flowtrace --timeout 12.5 $SEEDS/seed_ratio.ft >"$TMPDIR/out" 2>&1 &
tracer=$!
ft_wait_attached "$TMPDIR/out"
(
    port=6100
    while kill -0 $tracer 2>/dev/null; do
        port=$((port + 1))
        vm_tcp_traffic $port 200000 20 >/dev/null 2>&1
    done
) &
wait $tracer
rc=$?
cat "$TMPDIR/out"
[ $rc = 0 ] || vm_fail "flowtrace exited $rc"
blocks=$(grep -c '^=== Retransmit ratio (last 10s) ===$' "$TMPDIR/out")
[ "$blocks" = 1 ] || vm_fail "expected the ratio block once in 12.5 s, got $blocks"
# The block: from its header to the first blank line after both maps.
awk '/^=== Retransmit ratio/ { on = 1; next } on && /^$/ && seen { exit } on && /^@/ { seen = 1; print }' "$TMPDIR/out" >"$TMPDIR/block"
grep -q '^@retx\[.*, 127\.0\.0\.1\]: [1-9]' "$TMPDIR/block" || vm_fail "no retransmits to 127.0.0.1 in the ratio block"
ft_positive '@sends[nc, 127.0.0.1] in the ratio block' "$(ft_value "$TMPDIR/block" '@sends[nc, 127.0.0.1]')"
