//! Ring-buffer records: the event id, then the arguments by `layout`.

mod support;

use flowtrace_codegen::object::{EventKind, MapRole};
use support::bpf;
use support::values::str_bytes;

fn words(v: &[u64]) -> Vec<u8> {
    v.iter().flat_map(|w| w.to_le_bytes()).collect()
}

#[test]
fn printf_time_print_and_exit_records() {
    if !bpf::root_tests_enabled("printf_time_print_and_exit_records") {
        return;
    }
    let compiled = support::source::compiled(
        r#"BEGIN { printf("%d %s %s\n", -42, "hi", ntop(0x0100007f)); @c = count(); print(@c); time("%H\n"); print(7); exit(); printf("never\n"); }"#,
    );
    let loaded = bpf::load_all(&compiled).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bpf::test_run_raw_tp(&loaded.progs[0], &[]).unwrap(), 0);
    let ring = compiled.maps.iter().position(|m| matches!(m.role, MapRole::Events)).unwrap();
    let records = support::ringbuf::drain(&loaded.maps[ring], compiled.maps[ring].max_entries as usize);
    assert_eq!(records.len(), 5, "{records:?}");
    assert!(matches!(&compiled.events[0], EventKind::Printf { format, args } if format.text == "%d %s %s\n" && args.len() == 3));
    let mut inet = words(&[2]);
    inet.extend([127, 0, 0, 1]);
    inet.resize(24, 0);
    let printf = [words(&[0, -42i64 as u64]), str_bytes("hi", 8), inet].concat();
    assert_eq!(records[0], printf);
    assert!(matches!(compiled.events[1], EventKind::PrintMap { .. }));
    assert_eq!(records[1], words(&[1]));
    assert!(matches!(compiled.events[2], EventKind::Time { .. }));
    assert_eq!(records[2], words(&[2]));
    assert_eq!(records[3], words(&[3, 7]));
    assert_eq!(compiled.events[4], EventKind::Exit);
    assert_eq!(records[4], words(&[4]));
}
