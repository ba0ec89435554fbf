# fentry/fexit typed into an interactive session, as entries after the first:
# they load against the maps the session already has, through the same loader
# as a script. The session runs on a pseudo-terminal (util-linux `script`,
# listed in vm-payload; busybox has none), and its keys are typed one line at
# a time, each after the session answered the previous one. nc sends exactly
# 100000 bytes, so fexit's retval and fentry's args.size both sum to 100000.
# vm-timeout: 120
. tests/vm/common.inc
command -v script >/dev/null || vm_fail "no 'script' (util-linux) in the guest: add /usr/bin/script"
out=$TMPDIR/session
mkfifo "$TMPDIR/keys"
HOME=$TMPDIR TERM=xterm timeout 100 script -q -f -c flowtrace /dev/null <"$TMPDIR/keys" >"$out" 2>&1 &
exec 3>"$TMPDIR/keys"

# Wait until the session printed TEXT (a grep pattern).
ft_await() { # TEXT [SECONDS]
    _i=0
    while ! grep -q "$1" "$out"; do
        _i=$((_i + 1))
        [ "$_i" -gt $((${2:-40} * 10)) ] && { cat "$out"; vm_fail "the session did not print '$1'"; }
        sleep 0.1
    done
}

ft_await 'interactive session'
printf 'tracepoint:sock:inet_sock_set_state /args.dport == 6041 || args.sport == 6041/ { @st[args.newstate] = count(); }\r' >&3
ft_await 'probe 1 attached: tracepoint:sock:inet_sock_set_state'
printf 'fexit:tcp_sendmsg /comm == "nc"/ { @sent[comm] = sum(retval); }\r' >&3
ft_await 'probe 2 attached: fexit:tcp_sendmsg'
printf 'fentry:tcp_sendmsg /comm == "nc"/ { @asked[comm] = sum(args.size); }\r' >&3
ft_await 'probe 3 attached: fentry:tcp_sendmsg'
vm_tcp_traffic 6041 100000 || vm_fail "no traffic on port 6041"
sleep 0.5
printf 'print(@sent); print(@asked)\r' >&3
ft_await '@asked\[nc\]: '
printf '.quit\r' >&3
ft_await 'detached 3 probe(s)'
exec 3>&-
wait
cat "$out"
tr -d '\r' <"$out" >"$out.txt"
[ "$(ft_value "$out.txt" '@sent[nc]')" = 100000 ] || vm_fail "fexit retval in the session does not sum to 100000"
[ "$(ft_value "$out.txt" '@asked[nc]')" = 100000 ] || vm_fail "fentry args.size in the session does not sum to 100000"
grep -q 'error' "$out.txt" && vm_fail "the session printed an error"
exit 0
