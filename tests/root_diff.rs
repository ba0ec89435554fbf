//! Differential tests against bpftrace 0.17: every script in tests/diff runs
//! in flowtrace and in bpftrace *at the same time*, on the same traffic, which
//! the test generates itself; the two outputs must agree after normalising
//! only what must differ (see [`normalise`]). Scripts whose header says
//! `// exact: yes` must also print exactly their `NAME.expect` file.
//!
//! Each `.bt` file names its traffic round in a `// traffic: ROUND` header;
//! one `root_diff_ROUND` test per round starts all of that round's scripts
//! in both tracers, waits until all have attached, generates the traffic,
//! and stops them all with SIGINT. Root tier only: see tests/support/gate.rs.
//! Set FLOWTRACE_DIFF_BLESS=1 to (re)write the `.expect` files from
//! bpftrace's output; review them before committing.

mod support;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use flowtrace_testkit::gate::{progress, require_tool, root_tests_enabled};
use flowtrace_testkit::traffic;
use support::nft::RandomDrop;
use support::tracer::{wait_all_attached, Finished, Tracer};

/// Rounds share the traffic thread's pid and comm, so they must not overlap
/// even when libtest runs tests in parallel.
static ROUND: Mutex<()> = Mutex::new(());

// Each round's fixed ports lie below the kernel's ephemeral port range
// (32768-60999): a client socket of some other program can hold a port in
// that range, even in TIME-WAIT, and then our bind fails.

/// The traffic thread's name; scripts filter on `comm == "ftdiff-traffic"`.
const TRAFFIC_COMM: &str = "ftdiff-traffic";
const ATTACH_LIMIT: Duration = Duration::from_secs(90);
const EXIT_LIMIT: Duration = Duration::from_secs(30);
/// How long after the traffic both tracers get to drain their buffers.
const SETTLE: Duration = Duration::from_millis(500);

fn diff_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diff")
}

struct Script {
    name: String,
    path: PathBuf,
    traffic: String,
    exact: bool,
}

impl Script {
    fn expect_path(&self) -> PathBuf {
        self.path.with_extension("expect")
    }
}

/// Every script with its header directives (`// traffic: …`, `// exact: yes`).
fn all_scripts() -> Vec<Script> {
    let mut scripts = Vec::new();
    for path in flowtrace_testkit::corpus::files_with_extension(&diff_dir(), "bt") {
        let text = fs::read_to_string(&path).expect("readable script");
        let directive = |key: &str| {
            text.lines()
                .take_while(|l| l.starts_with("//"))
                .find_map(|l| l.trim_start_matches('/').trim().strip_prefix(key).map(|v| v.trim().to_string()))
        };
        let name = path.file_stem().expect("file name").to_string_lossy().into_owned();
        let traffic = directive("traffic:").unwrap_or_else(|| panic!("{name}.bt has no `// traffic:` header"));
        let exact = directive("exact:").is_some_and(|v| v == "yes");
        scripts.push(Script { name, path, traffic, exact });
    }
    scripts.sort_by(|a, b| a.name.cmp(&b.name));
    scripts
}

const ROUNDS: [&str; 4] = ["tcp_cycles", "resets_udp", "retransmits", "phases"];

/// Runs without root: every script belongs to a round a test runs, and every
/// exact script has its expectation.
#[test]
fn diff_scripts_have_known_rounds_and_expectations() {
    let scripts = all_scripts();
    assert!(scripts.len() >= 12, "the diff suite should hold at least 12 scripts, has {}", scripts.len());
    for s in &scripts {
        assert!(ROUNDS.contains(&s.traffic.as_str()), "{}: unknown traffic round `{}`", s.name, s.traffic);
        assert_eq!(s.exact, s.expect_path().exists(), "{}: `// exact: yes` and {}.expect go together", s.name, s.name);
    }
}

/// The output with only the necessary differences removed:
/// - the "Attaching N probes..." line (flowtrace may count probes differently);
/// - the order of map entries with equal values: bpftrace sorts by value and
///   leaves ties in hash-table order, flowtrace sorts ties by key, so runs of
///   `@map[…]: V` lines of one map with one value are sorted as text.
/// Standard error is not compared (bpftrace warns there about RLIMIT_MEMLOCK
/// and signed comparisons).
fn normalise(stdout: &str) -> String {
    let lines: Vec<&str> = stdout.lines().filter(|l| !(l.starts_with("Attaching ") && l.ends_with("..."))).collect();
    let mut out: Vec<&str> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let Some(group) = map_entry_group(lines[i]) else {
            out.push(lines[i]);
            i += 1;
            continue;
        };
        let end = (i..lines.len()).find(|&j| map_entry_group(lines[j]) != Some(group)).unwrap_or(lines.len());
        let mut run = lines[i..end].to_vec();
        run.sort_unstable();
        out.extend(run);
        i = end;
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// For a one-line map entry `@name[keys]: value`, the pair (name, value).
fn map_entry_group(line: &str) -> Option<(&str, &str)> {
    if !line.starts_with('@') {
        return None;
    }
    let (head, value) = line.rsplit_once(": ")?;
    let name = head.split('[').next()?;
    (!value.is_empty()).then_some((name, value))
}

#[test]
fn normalise_sorts_only_ties_and_drops_the_attach_line() {
    let bpftrace = "Attaching 2 probes...\n\n\n@a[7, 10]: 1\n@a[10, 7]: 1\n@a[9, 7]: 5\n@a[1, 4]: 5\n@b: 1\nphase 2\n";
    let flowtrace = "Attaching 1 probe...\n\n\n@a[10, 7]: 1\n@a[7, 10]: 1\n@a[1, 4]: 5\n@a[9, 7]: 5\n@b: 1\nphase 2\n";
    assert_eq!(normalise(bpftrace), normalise(flowtrace));
    assert_eq!(normalise(flowtrace), "\n\n@a[10, 7]: 1\n@a[7, 10]: 1\n@a[1, 4]: 5\n@a[9, 7]: 5\n@b: 1\nphase 2\n");
    // Different values are never reordered.
    assert_ne!(normalise("@a[1]: 2\n@a[2]: 3\n"), normalise("@a[2]: 3\n@a[1]: 2\n"));
}

/// One script's two runs.
struct Pair {
    script: Script,
    flowtrace: Tracer,
    bpftrace: Tracer,
}

/// What a round found wrong, per script, or nothing.
type Verdicts = Vec<(String, Result<String, String>)>;

/// Starts every script of `round` in both tracers, runs `generate` on the
/// pinned traffic thread once all have attached, stops them and compares.
fn run_round<T: Send + 'static>(
    round: &str,
    base_port: u16,
    generate: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> (Verdicts, T) {
    let _serial = ROUND.lock().unwrap_or_else(|e| e.into_inner());
    let bpftrace = require_tool("bpftrace");
    let flowtrace = PathBuf::from(env!("CARGO_BIN_EXE_flowtrace"));
    let args = |script: &Script| vec![script.path.display().to_string(), base_port.to_string(), std::process::id().to_string()];
    let started = Instant::now();
    let mut pairs = Vec::new();
    for script in all_scripts().into_iter().filter(|s| s.traffic == round) {
        let ft = Tracer::spawn(&format!("flowtrace {}", script.name), &flowtrace, &args(&script)).unwrap();
        let bt = Tracer::spawn(&format!("bpftrace {}", script.name), &bpftrace, &args(&script)).unwrap();
        pairs.push(Pair { script, flowtrace: ft, bpftrace: bt });
    }
    assert!(!pairs.is_empty(), "no scripts for round {round}");
    let mut tracers: Vec<&mut Tracer> = Vec::new();
    for p in pairs.iter_mut() {
        tracers.push(&mut p.flowtrace);
        tracers.push(&mut p.bpftrace);
    }
    if let Err(e) = wait_all_attached(&mut tracers, ATTACH_LIMIT) {
        panic!("round {round}: {e}");
    }
    progress(&format!("round {round}: {} scripts attached in {:?}", pairs.len(), started.elapsed()));
    let traffic_result = traffic::on_pinned_thread(TRAFFIC_COMM, 0, generate);
    std::thread::sleep(SETTLE);
    for p in &pairs {
        p.flowtrace.interrupt();
        p.bpftrace.interrupt();
    }
    let generated = traffic_result.unwrap_or_else(|e| panic!("round {round}: traffic failed: {e}"));
    let verdicts = pairs.into_iter().map(|p| (p.script.name.clone(), judge(p))).collect();
    progress(&format!("round {round}: done in {:?}", started.elapsed()));
    (verdicts, generated)
}

/// Compares one script's outputs with each other and with its expectation.
/// Ok carries flowtrace's normalised output.
fn judge(pair: Pair) -> Result<String, String> {
    let Pair { script, flowtrace, bpftrace } = pair;
    let ft = flowtrace.finish(EXIT_LIMIT, false)?;
    let bt = bpftrace.finish(EXIT_LIMIT, true)?;
    if bt.sigint_repeats > 0 {
        progress(&format!("note: bpftrace {} needed {} more SIGINT(s) to stop", script.name, bt.sigint_repeats));
    }
    check_exit("flowtrace", &ft)?;
    check_exit("bpftrace", &bt)?;
    let (ft_text, bt_text) = (normalise(&ft.stdout), normalise(&bt.stdout));
    let expect_path = script.expect_path();
    if script.exact && std::env::var_os("FLOWTRACE_DIFF_BLESS").is_some_and(|v| v == "1") {
        // bpftrace is the reference, also while flowtrace still differs.
        fs::write(&expect_path, &bt_text).map_err(|e| format!("cannot bless {}: {e}", expect_path.display()))?;
    }
    if ft_text != bt_text {
        return Err(format!("differs from bpftrace\n{}", side_by_side(&ft_text, &bt_text)));
    }
    if script.exact {
        let expected = fs::read_to_string(&expect_path).map_err(|e| format!("{}: {e}", expect_path.display()))?;
        if bt_text != expected {
            return Err(format!(
                "both tracers agree but differ from {}.expect\n{}",
                script.name,
                side_by_side(&bt_text, &expected)
            ));
        }
    }
    Ok(ft_text)
}

/// SIGINT is the normal way out; anything else is a failure of that tracer.
fn check_exit(tracer: &str, run: &Finished) -> Result<(), String> {
    use std::os::unix::process::ExitStatusExt;
    if run.status.success() || run.status.signal() == Some(libc::SIGINT) {
        return Ok(());
    }
    Err(format!("{tracer} failed ({}):\nstdout:\n{}\nstderr:\n{}", run.status, run.stdout, run.stderr))
}

/// A line diff of `left` (flowtrace, or the agreed output) against `right`
/// (bpftrace, or the expectation): `-` lines only on the left, `+` lines
/// only on the right; blank lines shown as `⏎` so they can be counted.
fn side_by_side(left: &str, right: &str) -> String {
    let (l, r): (Vec<&str>, Vec<&str>) = (left.lines().collect(), right.lines().collect());
    // Longest common subsequence table, from the ends (outputs are short).
    let mut lcs = vec![vec![0usize; r.len() + 1]; l.len() + 1];
    for i in (0..l.len()).rev() {
        for j in (0..r.len()).rev() {
            lcs[i][j] = if l[i] == r[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let show = |s: &str| if s.is_empty() { "⏎".to_string() } else { s.to_string() };
    let mut out = String::from("  (- only flowtrace/actual, + only bpftrace/expected)\n");
    let (mut i, mut j) = (0, 0);
    while i < l.len() || j < r.len() {
        if i < l.len() && j < r.len() && l[i] == r[j] {
            out.push_str(&format!("  {}\n", show(l[i])));
            (i, j) = (i + 1, j + 1);
        } else if j == r.len() || (i < l.len() && lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&format!("- {}\n", show(l[i])));
            i += 1;
        } else {
            out.push_str(&format!("+ {}\n", show(r[j])));
            j += 1;
        }
    }
    out
}

#[test]
fn side_by_side_marks_a_missing_blank_line() {
    let diff = side_by_side("a\nb\n", "a\n\nb\n");
    assert_eq!(diff.lines().skip(1).collect::<Vec<_>>(), ["  a", "+ ⏎", "  b"]);
}

/// Prints one PASS/FAIL line per script and fails the test if any failed.
fn report(round: &str, verdicts: &Verdicts) {
    let mut failures = Vec::new();
    for (name, verdict) in verdicts {
        match verdict {
            Ok(_) => progress(&format!("diff {round}/{name}: PASS")),
            Err(e) => {
                progress(&format!("diff {round}/{name}: FAIL"));
                failures.push(format!("--- {name}.bt: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "round {round}: {} of {} scripts failed\n{}", failures.len(), verdicts.len(), failures.join("\n"));
}

/// flowtrace's output of `script` in a round, for extra checks.
fn output_of<'a>(verdicts: &'a Verdicts, script: &str) -> Option<&'a str> {
    verdicts.iter().find(|(n, _)| n == script).and_then(|(_, v)| v.as_deref().ok())
}

/// Eight loopback connections; connection i sends i writes of 10·i bytes
/// (36 sends, 2040 bytes, and size 10·i occurs i times).
#[test]
fn root_diff_tcp_cycles() {
    if !root_tests_enabled("root_diff_tcp_cycles") {
        return;
    }
    const PORT: u16 = 23310;
    let (verdicts, received) = run_round("tcp_cycles", PORT, || {
        let listener = traffic::listen(PORT)?;
        let mut received = 0;
        for i in 1..=8usize {
            received += traffic::tcp_exchange(&listener, &vec![10 * i; i])?;
        }
        Ok(received)
    });
    assert_eq!(received, 2040);
    report("tcp_cycles", &verdicts);
}

/// Files opened by name (for str()), five connects refused by a closed port,
/// three accepted ones, and four UDP datagrams of 11, 22, 33, 44 bytes.
#[test]
fn root_diff_resets_udp() {
    if !root_tests_enabled("root_diff_resets_udp") {
        return;
    }
    const PORT: u16 = 23410;
    let (verdicts, ()) = run_round("resets_udp", PORT, || {
        for (path, times) in [("/tmp/ftdiff-str-a", 1), ("/tmp/ftdiff-str-bb", 2)] {
            for _ in 0..times {
                fs::File::create(path)?;
            }
            fs::remove_file(path)?;
        }
        traffic::refused_connects(PORT, 5)?;
        let listener = traffic::listen(PORT + 1)?;
        traffic::empty_connections(&listener, 3)?;
        traffic::udp_datagrams(PORT + 2, &[11, 22, 33, 44])
    });
    report("resets_udp", &verdicts);
}

/// Four 256 KiB transfers to a port where nftables drops a fifth of the
/// packets: the retransmit counts are random, but both tracers see the same ones.
#[test]
fn root_diff_retransmits() {
    if !root_tests_enabled("root_diff_retransmits") {
        return;
    }
    const PORT: u16 = 23510;
    require_tool("nft");
    let drop_rule = RandomDrop::install("ft_diff", PORT, 5).unwrap_or_else(|e| panic!("{e}"));
    let (verdicts, _) = run_round("retransmits", PORT, || traffic::bulk_transfer(PORT, 4, 256 * 1024));
    drop(drop_rule);
    report("retransmits", &verdicts);
    let total = output_of(&verdicts, "retransmits").and_then(|out| scalar(out, "@total"));
    assert!(total.is_some_and(|n| n > 0), "the drop rule caused no retransmits: @total = {total:?}");
}

/// Two phases of UDP sends, each ended by a (refused) connect that the
/// interval probe waits for before printing and clearing.
#[test]
fn root_diff_phases() {
    if !root_tests_enabled("root_diff_phases") {
        return;
    }
    const PORT: u16 = 23610;
    let (verdicts, ()) = run_round("phases", PORT, || {
        for sizes in [&[5, 5, 5, 7][..], &[9, 9][..]] {
            let sender = std::net::UdpSocket::bind(traffic::loopback(0))?;
            let receiver = std::net::UdpSocket::bind(traffic::loopback(PORT))?;
            for &n in sizes {
                sender.send_to(&vec![b'p'; n], receiver.local_addr()?)?;
            }
            traffic::refused_connects(PORT + 1, 1)?;
            // Several 100 ms ticks: the print happens before the next phase.
            std::thread::sleep(Duration::from_millis(400));
        }
        Ok(())
    });
    report("phases", &verdicts);
}

/// The value of a scalar map line `@name: N`.
fn scalar(output: &str, name: &str) -> Option<i64> {
    output.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(": ")?.trim().parse().ok())
}
