//! `parse` must return — Ok or diagnostics — on any input, never panic or
//! blow the stack, and never take long. Inputs: random bytes, truncations,
//! token-level splices of the corpus, and hand-made hostile shapes. The
//! generator is a fixed-seed SplitMix64, so failures reproduce; the loop is
//! bounded by both a count and a few seconds of wall time.

use flowtrace_lang::diag::render_all;
use flowtrace_lang::dump_ast::dump_ast;
use flowtrace_lang::{parse, Source};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn corpus() -> Vec<String> {
    let mut texts = Vec::new();
    for sub in ["valid", "invalid_syntax"] {
        for path in flowtrace_testkit::corpus::corpus(sub) {
            texts.push(std::fs::read_to_string(path).expect("corpus file"));
        }
    }
    assert!(!texts.is_empty(), "no corpus found");
    texts
}

/// Words, single punctuation characters and whitespace runs.
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let class = |c: char| if c.is_alphanumeric() || c == '_' { 0 } else if c.is_whitespace() { 1 } else { 2 };
        let this = class(c);
        let next = chars.peek().map(|&(_, n)| class(n));
        if this == 2 || next != Some(this) {
            let end = i + c.len_utf8();
            out.push(&text[start..end]);
            start = end;
        }
    }
    out
}

const ALPHABET: &[u8] = b"{}()[]/;,:@$#\"\\*&|^!~<>=+-%?._ \n\tabckprtx019e";
const SNIPPETS: &[&str] = &[
    "{", "}", "(", ")", "[", "]", "/", ";", ",", "\"", "/*", "*/", "//", "@", "$", "$#", "->", "++", "--", "?",
    ":", "if", "else", "while", "unroll", "return", "let", "struct", "(struct sock *)", "0x", "1e", "_", "\\",
    "#include", "\n", "é", "\u{0}", "kprobe:", "interval:s:", "tc:*:", "BEGIN", "=", "<<=",
];

fn mutate(rng: &mut Rng, seeds: &[String]) -> String {
    let seed = rng.pick(seeds);
    match rng.below(5) {
        0 => {
            let len = rng.below(200);
            let bytes: Vec<u8> = (0..len)
                .map(|_| if rng.below(4) == 0 { rng.next() as u8 } else { *rng.pick(ALPHABET) })
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        1 => {
            let mut cut = rng.below(seed.len() + 1);
            while !seed.is_char_boundary(cut) {
                cut -= 1;
            }
            seed[..cut].to_string()
        }
        2 => {
            let other = rng.pick(seeds);
            let (a, b) = (tokens(seed), tokens(other));
            let (i, j) = (rng.below(a.len()), rng.below(b.len()));
            let mut out: Vec<&str> = a[..i].to_vec();
            out.extend_from_slice(&b[j..]);
            out.concat()
        }
        _ => {
            let mut toks = tokens(seed);
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(toks.len() + 1);
                match rng.below(3) {
                    0 if at < toks.len() => {
                        toks.remove(at);
                    }
                    1 if at < toks.len() => {
                        let t = toks[at];
                        toks.insert(at, t);
                    }
                    _ => toks.insert(at, *rng.pick(SNIPPETS)),
                }
            }
            toks.concat()
        }
    }
}

mod support;

fn must_not_panic(text: &str) {
    let src = Source::new("fuzz.ft", text);
    let outcome = catch_unwind(AssertUnwindSafe(|| match parse(&src) {
        Ok(program) => {
            dump_ast(&program);
            // Whatever parses must also go through the checker without a
            // panic: errors are fine, crashes are not.
            let kernel = support::FakeKernel::new();
            match flowtrace_lang::check(&program, &kernel, &flowtrace_lang::CheckOptions::default()) {
                Ok(typed) => {
                    flowtrace_lang::dump_types::dump_types(&typed);
                }
                Err(diags) => {
                    assert!(!diags.is_empty(), "a failed check must carry a diagnostic");
                    render_all(&diags, &src);
                }
            }
        }
        Err(diags) => {
            assert!(!diags.is_empty(), "an error result must carry a diagnostic");
            render_all(&diags, &src);
        }
    }));
    if outcome.is_err() {
        panic!("parse or check panicked on input {text:?}");
    }
}

#[test]
fn mutated_corpus_never_panics() {
    let seeds = corpus();
    let mut rng = Rng(0x5eed_f10e_7ace);
    let started = Instant::now();
    let mut runs = 0;
    while runs < 20_000 && started.elapsed() < Duration::from_secs(4) {
        let input = mutate(&mut rng, &seeds);
        must_not_panic(&input);
        runs += 1;
    }
    eprintln!("fuzz: {runs} inputs in {:?}", started.elapsed());
    assert!(runs >= 1_000, "only {runs} inputs in the time budget: the parser is too slow");
}

#[test]
fn every_truncation_of_a_seed_script_is_handled() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/valid/seed_ratio.ft"))
        .expect("seed_ratio.ft");
    for (cut, _) in text.char_indices() {
        must_not_panic(&text[..cut]);
    }
}

#[test]
fn hostile_shapes_are_handled_quickly() {
    let n = 5_000;
    let inputs = [
        "(".repeat(n),
        format!("BEGIN {{ $x = {}1{}; }}", "(".repeat(n), ")".repeat(n)),
        format!("BEGIN {{ {} }}", "{".repeat(n)),
        format!("BEGIN {{ $x = {}1; }}", "!".repeat(n)),
        format!("BEGIN {{ $x = {}1; }}", "-".repeat(n)),
        format!("BEGIN {{ $x = 1{}; }}", "++".repeat(n)),
        format!("BEGIN {{ $x = $y{}; }}", ".f".repeat(n)),
        format!("BEGIN {{ $x = {}1; }}", "a ? b : ".repeat(n)),
        format!("BEGIN {{ $x = {}; }}", "1 + ".repeat(n) + "1"),
        format!("BEGIN {{ $x = {}", "@a[".repeat(60)),
        format!("BEGIN {{ $x = {}", "f(".repeat(60)),
        format!("BEGIN {{ $x = {}", "(a * ".repeat(60)),
        format!("BEGIN {{ $x = {}", "(struct s *)(".repeat(60)),
        format!("BEGIN {{ if {} }}", "if (1) { ".repeat(n)),
        format!("BEGIN {{ printf(\"{}\"); }}", "\\x41".repeat(n)),
        "kprobe:f,".repeat(n),
        "/*".repeat(n),
        "\"".repeat(n),
        "}".repeat(n),
        "#include <x>\n".repeat(n),
    ];
    // Linear work finishes in milliseconds; the shapes this guards against
    // (backtracking at every level) never finish at all. The limit is far
    // above the first and only there so that the second fails instead of
    // hanging the suite: this is not a speed test, a loaded machine passes.
    for input in inputs {
        let head: String = input.chars().take(40).collect();
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            must_not_panic(&input);
            let _ = done.send(());
        });
        assert!(finished.recv_timeout(Duration::from_secs(60)).is_ok(), "no answer within a minute on input starting {head:?}");
    }
}
