//! The binary's front-end modes (`--dry-run`, `-d ast`, `-d types`) on the
//! seed scripts, against this machine's BTF and against the committed BTF
//! fixture (`--btf`), without root.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn flowtrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowtrace")).args(args).output().unwrap()
}

const SEEDS: [&str; 3] = ["seed_retransmits.ft", "seed_flows.ft", "seed_ratio.ft"];

fn host_btf() -> bool {
    if Path::new("/sys/kernel/btf/vmlinux").exists() {
        return true;
    }
    flowtrace_testkit::gate::skipped("the host-BTF half of this test", "/sys/kernel/btf/vmlinux is missing; the fixture half still runs");
    false
}

#[test]
fn seed_scripts_check_verbatim() {
    let fixture = repo("kernel/tests/fixtures/vmlinux-subset.btf");
    for seed in SEEDS {
        let path = repo(&format!("tests/corpus/valid/{seed}"));
        let path = path.to_str().unwrap();
        let mut runs = vec![flowtrace(&["--btf", fixture.to_str().unwrap(), "--dry-run", path])];
        if host_btf() {
            runs.push(flowtrace(&["--dry-run", path]));
        }
        for out in runs {
            assert!(out.status.success(), "{seed}: {}", String::from_utf8_lossy(&out.stderr));
            assert!(out.stdout.is_empty(), "--dry-run prints nothing on success");
        }
    }
}

#[test]
fn types_dump_shows_btf_offsets() {
    let path = repo("tests/corpus/valid/seed_flows.ft");
    let fixture = repo("kernel/tests/fixtures/vmlinux-subset.btf");
    let mut btfs = vec![Some(fixture.to_str().unwrap().to_string())];
    if host_btf() {
        btfs.push(None);
    }
    for btf in btfs {
        let mut args = vec!["-d", "types", path.to_str().unwrap()];
        if let Some(b) = &btf {
            args.splice(0..0, ["--btf", b.as_str()]);
        }
        let out = flowtrace(&args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("$sk->__sk_common.skc_daddr : uint32 (offset 0, 4 bytes)"), "{btf:?}:\n{text}");
        assert!(text.contains("$sk->__sk_common.skc_dport : uint16 (offset 12, 2 bytes)"), "{btf:?}:\n{text}");
        assert!(text.contains("@flows[string[16], inet, uint64] : count_t"), "{text}");
    }
}

#[test]
fn ast_dump_and_user_errors() {
    let fixture = repo("kernel/tests/fixtures/vmlinux-subset.btf");
    let fixture = fixture.to_str().unwrap();
    let out = flowtrace(&["--btf", fixture, "-d", "ast", "-e", "kprobe:tcp_sendmsg { @x = 1 + 2 * 3; }"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Binary"), "{}", String::from_utf8_lossy(&out.stdout));

    let out = flowtrace(&[
        "--btf",
        fixture,
        "--dry-run",
        "-e",
        "kprobe:tcp_sendmsg { $sk = (struct sock *)arg0; @d = $sk->__sk_common.skc_dadr; @x = nosuch; }",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    // Two independent errors in one run, each against the source with a hint.
    assert!(stderr.contains("-e:1:71: error: unknown field 'skc_dadr' in 'struct sock_common'"), "{stderr}");
    assert!(stderr.contains("  = hint: did you mean 'skc_daddr'?"), "{stderr}");
    assert!(stderr.contains("error: unknown identifier 'nosuch'"), "{stderr}");

    let out = flowtrace(&["--btf", fixture, "--dry-run", "-e", "kprobe:tcp_sendmsg { @x = count() "]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("-e:1:"), "{}", String::from_utf8_lossy(&out.stderr));

    let out = flowtrace(&["--btf", "/nonexistent/btf", "--dry-run", "-e", "BEGIN { exit(); }"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/btf"));
}
