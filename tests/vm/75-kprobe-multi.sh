# Wildcard kprobes and kretprobes as one program each: on a kernel with
# kprobe.multi (6.12) one kprobe_multi link per wildcard; elsewhere (6.1)
# one perf-event link per function. Either way `func` and `probe` name the
# function that fired: the per-function counts of the wildcard run equal
# those of single-function probes run at the same time on the same traffic.
# Also prints how long attaching took, with and without kprobe.multi.
# vm-timeout: 240
. tests/vm/common.inc

# Seconds since boot, to 10 ms.
ft_now() { cut -d' ' -f1 /proc/uptime; }

# Seconds from starting `flowtrace ARGS…` (output to FILE) to its Attaching line.
ft_attach_time() { # FILE ARGS…
    _f=$1; shift
    _t0=$(ft_now)
    flowtrace "$@" >"$_f" 2>&1 &
    _pid=$!
    ft_wait_attached "$_f" 150
    _t1=$(ft_now)
    kill -INT "$_pid"; wait "$_pid"
    echo "$_t0 $_t1" | awk '{ printf "%.2f", $2 - $1 }'
}

# The link types a process holds (from its fds' fdinfo), one per line.
ft_link_types() { # PID
    for f in /proc/"$1"/fdinfo/*; do sed -n 's/^link_type:[[:space:]]*//p' "$f" 2>/dev/null; done
}

wild='kprobe:tcp_* { @[func] = count(); @p[probe] = count(); }
kretprobe:tcp_v4_conn* { @r[probe] = count(); }'
single='kprobe:tcp_sendmsg, kprobe:tcp_v4_connect { @[func] = count(); }
kretprobe:tcp_v4_connect, kretprobe:tcp_v4_conn_request { @r[probe] = count(); }'

flowtrace --timeout 200 -e "$wild" >"$TMPDIR/wild" 2>&1 &
wpid=$!
flowtrace --timeout 200 -e "$single" >"$TMPDIR/single" 2>&1 &
spid=$!
ft_wait_attached "$TMPDIR/wild" 150
ft_wait_attached "$TMPDIR/single" 150
types=$(ft_link_types "$wpid" | sort | uniq -c | tr -s ' ' | tr '\n' ';')
echo "wildcard run's links: $types"
vm_tcp_traffic 6075 200000 && vm_tcp_traffic 6076 30000 && vm_tcp_traffic 6077 5000 || vm_fail "traffic failed"
kill -INT "$wpid" "$spid"
wait "$wpid"; wrc=$?
wait "$spid"; src=$?
echo "--- wildcard"; grep -v '^@\[tcp_\|^@p\[kprobe:tcp_' "$TMPDIR/wild"
grep -E '^@(\[|p\[kprobe:)tcp_(sendmsg|v4_connect)\]' "$TMPDIR/wild"
echo "--- single"; cat "$TMPDIR/single"
[ $wrc = 0 ] && [ $src = 0 ] || vm_fail "flowtrace exited $wrc / $src"

case $(uname -r) in
6.1.*) echo "$types" | grep -q kprobe_multi && vm_fail "6.1 has no kprobe.multi, yet: $types"
       echo "$types" | grep -q perf || vm_fail "no perf links on 6.1: $types" ;;
*) echo "$types" | grep -q ' 2 kprobe_multi;' || vm_fail "expected 2 kprobe_multi links: $types" ;;
esac

sends=$(ft_value "$TMPDIR/single" '@[tcp_sendmsg]')
ft_positive '@[tcp_sendmsg]' "$sends"
[ "$(ft_value "$TMPDIR/wild" '@[tcp_sendmsg]')" = "$sends" ] || vm_fail "tcp_sendmsg: wildcard and single probe disagree"
[ "$(ft_value "$TMPDIR/wild" '@p[kprobe:tcp_sendmsg]')" = "$sends" ] || vm_fail "probe: wrong name or count"
[ "$(ft_value "$TMPDIR/wild" '@[tcp_v4_connect]')" = 3 ] || vm_fail "tcp_v4_connect not counted 3 times"
[ "$(ft_value "$TMPDIR/single" '@[tcp_v4_connect]')" = 3 ] || vm_fail "single tcp_v4_connect not 3"
for f in tcp_v4_connect tcp_v4_conn_request; do
    [ "$(ft_value "$TMPDIR/wild" "@r[kretprobe:$f]")" = 3 ] || vm_fail "kretprobe:$f not counted 3 times"
    [ "$(ft_value "$TMPDIR/single" "@r[kretprobe:$f]")" = 3 ] || vm_fail "single kretprobe:$f not 3"
done

# Attach time of kprobe:tcp_*, and where kprobe.multi is used, without it
# (on 6.1 that is the same run: each detach of a kprobe costs the kernel an
# RCU grace period, so this is not repeated there).
multi=$(ft_attach_time "$TMPDIR/t1" -e 'kprobe:tcp_* { @[func] = count(); }')
echo "attach time of kprobe:tcp_*: ${multi}s as run"
case $types in *kprobe_multi*)
    export FLOWTRACE_NO_KPROBE_MULTI=1
    single=$(ft_attach_time "$TMPDIR/t2" -e 'kprobe:tcp_* { @[func] = count(); }')
    unset FLOWTRACE_NO_KPROBE_MULTI
    echo "attach time of kprobe:tcp_*: ${single}s with one link per function" ;;
esac
