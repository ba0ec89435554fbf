//! The printf parser: what it accepts, the pieces it produces, what it rejects.
//! Rendering is tested with real values in `runtime/tests/output_printf.rs`
//! and over generated formats in `runtime/tests/printf_generated.rs`.

use flowtrace_stdlib::printf::{Conversion, Format, Length, Piece, MAX_WIDTH};

fn convs(fmt: &str) -> Vec<(bool, bool, Option<usize>, Length, Conversion)> {
    Format::parse(fmt).unwrap().conversions().map(|c| (c.flags.left, c.flags.zero, c.width, c.length, c.conv)).collect()
}

#[test]
fn parses_flags_width_length() {
    assert_eq!(
        convs("%-10s %5d %08x %llu %hhu %% %p"),
        vec![
            (true, false, Some(10), Length::Int, Conversion::Str),
            (false, false, Some(5), Length::Int, Conversion::Signed),
            (false, true, Some(8), Length::Int, Conversion::HexLower),
            (false, false, None, Length::Long, Conversion::Unsigned),
            (false, false, None, Length::Char, Conversion::Unsigned),
            (false, false, None, Length::Int, Conversion::Pointer),
        ]
    );
    let all = Format::parse("%+ #-0d").unwrap();
    let flags = all.conversions().next().unwrap().flags;
    assert!(flags.plus && flags.space && flags.alt && flags.left && flags.zero);
    assert_eq!(Format::parse("%.d").unwrap().conversions().next().unwrap().precision, Some(0));
    assert_eq!(convs("%jd %zu %td %lx"), vec![(false, false, None, Length::Long, Conversion::Signed),
        (false, false, None, Length::Long, Conversion::Unsigned),
        (false, false, None, Length::Long, Conversion::Signed),
        (false, false, None, Length::Long, Conversion::HexLower)]);
}

#[test]
fn percent_percent_before_a_conversion_is_one_percent() {
    // bpftrace -e 'BEGIN { printf("a%%b%d\n", 3); exit(); }' prints "a%b3".
    let f = Format::parse("a%%b%d\n").unwrap();
    assert_eq!(f.pieces[0], Piece::Literal("a%b".into()));
    assert_eq!(f.pieces[2], Piece::Literal("\n".into()));
}

#[test]
fn percent_percent_after_the_last_conversion_stays_doubled() {
    // bpftrace 0.17 copies the text after the last conversion unchanged:
    // `printf("%d%%\n", 5)` prints "5%%", `printf("100%%\n")` "100%%",
    // `printf("%d|%%|%d|%%\n", 1, 2)` "1|%|2|%%".
    assert_eq!(Format::parse("100%%\n").unwrap().pieces, vec![Piece::Literal("100%%\n".into())]);
    let f = Format::parse("%d|%%|%d|%%\n").unwrap();
    assert_eq!(f.pieces[1], Piece::Literal("|%|".into()));
    assert_eq!(f.pieces[3], Piece::Literal("|%%\n".into()));
    assert_eq!(f.text, "%d|%%|%d|%%\n");
}

#[test]
fn rejects_unknown_and_incomplete() {
    let e = Format::parse("a %q b").unwrap_err();
    assert_eq!((e.range, e.message.as_str()), (2..4, "unknown conversion '%q'"));
    let e = Format::parse("100%").unwrap_err();
    assert_eq!(e.range, 3..4);
    assert!(e.message.contains("incomplete"), "{}", e.message);
    assert_eq!(Format::parse("%5").unwrap_err().range.start, 0);
    // A multi-byte character after % stays one character in the message.
    assert_eq!(Format::parse("%é").unwrap_err().message, "unknown conversion '%é'");
}

#[test]
fn rejects_length_modifiers_on_text_and_char() {
    // `%ls`/`%lc` are wide strings and characters in C, which nothing here sends.
    assert_eq!(Format::parse("%ls").unwrap_err().range, 0..3);
    assert_eq!(Format::parse("x %hhc").unwrap_err().range, 2..6);
    assert!(Format::parse("%lp %hhx %llo").is_ok());
}

#[test]
fn caps_width_and_precision() {
    assert!(Format::parse(&format!("%{MAX_WIDTH}d %.{MAX_WIDTH}s")).is_ok());
    let e = Format::parse(&format!("ab%-{}d", MAX_WIDTH + 1)).unwrap_err();
    assert_eq!(e.range, 2..9);
    assert_eq!(e.message, "width or precision above 4096 in '%-4097d'");
    assert!(Format::parse(&format!("%.{}x", MAX_WIDTH + 1)).is_err());
    // Too many digits for any integer saturates into the same error.
    assert!(Format::parse("%9999999999999999999999d").unwrap_err().message.contains("above 4096"));
}
