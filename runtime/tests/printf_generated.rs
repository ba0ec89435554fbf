//! Generated printf formats through the real front end and the real renderer.
//!
//! Every combination of conversion × flags × width × precision × length
//! modifier becomes `BEGIN { printf("[SPEC]", ARG); }`, checked with
//! `flowtrace_lang::{parse, check}` against the committed BTF fixture, with an
//! argument of each type cycled through. Two properties:
//! - the checker accepts exactly the formats the renderer can print (known
//!   conversion, width and precision ≤ `MAX_WIDTH`, no length on `%c`/`%s`,
//!   an argument of the conversion's kind), and every rejection renders with
//!   a caret — under the conversion itself for a bad format;
//! - an accepted format renders every sample value of its argument's type
//!   without error, byte for byte as glibc's `snprintf` prints it (what
//!   bpftrace hands each conversion to).
//!
//! Deterministic: plain nested loops, no randomness.

use std::ffi::CString;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use flowtrace_kernel::kernel_info::KernelInfo;
use flowtrace_lang::diag::render_all;
use flowtrace_lang::typed::{TStmtKind, TypedProgram};
use flowtrace_lang::types::Type;
use flowtrace_lang::{check, parse, CheckOptions, Source};
use flowtrace_runtime::decode::{self, ProbeNames};
use flowtrace_runtime::output::{render_printf, text::value_text};
use flowtrace_runtime::values::Value;
use flowtrace_stdlib::printf::{ArgKind, ConvSpec, Conversion, Format, Length, MAX_WIDTH};

const CONVERSIONS: &[char] = &['d', 'i', 'u', 'o', 'x', 'X', 'c', 'p', 's', 'q', 'f', 'n'];
const FLAGS: &[&str] = &["", "-", "0", "+", " ", "#", "-0", "+0", "#0", "- +#0"];
const LENGTHS: &[&str] = &["", "hh", "h", "l", "ll", "j", "z", "t"];

/// Arguments of every type printf takes (and one it never does).
const INTEGER_ARGS: &[&str] = &["(int8)1", "(uint16)1", "(int32)1", "pid", "nsecs", "-1", "1 == 1", "curtask", "(struct sock *)nsecs"];
const TEXT_ARGS: &[&str] = &["\"hello\"", "comm", "ntop(0x0100007f)", "probe"];
const NEITHER_ARGS: &[&str] = &["((struct sock *)0)->__sk_common"];

/// Bit patterns every integer argument is rendered with (decoded through the
/// argument's type first, as the runtime does).
const INTEGER_SAMPLES: &[u64] = &[0, 1, 42, 65, 200, 0xe9, u64::MAX, 1 << 63, 0x2_0000_0005, 0xffff_8880_1234_5678];

fn widths() -> Vec<String> {
    ["", "1", "7", &MAX_WIDTH.to_string(), &(MAX_WIDTH + 1).to_string()].map(String::from).to_vec()
}

fn precisions() -> Vec<String> {
    ["", ".", ".0", ".3", &format!(".{MAX_WIDTH}"), &format!(".{}", MAX_WIDTH + 1)].map(String::from).to_vec()
}

fn kernel() -> KernelInfo {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kernel/tests/fixtures/vmlinux-subset.btf");
    KernelInfo::from_btf_file(&path).expect("the committed BTF fixture parses")
}

/// What the generator knows about a spec, independently of the parser.
fn spec_is_printable(conv: char, width: &str, precision: &str, length: &str) -> bool {
    let number = |s: &str| s.trim_start_matches('.').parse::<usize>().unwrap_or(0);
    "diuoxXcps".contains(conv)
        && number(width) <= MAX_WIDTH
        && number(precision) <= MAX_WIDTH
        && (length.is_empty() || !"cs".contains(conv))
}

struct Outcome {
    accepted: usize,
    rejected: usize,
    rendered: usize,
}

#[test]
fn every_accepted_format_prints_and_every_other_is_a_compile_error() {
    let kernel = kernel();
    let mut outcome = Outcome { accepted: 0, rejected: 0, rendered: 0 };
    let mut n = 0usize;
    for &conv in CONVERSIONS {
        for flags in FLAGS {
            for width in widths() {
                for precision in precisions() {
                    for length in LENGTHS {
                        let spec = format!("%{flags}{width}{precision}{length}{conv}");
                        let printable = spec_is_printable(conv, &width, &precision, length);
                        let fits: &[&str] = if conv == 's' { TEXT_ARGS } else { INTEGER_ARGS };
                        run_case(&kernel, &spec, fits[n % fits.len()], printable, &mut outcome);
                        // Now and then, an argument of the wrong kind: always an error.
                        if n.is_multiple_of(7) {
                            let wrong: &[&str] = if conv == 's' { INTEGER_ARGS } else { TEXT_ARGS };
                            run_case(&kernel, &spec, wrong[n % wrong.len()], false, &mut outcome);
                            run_case(&kernel, &spec, NEITHER_ARGS[0], false, &mut outcome);
                        }
                        n += 1;
                    }
                }
            }
        }
    }
    eprintln!("accepted {}, rejected {}, rendered {}", outcome.accepted, outcome.rejected, outcome.rendered);
    // The loops must have exercised both sides, many times.
    assert!(outcome.accepted > 5000 && outcome.rejected > 5000, "accepted {}, rejected {}", outcome.accepted, outcome.rejected);
    assert!(outcome.rendered > 20_000, "rendered {}", outcome.rendered);
}

/// Check one program; compare acceptance with `expect_ok`; render what passed.
fn run_case(kernel: &KernelInfo, spec: &str, arg: &str, expect_ok: bool, outcome: &mut Outcome) {
    let text = format!("BEGIN {{ printf(\"[{spec}]\", {arg}); }}");
    let source = Source::new("gen.ft", text.clone());
    let program = parse(&source).unwrap_or_else(|d| panic!("{text}: does not parse:\n{}", render_all(&d, &source)));
    match check(&program, kernel, &CheckOptions::default()) {
        Ok(typed) => {
            assert!(expect_ok, "{text}: accepted, but the renderer cannot print it");
            outcome.accepted += 1;
            outcome.rendered += render_all_samples(&text, &typed);
        }
        Err(diags) => {
            assert!(!expect_ok, "{text}: rejected:\n{}", render_all(&diags, &source));
            outcome.rejected += 1;
            let rendered = render_all(&diags, &source);
            assert!(rendered.contains("error: printf") && rendered.contains('^'), "{text}: no caret:\n{rendered}");
            if Format::parse(&format!("[{spec}]")).is_err() {
                // The caret starts under the `%` of the bad conversion.
                let caret_line = rendered.lines().find(|l| l.trim_start().starts_with('^')).unwrap();
                let source_line = rendered.lines().find(|l| l.contains("printf(\"")).unwrap();
                assert_eq!(caret_line.find('^'), source_line.find('%'), "{text}: caret not under the conversion:\n{rendered}");
            }
        }
    }
}

/// Render the checked printf with every sample value of its argument's type;
/// returns how many renderings were compared.
fn render_all_samples(text: &str, typed: &TypedProgram) -> usize {
    let Some(TStmtKind::Printf { format, args }) = typed.probes[0].body.first().map(|s| &s.kind) else {
        panic!("{text}: not a printf statement");
    };
    let spec = format.conversions().next().expect("one conversion").clone();
    let values = sample_values(&args[0].ty);
    for value in &values {
        let ours = render_printf(format, std::slice::from_ref(value))
            .unwrap_or_else(|e| panic!("{text}: checker accepted it but rendering {value:?} failed: {e}"));
        let want = format!("[{}]", glibc(&spec, &format.text[spec.range.clone()], value));
        assert_eq!(ours, want, "{text} with {value:?}");
    }
    values.len()
}

/// The values the runtime's decoder produces for `ty` from sample records.
fn sample_values(ty: &Type) -> Vec<Value> {
    let probes = ProbeNames::from_names(vec!["BEGIN".into()]);
    let decode = |bytes: Vec<u8>| decode::value(ty, &bytes, &probes);
    match ty {
        Type::Str { cap } => ["", "hello", "flowtrace-longer-than-cap"]
            .iter()
            .map(|s| {
                let mut b = s.as_bytes().to_vec();
                b.resize(*cap as usize, 0);
                decode(b)
            })
            .collect(),
        Type::Inet => {
            let mut b = 2u64.to_le_bytes().to_vec();
            b.extend([127, 0, 0, 1]);
            vec![decode(b), Value::Inet(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)))]
        }
        Type::ProbeName => vec![decode(0u64.to_le_bytes().to_vec())],
        _ => INTEGER_SAMPLES.iter().map(|v| decode(v.to_le_bytes().to_vec())).collect(),
    }
}

/// What glibc's `snprintf` prints for one conversion and one value, passing
/// the argument as C's default promotions would.
fn glibc(spec: &ConvSpec, written: &str, value: &Value) -> String {
    let fmt = CString::new(written).unwrap();
    let mut buf = vec![0u8; 3 * MAX_WIDTH + 64];
    let (ptr, cap) = (buf.as_mut_ptr().cast::<libc::c_char>(), buf.len());
    // SAFETY: `buf` holds `cap` bytes; each call passes the one argument its
    // conversion reads, in the C type that conversion expects.
    let n = unsafe {
        match (spec.conv.arg_kind(), integer_bits(value)) {
            (ArgKind::Text, _) => {
                let text = CString::new(value_text(value)).unwrap();
                libc::snprintf(ptr, cap, fmt.as_ptr(), text.as_ptr())
            }
            (ArgKind::Integer, raw) if spec.conv == Conversion::Pointer => {
                libc::snprintf(ptr, cap, fmt.as_ptr(), raw as usize as *const libc::c_void)
            }
            (ArgKind::Integer, raw) if spec.length == Length::Long => libc::snprintf(ptr, cap, fmt.as_ptr(), raw as libc::c_long),
            (ArgKind::Integer, raw) => libc::snprintf(ptr, cap, fmt.as_ptr(), raw as u32 as libc::c_int),
            // CONVERSIONS has no 'r': glibc has no buffer conversion to compare with.
            (ArgKind::Buffer, _) => panic!("%r is bpftrace's own; it is not generated here"),
        }
    };
    String::from_utf8_lossy(&buf[..usize::try_from(n).expect("snprintf succeeds")]).into_owned()
}

fn integer_bits(v: &Value) -> u64 {
    match v {
        Value::Int(i) => *i as u64,
        Value::UInt(u) | Value::Ptr(u) => *u,
        Value::Bool(b) => u64::from(*b),
        _ => 0,
    }
}
