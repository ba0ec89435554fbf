//! `printf` rendering and format-string validation.
//!
//! Expected strings come from bpftrace 0.17 on the development host where
//! bpftrace accepts the format, and from glibc's `snprintf` (a small C
//! program on the same host) for the flags bpftrace 0.17 does not parse
//! (`+`, ` `, `#`), since bpftrace hands every piece to `snprintf`.

use std::net::IpAddr;

use flowtrace_runtime::output::{render_printf, RenderError};
use flowtrace_runtime::values::Value;
use flowtrace_stdlib::printf::{ArgKind, ConvSpec, Conversion, Format, FormatError, Length};

/// Parse (as the checker does) and render (as the runtime does).
fn format_printf(fmt: &str, args: &[Value]) -> String {
    render_printf(&Format::parse(fmt).unwrap(), args).unwrap()
}

fn validate_printf(fmt: &str) -> Result<Vec<ConvSpec>, FormatError> {
    Ok(Format::parse(fmt)?.conversions().cloned().collect())
}

fn i(v: i64) -> Value {
    Value::Int(v)
}

fn u(v: u64) -> Value {
    Value::UInt(v)
}

fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

#[test]
fn width_and_justification() {
    // bpftrace -e 'BEGIN { printf("%5d|%-6s|\n", 42, "ab"); exit(); }'
    assert_eq!(format_printf("%5d|%-6s|\n", &[i(42), s("ab")]), "   42|ab    |\n");
    // bpftrace -e 'BEGIN { printf("[%5d][%-5d][%05d][%.3s][%-6s|][%8.2s][%x][%5s]\n",
    //   -42, 42, 42, "abcdef", "ab", "xyz", 0, "toolongstr"); exit(); }'
    assert_eq!(
        format_printf(
            "[%5d][%-5d][%05d][%.3s][%-6s|][%8.2s][%x][%5s]\n",
            &[i(-42), i(42), i(42), s("abcdef"), s("ab"), s("xyz"), i(0), s("toolongstr")]
        ),
        "[  -42][42   ][00042][abc][ab    |][      xy][0][toolongstr]\n"
    );
    // bpftrace -e 'BEGIN { printf("[%08.3d][%-08d][%.0d][%5.3x]\n", 7, 7, 0, 10); exit(); }'
    assert_eq!(format_printf("[%08.3d][%-08d][%.0d][%5.3x]\n", &[i(7), i(7), i(0), i(10)]), "[     007][7       ][][  00a]\n");
}

#[test]
fn length_modifiers_truncate_like_c() {
    // bpftrace -e 'BEGIN { printf("%d|%x|%ld|%u|%lu|%hhu|%hd|%c|%o|%X|%lx|%llx|%p|%p\n",
    //   0x200000005, -1, -1, -1, -1, 300, 70000, 65, 8, 255, -1, 255, 0, 4096); exit(); }'
    let args = [
        i(0x200000005),
        i(-1),
        i(-1),
        i(-1),
        i(-1),
        i(300),
        i(70000),
        i(65),
        i(8),
        i(255),
        i(-1),
        i(255),
        i(0),
        i(4096),
    ];
    assert_eq!(
        format_printf("%d|%x|%ld|%u|%lu|%hhu|%hd|%c|%o|%X|%lx|%llx|%p|%p\n", &args),
        "5|ffffffff|-1|4294967295|18446744073709551615|44|4464|A|10|FF|ffffffffffffffff|ff|(nil)|0x1000\n"
    );
    // Unsigned values print the same bits.
    assert_eq!(format_printf("%lu %ld %u", &[u(u64::MAX), u(u64::MAX), u(u64::MAX)]), "18446744073709551615 -1 4294967295");
    // glibc: %hhd of 200 is -56, %hx of -1 is ffff.
    assert_eq!(format_printf("%hhd %hx %lld %zu %jd %td", &[i(200), i(-1), i(-2), u(3), i(-4), i(5)]), "-56 ffff -2 3 -4 5");
}

#[test]
fn flags_follow_glibc() {
    let cases: &[(&str, Value, &str)] = &[
        ("[%+d]", i(5), "[+5]"),
        ("[% d]", i(5), "[ 5]"),
        ("[%+5d]", i(-5), "[   -5]"),
        ("[%#x]", i(255), "[0xff]"),
        ("[%#x]", i(0), "[0]"),
        ("[%#X]", i(255), "[0XFF]"),
        ("[%#o]", i(8), "[010]"),
        ("[%#o]", i(0), "[0]"),
        ("[%#08x]", i(255), "[0x0000ff]"),
        ("[%-+6d]", i(7), "[+7    ]"),
        ("[%+u]", i(7), "[7]"),
        ("[%.0x]", i(0), "[]"),
        ("[%#.0o]", i(0), "[0]"),
        ("[%#.3o]", i(8), "[010]"),
        ("[%#.2o]", i(8), "[010]"),
        ("[% +d]", i(5), "[+5]"),
        ("[%08.3x]", i(10), "[     00a]"),
        ("[%-05d]", i(3), "[3    ]"),
        ("[%.3d]", i(-7), "[-007]"),
        ("[%010.3d]", i(-7), "[      -007]"),
        ("[% 05d]", i(7), "[ 0007]"),
        ("[%#5x]", i(1), "[  0x1]"),
        ("[%#lx]", i(-1), "[0xffffffffffffffff]"),
        ("[%05s]", s("ab"), "[   ab]"),
        ("[%.1s]", s(""), "[]"),
        ("[%5c]", i(65), "[    A]"),
        ("[%-3c]", i(65), "[A  ]"),
        ("[%05c]", i(65), "[    A]"),
        ("[%.2c]", i(65), "[A]"),
        ("[%10p]", i(4096), "[    0x1000]"),
        ("[%-10p]", i(0), "[(nil)     ]"),
        ("[%5p]", i(0), "[(nil)]"),
        ("[%.5p]", i(255), "[0x000ff]"),
        ("[%08p]", i(255), "[0x0000ff]"),
        ("[%+p]", i(255), "[+0xff]"),
    ];
    for (fmt, arg, want) in cases {
        assert_eq!(format_printf(fmt, std::slice::from_ref(arg)), *want, "format {fmt}");
    }
}

#[test]
fn text_values_under_percent_s() {
    // bpftrace -e 'BEGIN { printf("x %s y\n", ntop(0x0100007f)); exit(); }'
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    assert_eq!(format_printf("x %s y\n", &[Value::Inet(lo)]), "x 127.0.0.1 y\n");
    let v6: IpAddr = "fe80::1".parse().unwrap();
    assert_eq!(format_printf("[%-10s]", &[Value::Inet(v6)]), "[fe80::1   ]");
    assert_eq!(format_printf("%s", &[Value::Probe("tracepoint:tcp:tcp_retransmit_skb".into())]), "tracepoint:tcp:tcp_retransmit_skb");
    assert_eq!(format_printf("%s %s", &[i(-3), Value::Tuple(vec![i(1), s("a")])]), "-3 (1, a)");
}

#[test]
fn percent_percent_is_a_literal_percent_before_a_conversion() {
    // bpftrace -e 'BEGIN { printf("a%%b%d\n", 3); exit(); }' prints "a%b3".
    assert_eq!(format_printf("a%%b%d\n", &[i(3)]), "a%b3\n");
    // bpftrace 0.17 leaves "%%" after the last conversion as "%%" (it copies
    // the tail without snprintf), and so do we now, byte for byte:
    // bpftrace -e 'BEGIN { printf("%d%%\n", 5); exit(); }' prints "5%%",
    // bpftrace -e 'BEGIN { printf("100%%\n"); exit(); }' prints "100%%",
    // bpftrace -e 'BEGIN { printf("%d|%%|%d|%%\n", 1, 2); exit(); }' prints "1|%|2|%%".
    assert_eq!(format_printf("%d%%\n", &[i(5)]), "5%%\n");
    assert_eq!(format_printf("100%%\n", &[]), "100%%\n");
    assert_eq!(format_printf("%d|%%|%d|%%\n", &[i(1), i(2)]), "1|%|2|%%\n");
}

#[test]
fn mismatched_or_missing_arguments_never_panic() {
    // The checker rules these out; the renderer reports them instead of
    // guessing (it used to print "x|" and "" here).
    let fmt = |f: &str| Format::parse(f).unwrap();
    assert_eq!(
        render_printf(&fmt("%d|%d"), &[s("x")]),
        Err(RenderError::ArgumentCount { expected: 2, given: 1 })
    );
    assert_eq!(
        render_printf(&fmt("%d|"), &[s("x")]),
        Err(RenderError::NotAnInteger { conversion: "%d".into(), value: "x".into() })
    );
    assert_eq!(render_printf(&fmt("%s"), &[]), Err(RenderError::ArgumentCount { expected: 1, given: 0 }));
    assert_eq!(format_printf("%c", &[i(0xe9)]), "\u{fffd}");
    // An absurd width is a format error (at compile time), not a 10 GB allocation.
    assert_eq!(
        Format::parse("%9999999999999999999999d").unwrap_err().message,
        "width or precision above 4096 in '%9999999999999999999999d'"
    );
}

#[test]
fn validate_lists_conversions_with_their_ranges() {
    let specs = validate_printf("pid %-6d %s:%hu %%x %lld\n").unwrap();
    let summary: Vec<_> = specs.iter().map(|c| (c.range.clone(), c.conv, c.length, c.conv.arg_kind())).collect();
    assert_eq!(
        summary,
        vec![
            (4..8, Conversion::Signed, Length::Int, ArgKind::Integer),
            (9..11, Conversion::Str, Length::Int, ArgKind::Text),
            (12..15, Conversion::Unsigned, Length::Short, ArgKind::Integer),
            (20..24, Conversion::Signed, Length::Long, ArgKind::Integer),
        ]
    );
    assert!(specs[0].flags.left);
    assert_eq!(specs[0].width, Some(6));
}

#[test]
fn validate_rejects_bad_conversions() {
    let e = validate_printf("a %q b").unwrap_err();
    assert_eq!(e.range, 2..4);
    assert_eq!(e.message, "unknown conversion '%q'");
    let e = validate_printf("100%").unwrap_err();
    assert_eq!(e.range, 3..4);
    assert!(e.message.contains("incomplete"), "{}", e.message);
    // A length modifier on %s or %c is meaningless.
    assert_eq!(validate_printf("%ls").unwrap_err().range, 0..3);
    // A multi-byte character after % stays one character in the message.
    assert_eq!(validate_printf("%é").unwrap_err().message, "unknown conversion '%é'");
    // The renderer never sees a bad format: only a parsed one exists.
    assert!(Format::parse("%q").is_err());
}
