//! The command line under hostile use, without root: random flags, durations
//! and programs, standard output to a closed pipe, to /dev/full or captured.
//! Every case must end in an exit status that agrees with what was printed —
//! never a panic (status 101, "panicked"), an abort or another signal.
//!
//! No case attaches anything: each one either fails before loading (a bad
//! flag or duration) or only lists, dumps or checks (`-l`, `-d`, `--dry-run`),
//! so the test is safe (and the same) as root. The seed is fixed, and the run
//! stops generating cases after a time budget.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// xorshift64*: small, and the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<'a, T: ?Sized>(&mut self, from: &[&'a T]) -> &'a T {
        from[(self.next() % from.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Where the case's standard output goes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Stdout {
    Captured,
    /// A pipe whose reader is gone before flowtrace writes.
    Closed,
    Full,
}

const DURATIONS: [&str; 16] = [
    "nan", "NaN", "inf", "-inf", "1e300", "18446744073709551616", "-1", "0", "0.5", "1e9", "1e10", "abc", "", "1e-400", "0x10", "3s",
];
const MAP_KEYS: [&str; 7] = ["0", "1", "4096", "4294967295", "4294967296", "-1", "many"];
const PATTERNS: [&str; 8] = ["*", "tracepoint:*", "tracepoint:tcp:*", "kprobe:tcp_*", "t:sock:*", "nosuch:*", "rt:*", "::::"];

/// Program texts: valid ones, syntax and type errors, and deep nesting.
fn programs(dir: &Path) -> Vec<String> {
    let else_ifs = |arms: usize| {
        let rest: String = (1..arms).map(|i| format!(" else if ($x == {i}) {{ $y = {i}; }}")).collect();
        format!("BEGIN {{ $x = 1; if ($x == 0) {{ $y = 0; }}{rest} }}")
    };
    let texts = [
        "BEGIN { printf(\"hi %d\\n\", 1); exit(); }".to_string(),
        "interval:s:1 { @n = count(); } END { print(@n); }".to_string(),
        "tracepoint:sock:inet_sock_set_state { @[args.newstate] = count(); }".to_string(),
        "BEGIN { if (1) { } else }".to_string(),
        "BEGIN {".to_string(),
        "BEGIN { $x = ; }".to_string(),
        "BEGIN { @x = \"a\" + 1; }".to_string(),
        String::new(),
        format!("BEGIN {{ $x = {}1{}; }}", "(".repeat(300), ")".repeat(300)),
        else_ifs(150),
        else_ifs(2000),
        else_ifs(4000),
    ];
    // As files: -e arguments are limited to 128 KiB by the kernel.
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let path = dir.join(format!("p{i}.ft"));
            fs::write(&path, t).unwrap();
            path.to_str().unwrap().to_string()
        })
        .collect()
}

/// One random command line that lists, dumps or checks, plus noise flags.
fn random_case(rng: &mut Rng, programs: &[String]) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    let mode = rng.next() % 3;
    let program: &str = &programs[(rng.next() % programs.len() as u64) as usize];
    match mode {
        0 => args.extend(["-l".to_string(), rng.pick(&PATTERNS).to_string()]),
        1 => args.extend(["-d".to_string(), rng.pick(&["ast", "types", "ir", "bpf", "all", ""]).to_string(), program.to_string()]),
        _ => args.extend(["--dry-run".to_string(), program.to_string()]),
    }
    if rng.chance(50) {
        args.splice(0..0, ["--timeout".to_string(), rng.pick(&DURATIONS).to_string()]);
    }
    if rng.chance(30) {
        args.splice(0..0, ["--map-keys".to_string(), rng.pick(&MAP_KEYS).to_string()]);
    }
    if rng.chance(20) {
        args.splice(0..0, ["-o".to_string(), rng.pick(&["/dev/full", "/nonexistent/dir/out"]).to_string()]);
    }
    if rng.chance(20) {
        args.splice(0..0, ["-f".to_string(), rng.pick(&["json", "text", "xml"]).to_string()]);
    }
    if rng.chance(10) {
        args.insert(0, rng.pick(&["--bogus", "-q", "--tc-order=sideways", "-d"]).to_string());
    }
    args
}

fn run(args: &[String], stdout: Stdout) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flowtrace"));
    c.args(args).env_remove("FLOWTRACE_MAP_KEYS").env_remove("FLOWTRACE_BTF").stdin(Stdio::null()).stderr(Stdio::piped());
    match stdout {
        Stdout::Captured => c.stdout(Stdio::piped()),
        Stdout::Full => c.stdout(fs::OpenOptions::new().write(true).open("/dev/full").unwrap()),
        Stdout::Closed => {
            let (reader, writer) = std::io::pipe().unwrap();
            drop(reader);
            c.stdout(writer)
        }
    };
    c.output().unwrap()
}

/// The status agrees with the output; returns a complaint if not.
fn judge(args: &[String], stdout: Stdout, out: &Output, produced: bool) -> Option<String> {
    let err = String::from_utf8_lossy(&out.stderr);
    let says_error = err.contains("error");
    let code = out.status.code();
    let problem = match code {
        None => Some(format!("killed by a signal: {:?}", out.status)),
        Some(101) => Some("exit status 101 (a panic)".to_string()),
        _ if err.contains("panicked") || err.contains("overflow") => Some("a panic message".to_string()),
        Some(0) if says_error => Some("exit 0 after an error message".to_string()),
        Some(0) if stdout == Stdout::Full && produced => Some("exit 0 though its output went nowhere (/dev/full)".to_string()),
        Some(0) => None,
        // Quiet on a closed pipe, as a Unix tool is.
        Some(141 | 1) if stdout == Stdout::Closed && !says_error => None,
        Some(1 | 2) if says_error => None,
        Some(c) => Some(format!("exit status {c} with this on stderr")),
    };
    problem.map(|p| format!("flowtrace {} (stdout {stdout:?}): {p}\nstderr: {}", args.join(" "), &err[..err.len().min(600)]))
}

fn check(args: &[String], failures: &mut Vec<String>) {
    let captured = run(args, Stdout::Captured);
    let produced = !captured.stdout.is_empty();
    for (kind, out) in [(Stdout::Captured, captured.clone()), (Stdout::Full, run(args, Stdout::Full)), (Stdout::Closed, run(args, Stdout::Closed))] {
        if let Some(f) = judge(args, kind, &out, produced) {
            failures.push(f);
        }
    }
    if produced && captured.status.success() {
        let full = run(args, Stdout::Full);
        if !String::from_utf8_lossy(&full.stderr).contains("No space left on device") {
            failures.push(format!("flowtrace {}: output to /dev/full lost without saying so", args.join(" ")));
        }
    }
}

/// A directory of the test's own (tests run in parallel).
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ft-{test}-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn cli_fuzz_never_panics_and_exits_as_it_says() {
    let dir = scratch("cli-fuzz");
    let programs = programs(&dir);
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<String>>();
    // The cases found by hand first, then random ones.
    let mut cases = vec![
        s(&["--timeout", "inf", "-e", "BEGIN { exit(); }"]),
        s(&["--timeout", "1e300", "-e", "BEGIN { exit(); }"]),
        s(&["--timeout", "18446744073709551616", "-e", "BEGIN { exit(); }"]),
        s(&["--timeout", "nan", "-e", "BEGIN { exit(); }"]),
        s(&["-l"]),
        s(&["-l", "tracepoint:*"]),
        s(&["-d", "bpf", &programs[0]]),
        s(&["-d", "ast", &programs[0]]),
        s(&["-d", "bpf", &programs[10]]),
        s(&["--dry-run", &programs[11]]),
    ];
    let mut rng = Rng(0x5eed_f10e_7ace);
    cases.extend((0..400).map(|_| random_case(&mut rng, &programs)));
    let start = Instant::now();
    let budget = Duration::from_secs(12);
    let mut failures = Vec::new();
    let mut ran = 0;
    // The first MIN_CASES always run, however loaded the machine is (a
    // time-only budget made the outcome depend on load); the rest while the
    // budget lasts.
    const MIN_CASES: usize = 40;
    for args in &cases {
        if ran >= MIN_CASES && start.elapsed() > budget {
            break;
        }
        check(args, &mut failures);
        ran += 1;
    }
    let _ = fs::remove_dir_all(&dir);
    println!("{ran} of {} cases ran", cases.len());
    assert!(failures.is_empty(), "{} of {ran} cases failed:\n{}", failures.len(), failures.join("\n---\n"));
}

/// A duration that is not a finite number of seconds in range is refused as
/// the command line is read: before, NaN ran as 0 and the others panicked
/// after the probes were attached.
#[test]
fn bad_timeouts_are_refused_before_anything_loads() {
    for bad in ["nan", "inf", "-inf", "1e300", "18446744073709551616", "-1", "abc"] {
        let arg = format!("--timeout={bad}");
        let out = run(&[arg.clone(), "-e".into(), "BEGIN { printf(\"ran\\n\"); exit(); }".into()], Stdout::Captured);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{arg}: {err}");
        assert!(err.contains(&format!("invalid value '{bad}' for '--timeout <SECS>'")), "{arg}: {err}");
        assert!(out.stdout.is_empty(), "{arg}: nothing ran");
    }
    let out = run(&["--timeout".into(), "0.5".into(), "--dry-run".into(), "-e".into(), "BEGIN { exit(); }".into()], Stdout::Captured);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Programs as deep as the parser accepts (200 levels) go through the checker
/// and code generation (`-d bpf`) without overflowing their stacks, in every
/// nesting shape.
#[test]
fn the_deepest_accepted_programs_compile() {
    let n = 197;
    let rest: String = (1..n).map(|i| format!(" else if ($x == {i}) {{ $y = {i}; }}")).collect();
    let shapes = [
        ("blocks", format!("BEGIN {{ {}$x = 1;{} }}", "{ ".repeat(n), " }".repeat(n))),
        ("ifs", format!("BEGIN {{ $x = 1; {}$y = 1;{} }}", "if ($x) { ".repeat(n), " }".repeat(n))),
        ("else ifs", format!("BEGIN {{ $x = 1; if ($x == 0) {{ $y = 0; }}{rest} }}")),
        ("parentheses", format!("BEGIN {{ $x = {}1{}; }}", "(".repeat(n), ")".repeat(n))),
        ("a sum", format!("BEGIN {{ $x = 1{}; }}", " + 1".repeat(n))),
        ("negations", format!("BEGIN {{ $x = {}1; }}", "!".repeat(n))),
        ("conditionals", format!("BEGIN {{ $x = 1; $y = {}0; }}", "$x ? 1 : ".repeat(n))),
        ("casts", format!("BEGIN {{ $x = {}1; }}", "(uint64)".repeat(n))),
        ("whiles", format!("BEGIN {{ $x = 1; {}{} }}", "while ($x < 2) { $x++; ".repeat(n - 2), " }".repeat(n - 2))),
    ];
    let dir = scratch("deep");
    for (shape, text) in shapes {
        let path = dir.join("deep.ft");
        fs::write(&path, &text).unwrap();
        let out = run(&["-d".into(), "bpf".into(), path.to_str().unwrap().into()], Stdout::Captured);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{shape}, {n} deep: {err}");
    }
    let _ = fs::remove_dir_all(&dir);
}
