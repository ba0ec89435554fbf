//! Every form today's bpftrace documents in docs/language.md and
//! docs/stdlib.md that needs no kprobe, uprobe, USDT or stacks, as a script
//! of our own (nothing is copied from bpftrace), run for real on the host
//! kernel (verifier, attach, ring buffer) with its exact output. Forms
//! flowtrace does not support are run too: each must fail with a clear error
//! at its source, never run with another meaning. docs/language.md lists the
//! status of every feature; this file is the proof of the "supported" rows.
//!
//! Needs root and FLOWTRACE_ROOT_TESTS=1 (otherwise each test prints a loud
//! SKIPPED line); run under `flock /tmp/ft-root.lock` with `--test-threads=1`.

use std::process::{Command, Output};
use std::time::Duration;

use flowtrace_testkit::objects::flowtrace_objects_after_grace as nothing_of_ours_in_kernel;
use flowtrace_testkit::root_tests_enabled as enabled;

/// One documented form: its section in bpftrace's docs, our script, and what
/// the script prints after the "Attaching" line (maps printed at exit
/// included).
struct Form {
    doc: &'static str,
    program: &'static str,
    stdout: &'static str,
}

/// Runs flowtrace to completion with a hard limit (every script ends by
/// itself with exit() or a count of interval ticks).
fn run(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowtrace"));
    command.args(args);
    flowtrace_testkit::process::output_within(&mut command, Duration::from_secs(30), || format!("flowtrace did not exit within 30 s: {args:?}"))
}

/// Runs each form; collects every mismatch so one run shows them all.
fn check_forms(forms: &[Form], extra_args: &[&str]) -> Vec<String> {
    let mut failures = Vec::new();
    for form in forms {
        let mut args = vec!["-e", form.program];
        args.extend_from_slice(extra_args);
        let out = run(&args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let body = stdout.split_once('\n').filter(|(first, _)| first.starts_with("Attaching ")).map(|(_, rest)| rest);
        if !out.status.success() || body != Some(form.stdout) {
            failures.push(format!(
                "[{}] {}\nstatus {:?}\nwant: {:?}\ngot:  {:?}\nstderr:\n{stderr}",
                form.doc, form.program, out.status.code(), form.stdout, body.unwrap_or(&stdout)
            ));
        }
    }
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "programs or maps left behind");
    failures
}

/// docs/language.md: every section but probes and types.
const LANGUAGE: &[Form] = &[
    Form {
        doc: "Action Blocks: begin, one block with two attach points",
        program: r#"begin { printf("header\n"); }
tracepoint:syscalls:sys_enter_getppid, tracepoint:syscalls:sys_enter_getpid { @calls = count(); }
interval:ms:100 { exit(); }
end { clear(@calls); printf("bye\n"); }"#,
        // A cleared map without keys still prints as 0, as in bpftrace 0.17
        // (today's bpftrace prints nothing: see docs/language.md).
        stdout: "header\nbye\n\n\n@calls: 0\n",
    },
    Form {
        doc: "Comments: // and /* */",
        program: "BEGIN { // line\n /* block\n over lines */ printf(\"%d\\n\", 1 /* inside */ + 1); exit(); }",
        stdout: "2\n\n\n",
    },
    Form {
        doc: "Conditionals: if / else if / else and the ternary",
        program: r#"BEGIN {
  $a = 7;
  if ($a > 10) { printf("big\n"); } else if ($a > 5) { printf("medium\n"); } else { printf("small\n"); }
  if ($a == 7) { printf("seven\n"); }
  printf("%s\n", $a % 2 == 0 ? "even" : "odd");
  exit();
}"#,
        stdout: "medium\nseven\nodd\n\n\n",
    },
    Form {
        doc: "Config Block: max_strlen and print_maps_on_exit",
        program: r#"config = { max_strlen = 6; print_maps_on_exit = false }
BEGIN { @m = 1; printf("%s|%s\n", str((int8 *)((uint64)curtask + offsetof(struct task_struct, comm))), "literals keep their length"); exit(); }"#,
        stdout: "flowt|literals keep their length\n",
    },
    Form {
        doc: "Data Types: integer casts truncate",
        program: r#"BEGIN { $x = 1 << 16; printf("%d %d %d\n", (uint16)$x, $x, (int8)255); exit(); }"#,
        stdout: "0 65536 -1\n\n\n",
    },
    Form {
        doc: "Data Types: every integer type and bool",
        program: r#"BEGIN {
  printf("%d %d %u %d\n", (uint8)300, (int16)-40000, (uint32)-1, (int64)-1);
  $t = true; $f = false;
  printf("%d %d\n", $t, $f);
  exit();
}"#,
        stdout: "44 25536 4294967295 -1\n1 0\n\n\n",
    },
    Form {
        doc: "Filters/Predicates",
        program: r#"tracepoint:syscalls:sys_enter_getppid /pid == 1 && comm == "no-such-comm"/ { @never = count(); }
BEGIN /1 + 1 == 2/ { printf("predicate true\n"); }
BEGIN /0/ { printf("never\n"); }
interval:ms:50 { exit(); }"#,
        // A count() map no event reached prints as 0 (bpftrace 0.17 too).
        stdout: "predicate true\n\n\n@never: 0\n",
    },
    Form {
        doc: "Literals: decimal, octal, hex, scientific, _, C suffixes, durations",
        program: r#"BEGIN {
  printf("%d %d %d %d\n", 0123, 0x10, 0X1f, 2e3);
  printf("%d %d %d\n", 1_000_123_000, 123UL, 123LL);
  printf("%d %d %d %d\n", 5ns, 2us, 3ms, 1s);
  printf("%ld %ld %ld\n", 1m, 1h, 1d);
  printf("Echo A: %c\n", 65);
  exit();
}"#,
        stdout: "83 16 31 2000\n1000123000 123 123\n5 2000 3000000 1000000000\n60000000000 3600000000000 86400000000000\nEcho A: A\n\n\n",
    },
    Form {
        doc: "Literals: string escapes \\n \\t \\0nn \\xnn",
        program: r#"BEGIN { printf("a\tb\x41\101|\n"); exit(); }"#,
        stdout: "a\tbAA|\n\n\n",
    },
    Form {
        doc: "Loops: for over a map (one key, several keys)",
        program: r#"BEGIN {
  @one[10] = 20;
  for ($kv : @one) { printf("%d %d\n", $kv.0, $kv.1); }
  @two[10, 11] = 20;
  for ($kv : @two) { printf("%d %d %d\n", $kv.0.0, $kv.0.1, $kv.1); }
  clear(@one); clear(@two);
  exit();
}"#,
        stdout: "10 20\n10 11 20\n\n\n\n\n",
    },
    Form {
        doc: "Loops: for over a range, bounds evaluated once; continue, break, return",
        program: r#"BEGIN {
  $a = 4;
  for ($i : 0..$a) { printf("%d ", $i); $a--; }
  printf("| %d\n", $a);
  for ($c : 0..ncpus) { @cpus = count(); }
  printf("%d\n", (int64)@cpus == ncpus);
  delete(@cpus);
  for ($i : 0..10) { if ($i == 1) { continue; } if ($i == 3) { break; } printf("%d\n", $i); }
  for ($i : 0..10) { if ($i == 2) { return; } }
  printf("not reached\n");
}
interval:ms:50 { exit(); }"#,
        stdout: "0 1 2 3 | 0\n1\n0\n2\n\n\n@cpus: 0\n",
    },
    Form {
        doc: "Loops: for without parentheses (stdlib.md's print example); print(@, top)",
        program: r#"BEGIN { $n = 4; for $e : 1..$n { @[$e] = $e * 10; } print(@, 2); clear(@); exit(); }"#,
        stdout: "@[2]: 20\n@[3]: 30\n\n\n\n",
    },
    Form {
        doc: "Tuples: a constant index, also computed (t[1 - 1])",
        program: r#"BEGIN { $t = (1, "hello"); print($t[1]); print($t[1 - 1]); exit(); }"#,
        stdout: "hello\n1\n\n\n",
    },
    Form {
        doc: "Loops: while (deprecated) and unroll",
        program: r#"BEGIN {
  $i = 0;
  while ($i < 3) { $i++; }
  unroll (3) { printf("Unrolled\n"); }
  printf("%d\n", $i);
  exit();
}"#,
        stdout: "Unrolled\nUnrolled\nUnrolled\n3\n\n\n",
    },
    Form {
        doc: "Macros: value, bare name, $var/@map parameters, side effects, nesting, let for once",
        program: r#"macro one() { 1 }
macro plus_one(x) { x + 1 }
macro bump_both($v, @m) { $v += 1; @m += 1; }
macro thrice(x) { x; x; x; }
macro plus_two(x) { plus_one(x) + 1 }
macro once(x) { let $x = x; $x + $x }
macro next($v) { $v += 1; $v }
BEGIN {
  printf("%d %d\n", one(), one);
  $a = 10;
  printf("%d %d\n", plus_one($a), plus_one(2 + 2));
  @b = 5;
  bump_both($a, @b);
  printf("%d\n", $a + @b);
  thrice(printf("x"));
  printf("\n%d %d\n", plus_two(1), once(21));
  $n = 1;
  $y = next($n) * 10;
  printf("%d %d\n", $y, $n);
  clear(@b);
  exit();
}"#,
        stdout: "1 1\n11 5\n17\nxxx\n3 42\n20 2\n\n\n\n",
    },
    Form {
        doc: "Operators: arithmetic, logical, bitwise, relational",
        program: r#"BEGIN {
  printf("%d %d %d %d %d\n", 7 + 3, 7 - 10, 7 * 3, 7 / 2, 7 % 3);
  printf("%d %d %d\n", 1 && 0, 1 || 0, !5);
  printf("%d %d %d %d %d\n", 6 & 3, 6 | 3, 6 ^ 3, 1 << 4, 256 >> 4);
  printf("%d %d %d %d %d %d\n", 1 < 2, 2 <= 2, 3 > 4, 4 >= 5, 5 == 5, 5 != 5);
  printf("%d %d\n", "abc" == "abc", "abc" != "abd");
  exit();
}"#,
        stdout: "10 -3 21 3 1\n0 1 0\n2 7 5 16 16\n1 1 0 0 1 0\n1 1\n\n\n",
    },
    Form {
        doc: "Operators: assignment operators on variables and maps",
        program: r#"BEGIN {
  $x = 3; $x <<= 4; $x >>= 1; $x += 2; $x -= 1; $x *= 3; $x /= 2; $x %= 20; $x &= 0xe; $x |= 1; $x ^= 3;
  @m = 10; @m -= 5;
  printf("%d %d\n", $x, @m);
  clear(@m);
  exit();
}"#,
        // 3<<4=48, >>1=24, +2=26, -1=25, *3=75, /2=37, %20=17, &14=0, |1=1, ^3=2
        stdout: "2 5\n\n\n\n",
    },
    Form {
        doc: "Operators: ++ and -- as prefix and suffix, on maps too",
        program: r#"BEGIN {
  $x = 10; $y = $x--;
  $a = 10; $b = --$a;
  @c++; @c++; ++@c;
  printf("%d %d %d %d %d\n", $x, $y, $a, $b, @c);
  clear(@c);
  exit();
}"#,
        stdout: "9 10 9 9 3\n\n\n\n",
    },
    Form {
        doc: "Block Expressions and the discard expression",
        program: r#"BEGIN {
  let $a = { let $b = 1; $b + 1 };
  @a[1] = 1;
  _ = has_key(@a, 1);
  printf("%d %d\n", $a, { 40 + 2 });
  clear(@a);
  exit();
}"#,
        stdout: "2 42\n\n\n\n",
    },
    Form {
        doc: "Variables: let with and without a value, lexical blocks",
        program: r#"BEGIN {
  let $a = 1;
  let $b;
  if ($a == 1) { $b = 5; let $c = 2; $a = $c; }
  if (1) { $c = "other"; printf("%s\n", $c); }
  printf("%d %d\n", $a, $b);
  exit();
}"#,
        stdout: "other\n2 5\n\n\n",
    },
    Form {
        doc: "Map Declarations: hash, lruhash, percpuhash, percpulruhash",
        program: r#"let @h = hash(10);
let @l = lruhash(10);
let @p = percpuhash(10);
let @q = percpulruhash(10);
BEGIN { @h[1] = 1; @l[2] = 2; @p[3] = 3; @q[4] = 4; exit(); }"#,
        stdout: "\n\n@h[1]: 1\n@l[2]: 2\n@p[3]: 3\n@q[4]: 4\n",
    },
    Form {
        doc: "Maps without keys; map keys as a tuple and as a list",
        program: r#"BEGIN {
  @scalar = 1;
  @k[(1, "a")] = 10;
  @k[2, "b"] = 20;
  printf("%d %d\n", @k[1, "a"], @k[(2, "b")]);
  exit();
}"#,
        stdout: "10 20\n\n\n@k[1, a]: 10\n@k[2, b]: 20\n@scalar: 1\n",
    },
    Form {
        doc: "Per-thread variables: a map keyed by tid, has_key and delete",
        program: r#"tracepoint:syscalls:sys_enter_getppid /comm == "flowtrace"/ { @start[tid] = 1; }
BEGIN { @start[tid] = 5; if (has_key(@start, tid)) { printf("%d\n", @start[tid]); delete(@start, tid); } printf("%d\n", has_key(@start, tid)); exit(); }"#,
        stdout: "5\n0\n\n\n\n",
    },
    Form {
        doc: "Map Printing: print_maps_on_exit=0, or clear in end",
        program: r#"config = { print_maps_on_exit=0 }
BEGIN { @a = 1; @b[1] = 1; exit(); }"#,
        stdout: "",
    },
    Form {
        doc: "PERCPU types: reading count()/sum() in a probe coerces to an integer",
        program: r#"BEGIN {
  @c = count(); @s = sum(3); @s = sum(9);
  if (@s == 12) { printf("%d %d\n", (int64)@c, (int64)@s); }
  exit();
}"#,
        stdout: "1 12\n\n\n@c: 1\n@s: 12\n",
    },
    Form {
        doc: "Tuples: construction, .N, [N], nested",
        program: r#"BEGIN {
  $a = (1, "hello");
  $b = (3, 4, $a);
  print($a); print($b); print($b.0); print($a[1]); print($b.2.0);
  exit();
}"#,
        stdout: "(1, hello)\n(3, 4, (1, hello))\n3\nhello\n1\n\n\n",
    },
    Form {
        doc: "Type Conversion: integer and pointer casts; Structs: -> and . through pointers",
        program: r#"BEGIN {
  $z = -1; $y = (uint32)$z;
  $t = curtask; $p = (uint8 *)$t;
  printf("%u %d %d\n", $y, $t->pid == pid, $t.pid == pid);
  printf("%d\n", $p != 0);
  exit();
}"#,
        stdout: "4294967295 1 1\n1\n\n\n",
    },
    Form {
        doc: "Command Line Parameters: positional $1, str($1), $#",
        program: r#"BEGIN { printf("%d %s %d\n", $1, str($2), $#); exit(); }"#,
        stdout: POSITIONAL,
    },
];

/// Marks the form run with the parameters `42 hello`.
const POSITIONAL: &str = "(run with parameters)";

#[test]
fn root_language_forms_run_as_documented() {
    if !enabled("root_language_forms_run_as_documented") {
        return;
    }
    // The positional-parameter form needs arguments: it runs on its own below.
    let (params, rest): (Vec<&Form>, Vec<&Form>) = LANGUAGE.iter().partition(|f| f.stdout == POSITIONAL);
    let rest: Vec<Form> = rest.iter().map(|f| Form { doc: f.doc, program: f.program, stdout: f.stdout }).collect();
    let mut failures = check_forms(&rest, &[]);
    for f in params {
        let one = [Form { doc: f.doc, program: f.program, stdout: "42 hello 2\n\n\n" }];
        failures.extend(check_forms(&one, &["42", "hello"]));
    }
    let named = [Form {
        doc: "Named Parameters: getopt with defaults",
        program: r#"BEGIN { print((getopt("aa", 1), getopt("bb"), getopt("cc", "x"))); exit(); }"#,
        stdout: "(20, true, x)\n\n\n",
    }];
    failures.extend(check_forms(&named, &["--", "--aa=20", "--bb"]));
    assert!(failures.is_empty(), "{} form(s) failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

/// docs/stdlib.md: the helpers and map value functions that need no kprobe,
/// uprobe, USDT or stack, and whose output does not depend on the machine
/// (those that do, such as `comm` or `cgroup_path`, are compared with what
/// the test process knows of itself).
const STDLIB: &[Form] = &[
    Form {
        doc: "bswap on every width",
        program: r#"BEGIN { printf("%x %x %x %lx\n", bswap((uint8)0x12), bswap((uint16)0x1234), bswap((uint32)0x12345678), bswap((uint64)0x0102030405060708)); exit(); }"#,
        stdout: "12 3412 78563412 807060504030201\n\n\n",
    },
    Form {
        doc: "buf of an array, %r %rx %rh",
        program: r#"BEGIN { $a = pton("10.0.0.65"); printf("%r|%rx|%rh\n", buf($a), buf($a, 2), buf($a, 4)); exit(); }"#,
        stdout: "\\x0a\\x00\\x00A|\\x0a\\x00|0a 00 00 41\n\n\n",
    },
    Form {
        doc: "clear, zero, delete of one key and of a tuple key, delete as a value",
        program: r#"BEGIN {
  @a[1] = 1; @a[2] = 2; @t[3, "x"] = 3; @z["k"] = 9; @s = 5;
  delete(@a, 1);
  delete(@t, (3, "x"));
  printf("%d %d\n", delete(@a, 2), delete(@a, 2));
  zero(@z); clear(@s);
  exit();
}"#,
        stdout: "1 0\n\n\n\n\n\n@z[k]: 0\n",
    },
    Form {
        doc: "exit with a code (the run's status is checked apart)",
        program: r#"BEGIN { printf("before\n"); exit(); printf("after\n"); }
END { printf("end runs\n"); }"#,
        stdout: "before\nend runs\n\n\n",
    },
    Form {
        doc: "has_key and len",
        program: r#"BEGIN {
  @m[1] = 1; @m[2] = 2; @m[3] = 3; @c["a"] = count(); @c["b"] = count();
  printf("%d %d %d %d\n", has_key(@m, 1), has_key(@m, 9), len(@m), len(@c));
  delete(@m, 2);
  printf("%d\n", len(@m));
  clear(@m); clear(@c);
  exit();
}"#,
        stdout: "1 0 3 2\n2\n\n\n\n\n",
    },
    Form {
        doc: "macaddr of six bytes",
        program: r#"BEGIN { $a = pton("fe80::1"); printf("%s\n", macaddr($a)); exit(); }"#,
        stdout: "FE:80:00:00:00:00\n\n\n",
    },
    Form {
        doc: "ncpus, numaid, cpu, nsecs with each clock, elapsed",
        program: r#"BEGIN {
  printf("%d %d %d\n", ncpus > 0, numaid >= 0, cpu < ncpus);
  $m = nsecs(monotonic); $b = nsecs(boot); $t = nsecs(tai); $n = nsecs;
  printf("%d %d %d %d\n", $m > 0, $b >= $m, $t > $b, $n >= $b);
  printf("%d\n", elapsed < 60000000000);
  exit();
}"#,
        stdout: "1 1 1\n1 1 1 1\n1\n\n\n",
    },
    Form {
        doc: "ntop of IPv4/IPv6 integers and arrays; pton; (uint32)pton is host order",
        program: r#"BEGIN {
  printf("%s %s %s\n", ntop(0x0100007f), ntop(pton("::1")), ntop(AF_INET, pton("192.168.1.2")));
  printf("%x\n", (uint32)pton("127.0.0.1"));
  exit();
}"#,
        stdout: "127.0.0.1 ::1 192.168.1.2\n100007f\n\n\n",
    },
    Form {
        doc: "offsetof and sizeof of types and expressions",
        program: r#"struct Bar { char c; long d; };
struct Foo { int a; struct Bar b; };
BEGIN {
  printf("%d %d %d\n", offsetof(struct Foo, b), offsetof(struct Foo, b.d), sizeof(struct Foo));
  $x = (uint16)1;
  printf("%d %d %d\n", sizeof(uint32), sizeof($x), sizeof(struct Bar));
  exit();
}"#,
        stdout: "8 16 24\n4 2 16\n\n\n",
    },
    Form {
        doc: "print of integers, strings, tuples; print(@m, top, div)",
        program: r#"BEGIN {
  print(123); print("abc"); print((1, "two"));
  for ($e : 1..11) { @[$e] = $e - 1; }
  print(@, 2);
  print(@, 2, 2);
  clear(@);
  exit();
}"#,
        stdout: "123\nabc\n(1, two)\n@[9]: 8\n@[10]: 9\n@[9]: 4\n@[10]: 4\n\n\n\n",
    },
    Form {
        doc: "printf conversions, flags, width, precision, length modifiers",
        program: r#"BEGIN { printf("[%5d|%-5d|%05d|%x|%X|%o|%c|%.2s|%lu|%hhd]\n", 42, 42, 42, 255, 255, 8, 66, "abc", 7, 257); exit(); }"#,
        stdout: "[   42|42   |00042|ff|FF|10|B|ab|7|1]\n\n\n",
    },
    Form {
        doc: "probe and pid/tid/uid/gid/comm/curtask/cgroup/username",
        program: r#"BEGIN {
  printf("%s\n", probe);
  printf("%d %d %d\n", pid == curtask->tgid, tid == curtask->pid, uid == 0);
  printf("%d %s %s\n", gid == 0, comm, username);
  exit();
}"#,
        stdout: "BEGIN\n1 1 1\n1 flowtrace root\n\n\n",
    },
    Form {
        doc: "str with a length, strncmp, strcontains, string comparison",
        program: r#"BEGIN {
  $s = "hello world";
  printf("%s|%s\n", str(curtask->comm, 5), $s);
  printf("%d %d %d %d\n", strncmp("hello", "help", 3), strncmp("hello", "help", 4) != 0, strcontains($s, "o w"), strcontains($s, "xyz"));
  exit();
}"#,
        stdout: "flow|hello world\n0 1 1 0\n\n\n",
    },
    Form {
        doc: "count, sum, min, max, avg, stats",
        program: r#"BEGIN {
  @c = count(); @c = count();
  @s = sum(5); @s = sum(7);
  @mn = min(5); @mn = min(-3);
  @mx = max(5); @mx = max(9);
  @a = avg(4); @a = avg(7);
  @st = stats(4); @st = stats(8);
  exit();
}"#,
        stdout: "\n\n@a: 5\n\n@c: 2\n@mn: -3\n@mx: 9\n@s: 12\n@st: count 2, average 6, total 12\n\n",
    },
    Form {
        doc: "hist and lhist",
        program: r#"BEGIN { @h = hist(0); @h = hist(1); @h = hist(5); @h = hist(5); @l = lhist(12, 0, 30, 10); exit(); }"#,
        stdout: "\n\n@h: \n[0]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n[1]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n[2, 4)                 0 |                                                    |\n[4, 8)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n@l: \n[10, 20)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n",
    },
];

#[test]
fn root_stdlib_forms_run_as_documented() {
    if !enabled("root_stdlib_forms_run_as_documented") {
        return;
    }
    // strftime() and time() print the wall clock: tests/root_builtins.rs
    // checks them against the clock.
    let failures = check_forms(STDLIB, &[]);
    assert!(failures.is_empty(), "{} form(s) failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

/// Documented forms flowtrace does not support: each must be refused before
/// anything is loaded, with an error at the construct (`-e:LINE:COL: error:`
/// then the source line and a caret), never run with another meaning.
const UNSUPPORTED: &[(&str, &str, &str)] = &[
    ("Tuples: comparison with == and !=", r#"BEGIN { print((1, "a") == (1, "a")); }"#, "-e:1:15: error: comparing (int8, string[2]) with (int8, string[2]) is not supported"),
    ("Tuples: one element (1,)", "BEGIN { $a = (1,); }", "-e:1:17: error: expected expression, found ')'"),
    ("Tuples: the empty tuple ()", "BEGIN { $a = (); }", "-e:1:15: error: expected expression, found ')'"),
    ("Records (name=value, …)", r#"BEGIN { $a = (color="green", size=2); }"#, "-e:1:20: error: expected ',' or ')', found '='"),
    ("Pointers: & of a scratch variable", "BEGIN { $a = 1; $b = &$a; }", "-e:1:22: error: '&' can only take the address of a struct member"),
    ("Action Blocks: a named block name=probe", "n1=BEGIN { exit(); }", "-e:1:1: error: unknown probe provider 'n1=BEGIN'"),
    ("Imports", r#"import "lib.bt"; BEGIN { }"#, "-e:1:8: error: expected ',', a predicate"),
    ("Type Syntax: postfix array types", "BEGIN { $s = (int32*[4])0; }", "-e:1:21: error: expected ')', found '['"),
    ("Type Syntax: string[N] casts", r#"BEGIN { $s = (string[64])"ab"; }"#, "-e:1:26: error: expected ';' or '}' after statement"),
    ("String: casting a string to an int8 array", r#"BEGIN { $a = (int8[])"abc"; }"#, "-e:1:20: error: expected expression, found ']'"),
    ("Structs: anonymous nested struct definitions", "struct Foo { struct { int d; } c; }; BEGIN { }", "-e:1:21: error: expected a name, found '{'"),
    ("Data Types: BTF integer typedefs in casts", "BEGIN { $a = (uint64_t)1; }", "-e:1:24: error: expected ';' or '}' after statement, found '1'"),
    ("Arguments: print(args) as a whole", "tracepoint:syscalls:sys_enter_getppid { print(args); }", "-e:1:47: error: 'args' is only usable with a field: args.NAME"),
    ("Probes: test", "test:foo { }", "-e:1:1: error: unknown probe provider 'test'"),
    ("Probes: bench", "bench:foo { }", "-e:1:1: error: unknown probe provider 'bench'"),
    ("Probes: self", "self:signal:SIGUSR1 { }", "-e:1:1: error: unknown probe provider 'self'"),
    ("stdlib: typeof", "BEGIN { $a = typeof(1); }", "-e:1:14: error: 'typeof' is a bpftrace function flowtrace does not support"),
    ("stdlib: jiffies", "BEGIN { $a = jiffies; }", "-e:1:14: error: 'jiffies' is a bpftrace builtin flowtrace does not support"),
    ("stdlib: strlen", r#"BEGIN { $a = strlen("ab"); }"#, "-e:1:14: error: 'strlen' is a bpftrace function flowtrace does not support"),
    ("stdlib: assert", r#"BEGIN { assert(1, "x"); }"#, "-e:1:9: error: 'assert' is a bpftrace function flowtrace does not support"),
    ("stdlib: override", "BEGIN { override(1); }", "-e:1:9: error: 'override' is a bpftrace function flowtrace does not support: flowtrace never changes"),
];

#[test]
fn root_unsupported_forms_fail_at_their_source() {
    if !enabled("root_unsupported_forms_fail_at_their_source") {
        return;
    }
    let mut failures = Vec::new();
    for (doc, program, error) in UNSUPPORTED {
        let out = run(&["-e", program]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let caret = stderr.lines().nth(2).is_some_and(|l| l.trim_start().starts_with('^'));
        if out.status.code() != Some(1) || !stderr.starts_with(error) || !caret || !out.stdout.is_empty() {
            failures.push(format!("[{doc}] {program}\nstatus {:?}, want an error starting {error:?}\nstderr:\n{stderr}", out.status.code()));
        }
    }
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "programs or maps left behind");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
