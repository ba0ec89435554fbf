//! The runtime against the real kernel, with hand-written programs (no
//! compiler involved): load, attach, count, read maps and events back, detach,
//! and prove through the kernel's own listing that nothing is left.
//!
//! Needs root: run with `FLOWTRACE_ROOT_TESTS=1 cargo test -p flowtrace-runtime --test root_kernel`.
//! Each test uses its own program and map names, so they may run in parallel.

mod common;

use common::*;
use flowtrace_codegen::insn::*;
use flowtrace_codegen::object::*;
use flowtrace_lang::ast::{AttachKind, Period};
use flowtrace_lang::typed::MapId;
use flowtrace_lang::types::Type;
use flowtrace_runtime::values::{AggValue, MapEntry, Value};
use flowtrace_runtime::{Flow, Loaded, RuntimeError};
use flowtrace_stdlib::printf::Format;
use std::time::{Duration, Instant};

fn getpid_tracepoint() -> AttachKind {
    AttachKind::Tracepoint { category: "syscalls".into(), name: "sys_enter_getpid".into() }
}

/// Counts this process's getpid() calls in map 0 and sends (event 1, tgid)
/// to the ring buffer (map 1) for each.
fn getpid_counter(prog: &str, counts: &str, events: &str) -> CompiledProgram {
    let pid = std::process::id() as i32;
    let mut a = Asm::default();
    a.call(helper::GET_CURRENT_PID_TGID).rsh_imm(0, 32);
    let other = a.jump_if_imm(BPF_JNE, 0, pid);
    a.store(10, -24, 0).store_imm(10, -32, 1);
    a.count_key_zero(0);
    a.ringbuf_output(1, -32, 16);
    a.land(other).mov_imm(0, 0).exit();
    CompiledProgram {
        programs: vec![a.program(prog, ProgramKind::Tracepoint, getpid_tracepoint(), "tracepoint:syscalls:sys_enter_getpid")],
        maps: vec![count_map(counts, 0), events_map(events)],
        events: vec![EventKind::Exit, EventKind::Printf { format: Format::parse("pid %d\n").unwrap(), args: vec![Type::I64] }],
        probe_names: vec![], records: Default::default(), str_trunc_trailer: String::new(), missing_probes: Default::default()
    }
}

fn getpid_n(n: usize) {
    for _ in 0..n {
        // SAFETY: getpid has no preconditions; called as a raw syscall so no
        // libc cache can skip the kernel entry.
        unsafe { libc::syscall(libc::SYS_getpid) };
    }
}

fn scalar_count(loaded: &Loaded, map: u32) -> u64 {
    let snap = loaded.maps().snapshot(MapId(map)).unwrap();
    match snap.entries.as_slice() {
        [] => 0,
        [MapEntry { key: None, value: AggValue::Count(n) }] => *n,
        other => panic!("unexpected entries {other:?}"),
    }
}

#[test]
fn tracepoint_counts_and_sends_events_exactly() {
    if !root_tests_enabled("tracepoint_counts_and_sends_events_exactly") {
        return;
    }
    let loaded = Loaded::load(&getpid_counter("ft_t_getpid", "ft_t_getpid_c", "ft_t_getpid_e")).unwrap();
    assert!(!loaded.timings.aya_loader);
    count_getpid_calls(loaded, "ft_t_getpid");
}

#[test]
fn aya_loader_path_counts_the_same() {
    if !root_tests_enabled("aya_loader_path_counts_the_same") {
        return;
    }
    let compiled = getpid_counter("ft_t_getpid_a", "ft_t_getpid_ac", "ft_t_getpid_ae");
    let loaded = Loaded::load_with_aya_loader(&compiled).unwrap();
    assert!(loaded.timings.aya_loader);
    count_getpid_calls(loaded, "ft_t_getpid_a");
}

fn count_getpid_calls(mut loaded: Loaded, prog: &str) {
    getpid_n(5); // not attached yet: must not count
    loaded.attach_all().unwrap();
    assert_eq!(loaded.attached(), 1);
    getpid_n(50);
    assert_eq!(scalar_count(&loaded, 0), 50);

    let mut sink = Collect::default();
    assert_eq!(loaded.drain_events(&mut sink).unwrap(), Flow::Continue);
    assert_eq!(sink.printf.len(), 50);
    let me = Value::Int(i64::from(std::process::id()));
    assert!(sink.printf.iter().all(|(f, args)| f == "pid %d\n" && args == &[me.clone()]));
    assert!(loaded.maps().snapshot(MapId(0)).unwrap().name.starts_with("@t_getpid"));
    assert_eq!(loaded.maps().lost_events().unwrap(), 0);

    loaded.maps().zero(MapId(0)).unwrap();
    assert_eq!(loaded.maps().snapshot(MapId(0)).unwrap().entries.len(), 1);
    assert_eq!(scalar_count(&loaded, 0), 0);
    loaded.maps().clear(MapId(0)).unwrap();
    assert!(loaded.maps().snapshot(MapId(0)).unwrap().entries.is_empty());

    loaded.detach_all();
    getpid_n(10);
    assert_eq!(scalar_count(&loaded, 0), 0, "detached probe still counted");
    drop(loaded);
    assert_unloaded(prog);
    assert_maps_freed(prog);
}

#[test]
fn interval_ticks_on_one_cpu() {
    if !root_tests_enabled("interval_ticks_on_one_cpu") {
        return;
    }
    let mut a = Asm::default();
    a.count_key_zero(0).mov_imm(0, 0).exit();
    let period = Period::Nanos(20_000_000);
    let compiled = CompiledProgram {
        programs: vec![a.program("ft_t_interval", ProgramKind::PerfEvent, AttachKind::Interval { period }, "interval:ms:20")],
        maps: vec![count_map("ft_t_ticks", 0)],
        events: vec![],
        probe_names: vec![], records: Default::default(), str_trunc_trailer: String::new(), missing_probes: Default::default()
    };
    let mut loaded = Loaded::load(&compiled).unwrap();
    loaded.attach_all().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let ticks = scalar_count(&loaded, 0);
    // 25 expected; allow for timer slack on a loaded 2-CPU machine.
    assert!((18..=32).contains(&ticks), "{ticks} ticks of 20 ms in 500 ms");
    drop(loaded);
    assert_unloaded("ft_t_interval");
}

#[test]
fn begin_runs_once_through_test_run() {
    if !root_tests_enabled("begin_runs_once_through_test_run") {
        return;
    }
    let mut a = Asm::default();
    a.store_imm(10, -8, 0).store_imm(10, -16, -42);
    a.map(1, 0).mov(2, 10).add_imm(2, -8).mov(3, 10).add_imm(3, -16).mov_imm(4, 0).call(helper::MAP_UPDATE_ELEM);
    a.store_imm(10, -24, 0).ringbuf_output(1, -24, 8);
    a.mov_imm(0, 0).exit();
    let compiled = CompiledProgram {
        programs: vec![a.program("ft_t_begin", ProgramKind::Special, AttachKind::Begin, "BEGIN")],
        maps: vec![plain_map("ft_t_begin_m", 0, Type::I64), events_map("ft_t_begin_e")],
        events: vec![EventKind::Exit],
        probe_names: vec![], records: Default::default(), str_trunc_trailer: String::new(), missing_probes: Default::default()
    };
    let mut loaded = Loaded::load(&compiled).unwrap();
    loaded.attach_all().unwrap();
    assert_eq!(loaded.attached(), 0, "BEGIN must not be attached");
    loaded.run_end().unwrap(); // no END program: nothing happens
    assert!(loaded.maps().snapshot(MapId(0)).unwrap().entries.is_empty());
    loaded.run_begin().unwrap();
    let snap = loaded.maps().snapshot(MapId(0)).unwrap();
    assert_eq!(snap.entries, [MapEntry { key: None, value: AggValue::Plain(Value::Int(-42)) }]);
    assert_eq!(loaded.drain_events(&mut Collect::default()).unwrap(), Flow::Exit);
    drop(loaded);
    assert_unloaded("ft_t_begin");
}

/// Adds `n` to slot `slot` of the per-CPU stats array (map `map`).
fn bump_stats(a: &mut Asm, map: u32, slot: i32, n: i32) {
    a.store_imm(10, -8, slot).map(1, map).mov(2, 10).add_imm(2, -8).call(helper::MAP_LOOKUP_ELEM);
    let missing = a.jump_if_imm(BPF_JEQ, 0, 0);
    a.mov_imm(1, n).atomic_add(0, 0, 1);
    a.land(missing);
}

#[test]
fn stats_slots_report_dropped_updates_and_lost_events() {
    if !root_tests_enabled("stats_slots_report_dropped_updates_and_lost_events") {
        return;
    }
    // Two user maps, so the lost-events slot is 2 + STATS_LOST_EVENTS.
    let mut a = Asm::default();
    bump_stats(&mut a, 2, 1, 3);
    bump_stats(&mut a, 2, 2 + STATS_LOST_EVENTS as i32, 5);
    a.mov_imm(0, 0).exit();
    let stats = MapSpec {
        name: "ft_t_stats".into(),
        map_type: BpfMapType::PercpuArray,
        key_size: 4,
        value_size: 8,
        max_entries: 3,
        role: MapRole::Stats,
    };
    let compiled = CompiledProgram {
        programs: vec![a.program("ft_t_statsprog", ProgramKind::Special, AttachKind::Begin, "BEGIN")],
        maps: vec![count_map("ft_t_stats_a", 0), count_map("ft_t_stats_b", 1), stats],
        events: vec![],
        probe_names: vec![], records: Default::default(), str_trunc_trailer: String::new(), missing_probes: Default::default()
    };
    let mut loaded = Loaded::load(&compiled).unwrap();
    loaded.run_begin().unwrap();
    loaded.run_begin().unwrap();
    let maps = loaded.maps();
    assert_eq!(maps.dropped_updates(MapId(0)).unwrap(), 0);
    assert_eq!(maps.dropped_updates(MapId(1)).unwrap(), 6);
    assert_eq!(maps.snapshot(MapId(1)).unwrap().dropped_updates, 6);
    assert_eq!(maps.lost_events().unwrap(), 10);
    drop(loaded);
    assert_unloaded("ft_t_statsprog");
}

#[test]
fn kprobe_verifies_but_attach_fails_cleanly_without_kprobes() {
    if !root_tests_enabled("kprobe_verifies_but_attach_fails_cleanly_without_kprobes") {
        return;
    }
    let mut a = Asm::default();
    a.mov_imm(0, 0).exit();
    let kp = AttachKind::Kprobe { module: None, func: "tcp_sendmsg".into() };
    let compiled = CompiledProgram {
        programs: vec![a.program("ft_t_kprobe", ProgramKind::Kprobe, kp, "kprobe:tcp_sendmsg")],
        maps: vec![],
        events: vec![],
        probe_names: vec![], records: Default::default(), str_trunc_trailer: String::new(), missing_probes: Default::default()
    };
    let mut loaded = Loaded::load(&compiled).expect("a kprobe program passes the verifier");
    let result = loaded.attach_all();
    if flowtrace_runtime::kprobes_available() {
        eprintln!("note: this kernel has kprobes; attach result {:?}", result.as_ref().map(|_| ()));
        return;
    }
    match result {
        Err(RuntimeError::Attach(e)) => {
            assert_eq!(e.probe, "kprobe:tcp_sendmsg");
            assert!(e.reason.contains("CONFIG_KPROBES"), "{}", e.reason);
            assert!(e.hint.unwrap().contains("tracepoint"));
        }
        other => panic!("expected an attach error, got {:?}", other.map(|_| ())),
    }
    drop(loaded);
    assert_unloaded("ft_t_kprobe");
}

#[test]
fn verifier_rejection_carries_log_and_instruction() {
    if !root_tests_enabled("verifier_rejection_carries_log_and_instruction") {
        return;
    }
    let mut a = Asm::default();
    // Returning without setting r0 is rejected at the exit, instruction 1.
    // (Reading uninitialised stack would not do: root may.)
    a.mov_imm(2, 0).exit();
    let compiled = CompiledProgram {
        programs: vec![a.program("ft_t_reject", ProgramKind::Tracepoint, getpid_tracepoint(), "tracepoint:syscalls:sys_enter_getpid")],
        maps: vec![],
        events: vec![],
        probe_names: vec![], records: Default::default(), str_trunc_trailer: String::new(), missing_probes: Default::default()
    };
    match Loaded::load(&compiled) {
        Err(RuntimeError::Verifier(v)) => {
            assert_eq!((v.program, v.name.as_str(), v.insn), (0, "ft_t_reject", Some(1)));
            assert!(v.log.contains("R0 !read_ok"), "{}", v.log);
            assert!(!v.tail(2).is_empty());
        }
        other => panic!("expected a verifier error, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn missing_tracepoint_is_an_attach_error_with_a_hint() {
    if !root_tests_enabled("missing_tracepoint_is_an_attach_error_with_a_hint") {
        return;
    }
    let mut a = Asm::default();
    a.mov_imm(0, 0).exit();
    let tp = AttachKind::Tracepoint { category: "sock".into(), name: "no_such_event".into() };
    let compiled = CompiledProgram {
        programs: vec![a.program("ft_t_notp", ProgramKind::Tracepoint, tp, "tracepoint:sock:no_such_event")],
        maps: vec![],
        events: vec![],
        probe_names: vec![], records: Default::default(), str_trunc_trailer: String::new(), missing_probes: Default::default()
    };
    let mut loaded = Loaded::load(&compiled).unwrap();
    match loaded.attach_all() {
        Err(RuntimeError::Attach(e)) => assert!(e.reason.contains("does not exist") && e.hint.is_some()),
        other => panic!("expected an attach error, got {:?}", other.map(|_| ())),
    }
}

/// Not an assertion about speed: prints where start-up time goes so it can
/// be tracked (`--nocapture` to see it).
#[test]
fn load_and_attach_timings() {
    if !root_tests_enabled("load_and_attach_timings") {
        return;
    }
    for round in 0..6 {
        let compiled = getpid_counter("ft_t_timing", "ft_t_timing_c", "ft_t_timing_e");
        let t = Instant::now();
        let mut loaded =
            if round % 2 == 0 { Loaded::load(&compiled) } else { Loaded::load_with_aya_loader(&compiled) }.unwrap();
        let load = t.elapsed();
        let t = Instant::now();
        loaded.attach_all().unwrap();
        let attach = t.elapsed();
        let tm = loaded.timings;
        let how = if tm.aya_loader { "aya EbpfLoader" } else { "own loader" };
        eprintln!(
            "round {round} ({how}): load {:.1} ms (elf {:.2}, EbpfLoader::new {:.1}, maps+load {:.1}, verify {:.1}), attach {:.1} ms",
            ms(load), ms(tm.write_elf), ms(tm.loader_setup), ms(tm.create_maps), ms(tm.verify), ms(attach)
        );
    }
    let t = Instant::now();
    let _btf = aya::Btf::from_sys_fs().unwrap();
    eprintln!("aya Btf::from_sys_fs alone: {:.1} ms", ms(t.elapsed()));
    assert_unloaded("ft_t_timing");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
