//! The builtins added for today's bpftrace (issue 11), run through the
//! binary on the host kernel: every program passes the real verifier and
//! prints from a BEGIN probe, an interval probe or one exec of a known
//! command. Each expectation comes from outside flowtrace: the C library
//! (user names, CPU count, clocks), bpftool's BTF dump (sizes and offsets),
//! the file system (cgroup inodes) or bytes the test itself chose.
//!
//! Root only (FLOWTRACE_ROOT_TESTS=1), like every test that loads programs.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flowtrace_testkit::root_tests_enabled as enabled;

/// `flowtrace OPTIONS… -e PROGRAM`, to its exit (at most 30 s).
fn run(options: &[&str], program: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowtrace"));
    command.args(options).args(["-e", program]);
    flowtrace_testkit::process::output_within(&mut command, Duration::from_secs(30), || format!("flowtrace did not exit within 30 s: {program}"))
}

/// Standard output of a successful run without the `Attaching` line and
/// the blank lines bpftrace prints around the exit maps.
fn printed(options: &[&str], program: &str) -> Vec<String> {
    let out = run(options, program);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{program}\nstdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    stdout.lines().filter(|l| !l.is_empty() && !l.starts_with("Attaching")).map(str::to_string).collect()
}

/// A failed run's standard error (the rendered diagnostic).
fn rejected(options: &[&str], program: &str) -> String {
    let out = run(options, program);
    assert!(!out.status.success(), "{program} was accepted:\n{}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn shell(command: &str) -> String {
    let out = Command::new("/bin/sh").args(["-c", command]).output().unwrap();
    assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn root_builtins_host_values_match_the_c_library() {
    if !enabled("root_builtins_host_values_match_the_c_library") {
        return;
    }
    let lines = printed(&[], r#"BEGIN { printf("%s %d %s %d\n", username, ncpus, username(), ncpus()); printf("%d\n", numaid); exit(); }"#);
    let user = shell("id -un");
    let cpus = shell("getconf _NPROCESSORS_ONLN");
    assert_eq!(lines[0], format!("{user} {cpus} {user} {cpus}"));
    // The node running BEGIN is one of the online NUMA nodes (0 on a machine without NUMA).
    let nodes = std::fs::read_to_string("/sys/devices/system/node/online").unwrap_or_else(|_| "0".into());
    let node: u32 = lines[1].parse().unwrap();
    let (first, last) = nodes.trim().split_once('-').unwrap_or((nodes.trim(), nodes.trim()));
    assert!((first.parse().unwrap()..=last.parse().unwrap()).contains(&node), "numaid {node} not in {nodes}");
}

#[test]
fn root_builtins_sizeof_and_offsetof_match_bpftool() {
    if !enabled("root_builtins_sizeof_and_offsetof_match_bpftool") {
        return;
    }
    let program = r#"BEGIN {
        printf("%d %d %d %d\n", sizeof(struct task_struct), sizeof(struct sched_entity), sizeof(uint16), sizeof(struct task_struct *));
        printf("%d %d\n", offsetof(struct task_struct, pid), offsetof(struct task_struct, se.vruntime));
        printf("%d\n", offsetof(curtask, pid));
        exit();
    }"#;
    let lines = printed(&[], program);
    let dump = shell("bpftool btf dump file /sys/kernel/btf/vmlinux format raw");
    let size = |name: &str| btf_struct(&dump, name).0;
    let offset = |s: &str, field: &str| btf_struct(&dump, s).1.iter().find(|(n, _)| n == field).map(|(_, o)| o / 8).unwrap();
    assert_eq!(lines[0], format!("{} {} 2 8", size("task_struct"), size("sched_entity")));
    let vruntime = offset("task_struct", "se") + offset("sched_entity", "vruntime");
    assert_eq!(lines[1], format!("{} {vruntime}", offset("task_struct", "pid")));
    assert_eq!(lines[2], offset("task_struct", "pid").to_string());
}

/// A struct's size and its members' bit offsets, from `bpftool … format raw`.
fn btf_struct(dump: &str, name: &str) -> (u64, Vec<(String, u64)>) {
    let header = format!("STRUCT '{name}' size=");
    let mut lines = dump.lines().skip_while(|l| !l.contains(&header));
    let first = lines.next().unwrap_or_else(|| panic!("bpftool lists no struct {name}"));
    let size = first.split("size=").nth(1).and_then(|s| s.split(' ').next()).unwrap().parse().unwrap();
    let members = lines
        .take_while(|l| l.starts_with('\t'))
        .filter_map(|l| {
            let name = l.trim().strip_prefix('\'')?.split('\'').next()?.to_string();
            let bits = l.split("bits_offset=").nth(1)?.split(' ').next()?.parse().ok()?;
            Some((name, bits))
        })
        .collect();
    (size, members)
}

#[test]
fn root_builtins_bytes_print_as_bpftrace_prints_them() {
    if !enabled("root_builtins_bytes_print_as_bpftrace_prints_them") {
        return;
    }
    let program = r#"BEGIN {
        printf("[%r] [%rx] [%rh]\n", buf("ab\x01c", 4), buf("ab", 2), buf("a\n", 2));
        $lo = pton("127.0.0.1");
        printf("%d.%d.%d.%d %s %d\n", $lo[0], $lo[1], $lo[2], $lo[3], ntop(pton("fe80::1")), (uint32)pton("127.0.0.1"));
        printf("%s\n", macaddr(pton("aabb:ccdd:eeff::1")));
        @b = buf("xyz", 3);
        exit();
    }"#;
    let lines = printed(&[], program);
    assert_eq!(lines, [r"[ab\x01c] [\x61\x62] [61 0a]", "127.0.0.1 fe80::1 16777343", "AA:BB:CC:DD:EE:FF", "@b: xyz"]);
}

#[test]
fn root_builtins_string_tests_and_has_key() {
    if !enabled("root_builtins_string_tests_and_has_key") {
        return;
    }
    let program = r#"BEGIN {
        printf("%d %d %d %d\n", strcontains("abcdef", "cde"), strcontains("abcdef", "cdf"), strcontains("abc", ""), strcontains(comm, "flowtr"));
        printf("%d\n", strncmp("flowtrace", "flowchart", 4));
        $n = "cde"; $x = "cdf"; $e = ""; $long = "abcdefg";
        printf("%d %d %d %d %d\n", strcontains("abcdef", $n), strcontains("abcdef", $x), strcontains("abc", $e), strcontains("ab", $long), strcontains(comm, comm));
        @m[1, "a"] = 1;
        printf("%d %d\n", has_key(@m, (1, "a")), has_key(@m, (1, "b")));
        clear(@m);
        exit();
    }"#;
    assert_eq!(printed(&[], program), ["1 0 1 1", "0", "1 0 1 0 1", "1 0"]);
}

fn epoch_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

#[test]
fn root_builtins_strftime_and_clocks_tell_the_wall_clock_time() {
    if !enabled("root_builtins_strftime_and_clocks_tell_the_wall_clock_time") {
        return;
    }
    let before = epoch_secs();
    let program = r#"BEGIN {
        printf("%s %s %s\n", strftime("%s", nsecs), strftime("%s", nsecs(boot)), strftime("%s", nsecs(tai)));
        printf("%s|%s|%s\n", strftime("%f", nsecs), strftime("%l", nsecs), strftime("%k", nsecs));
        $m = nsecs(monotonic); $b = nsecs(boot); $t = nsecs(tai); $s = nsecs(sw_tai);
        printf("%d %d\n", $b >= $m, ($s > $t ? $s - $t : $t - $s) < 1000000000);
        exit();
    }"#;
    let lines = printed(&[], program);
    let after = epoch_secs();
    let secs: Vec<i64> = lines[0].split(' ').map(|s| s.parse().unwrap()).collect();
    assert!((before - 1..=after + 1).contains(&secs[0]), "strftime(nsecs) = {} not in {before}..{after}", secs[0]);
    assert!((before - 1..=after + 1).contains(&secs[1]), "strftime(nsecs(boot)) = {}", secs[1]);
    // TAI runs ahead of UTC by the leap seconds the kernel was told (0 or 37 today).
    assert!((before - 1..=after + 38).contains(&secs[2]), "strftime(nsecs(tai)) = {}", secs[2]);
    let parts: Vec<&str> = lines[1].split('|').collect();
    assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [6, 3, 9], "{}", lines[1]);
    assert!(parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())), "{}", lines[1]);
    assert_eq!(lines[2], "1 1");
}

#[test]
fn root_builtins_cgroupid_is_the_cgroup_inode_and_matches_cgroup() {
    if !enabled("root_builtins_cgroupid_is_the_cgroup_inode_and_matches_cgroup") {
        return;
    }
    let root = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .into_iter()
        .find(|r| std::path::Path::new(r).join("cgroup.controllers").exists())
        .expect("a cgroup v2 hierarchy is mounted");
    let dir = format!("{root}/ft_builtins_{}", std::process::id());
    std::fs::create_dir(&dir).unwrap();
    let inode = std::fs::metadata(&dir).unwrap().ino();
    // The child moves itself into the cgroup, then execs the command the
    // probe waits for: its `cgroup` must equal cgroupid() of the directory.
    let command = format!("echo $$ > {dir}/cgroup.procs && exec /bin/true ft-cgroup");
    let program = format!(
        r#"BEGIN {{ printf("%d\n", cgroupid("{dir}")); }}
        tracepoint:syscalls:sys_enter_execve /str(args.filename) == "/bin/true"/ {{
            printf("%d %d\n", cgroup == cgroupid("{dir}"), cgroup);
            exit();
        }}"#
    );
    let lines = printed(&["-c", &command], &program);
    let _ = std::fs::remove_dir(&dir);
    assert_eq!(lines, [inode.to_string(), format!("1 {inode}")]);
    let error = rejected(&[], r#"BEGIN { printf("%d\n", cgroupid("/sys/fs/cgroup/unified/ft-no-such-group")); }"#);
    assert!(error.contains("error: cgroupid(): cannot find cgroup '/sys/fs/cgroup/unified/ft-no-such-group'"), "{error}");
}

#[test]
fn root_builtins_join_prints_the_argv_of_an_exec() {
    if !enabled("root_builtins_join_prints_the_argv_of_an_exec") {
        return;
    }
    let program = r#"tracepoint:syscalls:sys_enter_execve /str(args.filename) == "/bin/true"/ {
        join(args.argv);
        join(args.argv, ",");
        exit();
    }"#;
    let lines = printed(&["-c", "/bin/true ft-join two three"], program);
    assert_eq!(lines, ["/bin/true ft-join two three", "/bin/true,ft-join,two,three"]);
}

#[test]
fn root_builtins_cat_prints_a_file_named_by_a_format() {
    if !enabled("root_builtins_cat_prints_a_file_named_by_a_format") {
        return;
    }
    let path = format!("/tmp/ft-cat-{}", std::process::id());
    std::fs::write(&path, "first line\nsecond line\n").unwrap();
    let program = format!(r#"BEGIN {{ cat("/tmp/ft-cat-%d", {}); printf("after\n"); exit(); }}"#, std::process::id());
    let lines = printed(&[], &program);
    let _ = std::fs::remove_file(&path);
    assert_eq!(lines, ["first line", "second line", "after"]);
}

#[test]
fn root_builtins_system_runs_only_with_unsafe() {
    if !enabled("root_builtins_system_runs_only_with_unsafe") {
        return;
    }
    let program = r#"BEGIN { system("echo system %d %s", 42, "ok"); exit(); }"#;
    assert_eq!(printed(&["--unsafe"], program), ["system 42 ok"]);
    let error = rejected(&[], program);
    assert!(error.contains("error: system() is an unsafe function") && error.contains("--unsafe"), "{error}");
}

/// `signal()` in a tracepoint fires in the traced process: a shell waiting
/// for its `sleep` children gets SIGUSR1 and dies of it.
#[test]
fn root_builtins_signal_kills_the_traced_process_only_with_unsafe() {
    if !enabled("root_builtins_signal_kills_the_traced_process_only_with_unsafe") {
        return;
    }
    let program = r#"tracepoint:syscalls:sys_enter_wait4 /pid == $1/ { signal("SIGUSR1"); exit(); }"#;
    let mut victim = Command::new("/bin/sh").args(["-c", "for i in $(seq 100); do sleep 0.1; done"]).spawn().unwrap();
    let pid = victim.id().to_string();
    let error = rejected(&[], &program.replace("$1", &pid));
    assert!(error.contains("error: signal() is an unsafe function"), "{error}");
    assert!(victim.try_wait().unwrap().is_none(), "the shell died without --unsafe");
    let out = run(&["--unsafe"], &program.replace("$1", &pid));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let status = victim.wait().unwrap();
    assert_eq!(status.signal(), Some(libc_sigusr1()), "{status:?}");
    let error = rejected(&["--unsafe"], r#"BEGIN { signal(9); }"#);
    assert!(error.contains("signal() cannot be used in BEGIN probes"), "{error}");
}

/// SIGUSR1 on Linux x86-64 and arm64.
fn libc_sigusr1() -> i32 {
    10
}

#[test]
fn root_builtins_planned_providers_say_not_supported() {
    if !enabled("root_builtins_planned_providers_say_not_supported") {
        return;
    }
    for (short, name) in [("w:0x1000:8:rw", "watchpoint")] {
        let error = rejected(&[], &format!("{short} {{ exit(); }}"));
        assert!(error.contains(&format!("error: the {name} provider")) && error.contains("is not supported by flowtrace yet"), "{error}");
    }
}

/// The rows of a tseries plot with the time column (local wall-clock time
/// of each interval) cut off, and that column's texts.
fn plot_without_times(lines: &[String]) -> (Vec<String>, Vec<String>) {
    let is_row = |l: &str| l.as_bytes().first().is_some_and(u8::is_ascii_digit) && l.as_bytes().get(2) == Some(&b':');
    let times = lines.iter().filter(|l| is_row(l)).map(|l| l.split(' ').next().unwrap().to_string()).collect();
    let rest = lines.iter().map(|l| if is_row(l) { format!("T{}", &l[l.find(' ').unwrap()..]) } else { l.clone() }).collect();
    (rest, times)
}

/// Values of one interval combined as the fourth argument says; every map
/// printed as bpftrace draws it (one interval: a flat series one step wide).
#[test]
fn root_builtins_tseries_aggregates_one_interval() {
    if !enabled("root_builtins_tseries_aggregates_one_interval") {
        return;
    }
    let program = r#"BEGIN {
        @last = tseries(5, 10s, 3); @last = tseries(8, 10s, 3);
        @sum["x"] = tseries(-2, 10s, 3, "sum"); @sum["x"] = tseries(-3, 10s, 3, "sum");
        @avg = tseries(5, 10s, 3, "avg"); @avg = tseries(8, 10s, 3, "avg");
        @min = tseries(5, 10s, 3, "min"); @min = tseries(-8, 10s, 3, "min");
        @max = tseries(5, 10s, 3, "max"); @max = tseries(8, 10s, 3, "max");
        exit();
    }"#;
    let (plot, times) = plot_without_times(&printed(&[], program));
    let axis = format!("hh:mm:ss |{}|", "_".repeat(51));
    let bottom = format!("{}v{}v", " ".repeat(9), "_".repeat(51));
    let block = |name: &str, value: i64| {
        let labels = format!("{}{:<21}{:>32}", " ".repeat(9), value - 1, value + 1);
        let row = format!("T |{}*{}| {value}", " ".repeat(25), " ".repeat(25));
        vec![name.to_string(), labels.clone(), axis.clone(), row, bottom.clone(), labels]
    };
    let expected: Vec<String> =
        [block("@avg:", 6), block("@last:", 8), block("@max:", 8), block("@min:", -8), block("@sum[x]:", -5)].concat();
    assert_eq!(plot, expected);
    // A 10 s interval starts on a wall-clock multiple of 10 s.
    assert!(times.iter().all(|t| t.ends_with('0')), "{times:?}");
}

/// One value per 100 ms tick: a series of increasing values, one row per
/// interval up to the newest, with `-` for an interval a late tick missed.
#[test]
fn root_builtins_tseries_plots_intervals_in_order() {
    if !enabled("root_builtins_tseries_plots_intervals_in_order") {
        return;
    }
    let program = r#"i:ms:100 { @ts = tseries(@n, 100ms, 50); @n++; if (@n == 10) { exit(); } }"#;
    let lines = printed(&[], program);
    let (plot, times) = plot_without_times(&lines);
    let plot = &plot[plot.iter().position(|l| l == "@ts:").unwrap_or_else(|| panic!("{lines:#?}"))..];
    assert_eq!(plot[2], format!("hh:mm:ss.ms  |{}|", "_".repeat(51)));
    let values: Vec<i64> = plot.iter().filter(|l| l.starts_with("T ")).filter_map(|l| l.rsplit(' ').next()?.parse().ok()).collect();
    assert!(values.len() >= 8 && values.windows(2).all(|w| w[0] < w[1]), "{lines:#?}");
    // Consecutive rows are consecutive 100 ms intervals.
    let tenths: Vec<u32> = times.iter().map(|t| t[t.len() - 3..].parse::<u32>().unwrap() / 100).collect();
    assert!(tenths.windows(2).all(|w| (w[0] + 1) % 10 == w[1]), "{times:?}");
    let json = run(&["-f", "json"], r#"BEGIN { @a = tseries(3, 100ms, 5); exit(); }"#);
    let json = String::from_utf8_lossy(&json.stdout);
    let line = json.lines().find(|l| l.contains("\"tseries\"")).unwrap_or_else(|| panic!("{json}"));
    assert!(line.starts_with(r#"{"type": "tseries", "data": {"@a": [{"interval_start": ""#) && line.ends_with(r#"", "value": 3}]}}"#), "{line}");
}

/// percpu_kaddr() needs the variable's address from kallsyms. This host's
/// kernel lists no data symbols (no CONFIG_KALLSYMS_ALL): the script is
/// refused at the variable, not by the verifier. (It runs in the VM tier:
/// tests/vm/96-path-percpu.sh.)
#[test]
fn root_builtins_percpu_kaddr_says_when_the_kernel_cannot_resolve_it() {
    if !enabled("root_builtins_percpu_kaddr_says_when_the_kernel_cannot_resolve_it") {
        return;
    }
    let program = r#"interval:ms:10 { $p = percpu_kaddr("process_counts"); printf("%d\n", *$p > 0); exit(); }"#;
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    if kallsyms.lines().any(|l| l.ends_with(" process_counts")) {
        assert_eq!(printed(&[], program), ["1"]);
    } else {
        let error = rejected(&[], program);
        assert!(error.contains("error: percpu_kaddr(): /proc/kallsyms has no address for 'process_counts'"), "{error}");
    }
}
