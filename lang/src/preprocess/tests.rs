use super::*;
use crate::diag::render_all;

fn pre(text: &str) -> String {
    match run(&Source::new("t.bt", text)) {
        Ok(e) => e.text,
        Err(d) => panic!("{}", render_all(&d, &Source::new("t.bt", text))),
    }
}

fn errors(text: &str) -> String {
    let source = Source::new("t.bt", text);
    match run(&source) {
        Ok(e) => panic!("preprocessed without errors:\n{}", e.text),
        Err(d) => render_all(&d, &source),
    }
}

#[test]
fn btf_branch_of_the_tools_is_taken_and_lines_stay_in_place() {
    let text = "#ifndef BPFTRACE_HAVE_BTF\n#include <net/sock.h>\n#else\n#include <sys/socket.h>\n#endif\nBEGIN { }\n";
    let out = pre(text);
    assert_eq!(out.len(), text.len());
    assert_eq!(out.trim(), "BEGIN { }");
    assert_eq!(out.find("BEGIN"), text.find("BEGIN"));
}

#[test]
fn object_and_function_like_macros() {
    assert_eq!(pre("#define N 5\n$x = N;"), "           \n$x = 5;");
    assert_eq!(pre("#define ADD(a, b) ((a) + (b))\nADD(1, ADD(2, 3))").trim(), "((1) + (((2) + (3))))");
    assert_eq!(pre("#define S(x) #x\n#define CAT(a, b) a ## b\nS(a \"b\") CAT(x, 1)").trim(), "\"a \\\"b\\\"\" x1");
    assert_eq!(pre("#define V(f, ...) printf(f, __VA_ARGS__)\nV(\"%d %d\", 1, 2)").trim(), "printf(\"%d %d\", 1, 2)");
    // Self-reference stops; names in strings, after $ or @, and in numbers are left alone.
    assert_eq!(pre("#define X X + 1\nX").trim(), "X + 1");
    assert_eq!(pre("#define N 2\n\"N\" $N @N 0xN N").trim(), "\"N\" $N @N 0xN 2");
    // A function-like macro's name without arguments is not a use.
    assert_eq!(pre("#define F(a) a\nF").trim(), "F");
    assert_eq!(pre("#define F(a, b) (a + b)\nF(1,\n2)").trim(), "(1 + 2)", "arguments over lines")
}

#[test]
fn conditionals_evaluate() {
    let text = "#define V 3\n#if V > 2 && defined(V)\na\n#elif 1\nb\n#else\nc\n#endif\n#if 0\n#if 1\nd\n#endif\n#elif !defined V\ne\n#else\nf\n#endif\n#undef V\n#ifdef V\ng\n#endif";
    let words: Vec<String> = pre(text).split_whitespace().map(str::to_string).collect();
    assert_eq!(words, ["a", "f"]);
}

#[test]
fn mistakes_are_errors_with_carets() {
    assert_eq!(
        errors("#if 1\nBEGIN {}\n"),
        "t.bt:1:1: error: unterminated conditional: no #endif closes it\n#if 1\n^~~~~\n  = hint: every #if, #ifdef and #ifndef needs an #endif in the same file\n"
    );
    assert!(errors("  #frobnicate x\n").starts_with("t.bt:1:3: error: unknown preprocessor directive '#frobnicate'\n  #frobnicate x\n  ^~~~~~~~~~~\n"));
    assert!(errors("#endif\n").starts_with("t.bt:1:1: error: #endif without #if\n"));
    assert!(errors("#if 1\n#else\n#elif 1\n#endif\n").contains("t.bt:3:1: error: #elif after #else\n"));
    assert!(errors("#error no BTF here\n").starts_with("t.bt:1:1: error: #error no BTF here\n"));
    assert!(errors("#if 1 +\n#endif\n").contains("t.bt:1:1: error: #if condition ends too early"));
    assert_eq!(errors("#define F(a) a\n$x = F(1, 2);\n"), "t.bt:2:6: error: macro 'F' takes 1 arguments, 2 given\n$x = F(1, 2);\n     ^~~~~~~\n");
    assert!(errors("#include \"./no-such.h\"\n").starts_with("t.bt:1:1: error: cannot find included file './no-such.h'\n"));
}

#[test]
fn runaway_expansion_is_an_error() {
    let text = "#define A B B B B B B B B\n#define B C C C C C C C C\n#define C D D D D D D D D\n#define D E E E E E E E E\n#define E F F F F F F F F\n#define F G G G G G G G G\n#define G H H H H H H H H\nA\n";
    assert!(errors(text).contains("expands to more than"));
}

#[test]
fn skipped_text_is_not_expanded_and_comments_hide_directives() {
    assert_eq!(pre("/*\n#error hidden\n*/ x").split_whitespace().collect::<Vec<_>>(), ["/*", "#error", "hidden", "*/", "x"]);
    assert_eq!(pre("#if 0\n#frobnicate\n#define X 1\n#endif\nX").trim(), "X");
}

#[test]
fn includes_read_files_next_to_the_script_and_in_include_dirs() {
    let dir = std::env::temp_dir().join(format!("ft-pre-{}", std::process::id()));
    let sub = dir.join("inc");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(dir.join("a.h"), "#define FROM_A 1\n#include \"b.h\"").unwrap();
    std::fs::write(sub.join("b.h"), "#define FROM_B 2\n").unwrap();
    std::fs::write(dir.join("loop.h"), "#include \"loop.h\"\n").unwrap();
    let setup = crate::span::IncludeSetup { script_dir: Some(dir.clone()), dirs: vec![sub.clone()], pre_includes: vec![] };
    let source = Source::new("main.bt", "#include \"a.h\"\nFROM_A FROM_B").with_includes(setup.clone());
    assert_eq!(run(&source).unwrap().text.split_whitespace().collect::<Vec<_>>(), ["1", "2"]);

    let source = Source::new("main.bt", "#include \"loop.h\"\n").with_includes(setup);
    let rendered = render_all(&run(&source).unwrap_err(), &source);
    assert!(rendered.starts_with(&format!("{}:1:1: error: #include of 'loop.h' is recursive", dir.join("loop.h").display())), "{rendered}");
    std::fs::remove_dir_all(&dir).unwrap();
}
