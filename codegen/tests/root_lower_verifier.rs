//! Every construct, compiled from source and loaded through the kernel
//! verifier by the production loader (load only; attaching is tested in
//! root_lower_values.rs).

use flowtrace_testkit::program::{compiled, TestProgram};
use flowtrace_testkit::root_tests_enabled;

/// Compile `text` and load every program; the error names the program and
/// carries the verifier log.
fn verify(text: &str) -> Result<(), String> {
    TestProgram::load(compiled(text)).map(|_| ()).map_err(|e| format!("{text}\n{e}"))
}

fn verify_all(name: &str, programs: &[&str]) {
    if !root_tests_enabled(name) {
        return;
    }
    let failures: Vec<String> = programs.iter().filter_map(|p| verify(p).err()).collect();
    assert!(failures.is_empty(), "{} of {} rejected:\n{}", failures.len(), programs.len(), failures.join("\n\n"));
}

const TP: &str = "tracepoint:sock:inet_sock_set_state";

#[test]
fn aggregations_pass_the_verifier() {
    let programs: Vec<String> = [
        "@c = count();",
        "@c[args.newstate] = count();",
        "@c[args.newstate, args.oldstate] = count();",
        "@s[args.sport] = sum(args.dport);",
        "@m = min(args.newstate); @x = max(args.newstate);",
        "@u = min(args.sport); @v = max(args.sport);",
        "@a = avg(args.dport); @st = stats(args.dport);",
        "@h = hist(args.sport);",
        "@h[args.newstate] = hist(nsecs);",
        "@l = lhist(args.dport, 0, 65536, 1024);",
        "@c[comm] = count();",
        "@c[comm, pid] = count();",
        "@c[ntop(args.saddr), args.sport] = count();",
        "@c[ntop(args.saddr_v6)] = count();",
    ]
    .iter()
    .map(|body| format!("{TP} {{ {body} }}"))
    .collect();
    let refs: Vec<&str> = programs.iter().map(String::as_str).collect();
    verify_all("aggregations_pass_the_verifier", &refs);
}

#[test]
fn statements_and_expressions_pass_the_verifier() {
    let programs: Vec<String> = [
        "$x = args.newstate; if ($x == 1) { @e = count(); } else { @o = count(); }",
        "$x = args.sport * 3 + args.dport / 7 - (args.newstate % 5); @v = $x;",
        "$n = args.newstate; $d = -$n / 2; $m = -$n % 3; @d = $d; @m = $m;",
        "@t[pid] = nsecs; @last = @t[pid]; delete(@t[pid]);",
        "@n[args.newstate]++; @n[args.newstate] += 5; @n[args.oldstate] -= 1;",
        "$i = 0; while ($i < 10) { $i++; } @i = $i;",
        "@b = args.newstate > 3 ? 10 : 20;",
        "if (args.newstate == 1 && args.oldstate == 2 || args.sport > 1000) { @c = count(); }",
        "if (!(args.newstate == 7)) { @c = count(); }",
        "@s = comm; if (comm == \"sshd\") { @c = count(); }",
        "if (strncmp(comm, \"ssh\", 3) == 0) { @c = count(); }",
        "@str[pid] = comm;",
        "@tup = (pid, comm, args.sport);",
        "@e = elapsed; @u = uid; @g = gid; @cpu = cpu; @cg = cgroup; @tid = tid;",
        "@p[probe] = count();",
        "@b = bswap(args.sport);",
        "$a = (uint8)args.newstate; $b = (int16)args.sport; @a = $a + $b;",
        "@x = args.sport << 2 >> 1 & 0xff | 1 ^ 3; @y = ~args.sport;",
        "return; @never = 1;",
        "$s = (struct sock *)args.skaddr; @f[$s->__sk_common.skc_family] = count();",
        "$s = (struct sock *)args.skaddr; @d[ntop($s->__sk_common.skc_daddr)] = count();",
        "$s = (struct sock *)args.skaddr; @p[$s->__sk_common.skc_dport] = count();",
        "@k = curtask->pid;",
    ]
    .iter()
    .map(|body| format!("{TP} {{ {body} }}"))
    .collect();
    let refs: Vec<&str> = programs.iter().map(String::as_str).collect();
    verify_all("statements_and_expressions_pass_the_verifier", &refs);
}

#[test]
fn events_pass_the_verifier() {
    let programs: Vec<String> = [
        r#"printf("%d %s\n", pid, comm);"#,
        r#"printf("%s:%d\n", ntop(args.saddr), args.sport);"#,
        "time(\"%H:%M:%S\\n\");",
        "@c = count(); print(@c); clear(@c); zero(@c);",
        "print(args.newstate);",
        "exit();",
    ]
    .iter()
    .map(|body| format!("{TP} {{ {body} }}"))
    .collect();
    let refs: Vec<&str> = programs.iter().map(String::as_str).collect();
    verify_all("events_pass_the_verifier", &refs);
}

#[test]
fn every_probe_kind_passes_the_verifier() {
    verify_all(
        "every_probe_kind_passes_the_verifier",
        &[
            "BEGIN { @start = nsecs; } END { @end = nsecs; }",
            "kprobe:tcp_sendmsg { @bytes[comm] = sum(arg2); }",
            "kretprobe:tcp_sendmsg { @ret = hist(retval); }",
            "kprobe:tcp_retransmit_skb { $sk = (struct sock *)arg0; @r[ntop($sk->__sk_common.skc_daddr)] = count(); }",
            "interval:ms:100 { @ticks = count(); }",
            "tracepoint:syscalls:sys_enter_openat { @files[str(args.filename)] = count(); }",
            "tracepoint:syscalls:sys_enter_getpid /pid > 1/ { @g[tid] = count(); }",
            "rawtracepoint:sched_switch { @s = count(); }",
        ],
    );
}
