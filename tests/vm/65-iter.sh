# iter: probes (BPF iterators), which need tracing programs and so run only
# in the guests. The test makes its own objects and asserts on exactly them:
# - iter:tcp: a listener on 6744 and an open connection on 6741 (busybox nc
#   -l closes its listener once it accepts) show up with their ports and
#   states (LISTEN 10, ESTABLISHED 1); a connection that
#   moved 400 kB through 10% netem loss shows total_retrans > 0 (ctx.sk_common
#   cast to struct tcp_sock), with srtt_us read the same way;
# - iter:task: pid 1 with its comm, and a sleep the test started;
# - -p PID: iter:task visits only that sleep;
# - iter:task_file: that sleep's fd 7, opened on a file whose inode is known;
# - iter:udp: a bound UDP port (busybox udhcpd's 67);
# - count() sees each object once (the NULL end-of-iteration call skipped);
# - -l 'iter:*' lists the kernel's iterators, -lv the context's fields.
# vm-timeout: 120
. tests/vm/common.inc

# Ports no other VM test uses: sockets of earlier tests in the same boot
# (TIME_WAIT ones live 60 s) would be counted too.
# --- iter:tcp: exact sockets -------------------------------------------------
(sleep 60 | timeout 60 nc -l -p 6744 >/dev/null) &
(sleep 60 | timeout 60 nc -l -p 6741 >/dev/null) &
vm_wait_listen 6744 || vm_fail "nothing listens on 6744"
vm_wait_listen 6741 || vm_fail "nothing listens on 6741"
(sleep 60 | timeout 60 nc 127.0.0.1 6741) &
i=0
until grep -q '0100007F:1A55 01' /proc/net/tcp; do
    i=$((i + 1)); [ $i -gt 100 ] && vm_fail "the connection to 6741 never became established"; sleep 0.05
done
timeout 60 flowtrace -e 'iter:tcp {
    $sk = ctx.sk_common;
    $lport = $sk->skc_num;
    $rport = bswap($sk->skc_dport);
    if ($lport == 6741 || $rport == 6741 || $lport == 6744) {
        printf("tcp %d %d %d %d\n", $sk->skc_family, $lport, $rport, $sk->skc_state);
    }
}' >"$TMPDIR/tcp" 2>&1
rc=$?
cat "$TMPDIR/tcp"
[ $rc = 0 ] || vm_fail "iter:tcp exited $rc"
# busybox nc -l listens on a dual-stack IPv6 socket (AF_INET6 = 10), which
# also holds the accepted connection; the client is IPv4 (AF_INET = 2).
grep -qx 'tcp 10 6744 0 10' "$TMPDIR/tcp" || vm_fail "iter:tcp: no LISTEN socket on 6744"
grep -q '^tcp 2 [0-9]* 6741 1$' "$TMPDIR/tcp" || vm_fail "iter:tcp: no established client socket to 6741"
grep -q '^tcp 10 6741 [0-9]* 1$' "$TMPDIR/tcp" || vm_fail "iter:tcp: no established server socket on 6741"
client=$(awk '$1 == "tcp" && $2 == 2 && $4 == 6741 { print $3 }' "$TMPDIR/tcp")
grep -q "^tcp 10 6741 $client 1\$" "$TMPDIR/tcp" || vm_fail "iter:tcp: the server socket's peer port is not the client's ($client)"
[ "$(grep -c '^tcp ' "$TMPDIR/tcp")" = 3 ] || vm_fail "iter:tcp: expected exactly 3 sockets (6744 listening, both ends on 6741)"

# --- iter:task, iter:task_file: pid 1 and a process of ours -----------------
echo flowtrace >"$TMPDIR/marker"
inode=$(stat -c %i "$TMPDIR/marker")
sleep 60 7<"$TMPDIR/marker" &
sleeper=$!
timeout 60 flowtrace -e 'iter:task { printf("task %d %d %s\n", ctx.task->tgid, ctx.task->pid, str(ctx.task->comm)); @tasks = count(); }' >"$TMPDIR/task" 2>&1
rc=$?
[ $rc = 0 ] || { cat "$TMPDIR/task"; vm_fail "iter:task exited $rc"; }
head -5 "$TMPDIR/task"
grep -qx "task 1 1 $(cat /proc/1/comm)" "$TMPDIR/task" || vm_fail "iter:task: pid 1 ($(cat /proc/1/comm)) is missing"
grep -qx "task $sleeper $sleeper sleep" "$TMPDIR/task" || vm_fail "iter:task: our sleep ($sleeper) is missing"
# One count per task line: the kernel's extra call with a NULL task is not counted.
[ "$(ft_value "$TMPDIR/task" '@tasks')" = "$(grep -c '^task ' "$TMPDIR/task")" ] || vm_fail "iter:task: count() differs from the number of tasks printed"

# -p PID restricts a task iterator to that process (the kernel's
# iter_info.task.pid, Linux 6.1).
timeout 60 flowtrace -p "$sleeper" -e 'iter:task { printf("only %d %d %s\n", ctx.task->tgid, ctx.task->pid, str(ctx.task->comm)); }' >"$TMPDIR/only" 2>&1
rc=$?
cat "$TMPDIR/only"
[ $rc = 0 ] || vm_fail "iter:task -p exited $rc"
[ "$(grep '^only ' "$TMPDIR/only")" = "only $sleeper $sleeper sleep" ] || vm_fail "iter:task -p $sleeper: not exactly our sleep"

timeout 60 flowtrace -e "iter:task_file /ctx.task->tgid == $sleeper/ { printf(\"file %d %d\\n\", ctx.fd, ctx.file->f_inode->i_ino); }" >"$TMPDIR/files" 2>&1
rc=$?
cat "$TMPDIR/files"
[ $rc = 0 ] || vm_fail "iter:task_file exited $rc"
grep -qx "file 7 $inode" "$TMPDIR/files" || vm_fail "iter:task_file: fd 7 on inode $inode is missing"

# --- iter:udp: a bound port ---------------------------------------------------
# busybox nc has no UDP mode; busybox's DHCP server binds UDP port 67.
mkdir -p "$TMPDIR/dhcp"
printf 'interface lo\nstart 127.0.0.10\nend 127.0.0.20\nlease_file %s/leases\npidfile %s/pid\n' "$TMPDIR/dhcp" "$TMPDIR/dhcp" >"$TMPDIR/dhcp/conf"
touch "$TMPDIR/dhcp/leases"
(timeout 60 udhcpd -f "$TMPDIR/dhcp/conf" >"$TMPDIR/dhcp/log" 2>&1) &
i=0
until grep -q ':0043 ' /proc/net/udp; do
    i=$((i + 1)); [ $i -gt 100 ] && { cat "$TMPDIR/dhcp/log"; vm_fail "nothing is bound to udp 67"; }; sleep 0.05
done
timeout 60 flowtrace -e 'iter:udp { $sk = (struct sock *)ctx.udp_sk; if ($sk->__sk_common.skc_num == 67) { printf("udp %d %d\n", $sk->__sk_common.skc_family, $sk->__sk_common.skc_num); } }' >"$TMPDIR/udp" 2>&1
rc=$?
cat "$TMPDIR/udp"
[ $rc = 0 ] || vm_fail "iter:udp exited $rc"
grep -qx 'udp 2 67' "$TMPDIR/udp" || vm_fail "iter:udp: the socket bound to port 67 is missing"

# --- listing ------------------------------------------------------------------
flowtrace -l 'iter:*' >"$TMPDIR/list" 2>&1 || { cat "$TMPDIR/list"; vm_fail "-l 'iter:*' failed"; }
for it in task task_file tcp udp; do
    grep -qx "iter:$it" "$TMPDIR/list" || { cat "$TMPDIR/list"; vm_fail "-l 'iter:*' does not list iter:$it"; }
done
flowtrace -lv 'iter:tcp' >"$TMPDIR/listv" 2>&1
cat "$TMPDIR/listv"
grep -q '^ *struct sock_common \* *sk_common$' "$TMPDIR/listv" || vm_fail "-lv 'iter:tcp' does not show sk_common"

# --- iter:tcp: retransmissions, the per-connection ground truth -------------
ft_netem_loss 10%
(sleep 60 | timeout 60 nc -l -p 6042 >"$TMPDIR/sink") &
vm_wait_listen 6042 || vm_fail "nothing listens on 6042"
( (head -c 400000 /dev/zero; sleep 60) | timeout 60 nc 127.0.0.1 6042) &
i=0
while [ "$(wc -c <"$TMPDIR/sink")" -lt 400000 ]; do
    i=$((i + 1)); [ $i -gt 800 ] && vm_fail "the sink got $(wc -c <"$TMPDIR/sink") of 400000 bytes"; sleep 0.05
done
timeout 60 flowtrace -e 'iter:tcp {
    $tp = (struct tcp_sock *)ctx.sk_common;
    if (bswap(ctx.sk_common->skc_dport) == 6042) {
        printf("retrans %d srtt_us %d\n", $tp->total_retrans, $tp->srtt_us >> 3);
    }
}' >"$TMPDIR/retrans" 2>&1
rc=$?
cat "$TMPDIR/retrans"
tc -s qdisc show dev lo | grep -o 'dropped [0-9]*'
[ $rc = 0 ] || vm_fail "iter:tcp (retransmits) exited $rc"
[ "$(grep -c '^retrans ' "$TMPDIR/retrans")" = 1 ] || vm_fail "iter:tcp: expected the one client socket to 6042"
n=$(awk '$1 == "retrans" { print $2 }' "$TMPDIR/retrans")
ft_positive 'total_retrans of the lossy connection' "$n"
srtt=$(awk '$1 == "retrans" { print $4 }' "$TMPDIR/retrans")
ft_positive 'srtt_us of the lossy connection' "$srtt"
