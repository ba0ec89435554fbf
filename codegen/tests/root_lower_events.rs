//! Ring-buffer records: the event id, then the arguments by `layout`, read
//! back by the production event reader (`flowtrace_runtime::Events`), whose
//! decoding follows the same layout.

use flowtrace_codegen::object::EventKind;
use flowtrace_runtime::values::Value;
use flowtrace_runtime::Event;
use flowtrace_testkit::program::TestProgram;
use flowtrace_testkit::root_tests_enabled;
use std::net::{IpAddr, Ipv4Addr};

#[test]
fn printf_time_print_and_exit_records() {
    if !root_tests_enabled("printf_time_print_and_exit_records") {
        return;
    }
    let mut prog = TestProgram::from_source(
        r#"BEGIN { printf("%d %s %s\n", -42, "hi", ntop(0x0100007f)); @c = count(); print(@c); time("%H\n"); print(7); exit(); printf("never\n"); }"#,
    );
    assert_eq!(prog.run_raw_tp(0).unwrap(), 0);
    let compiled = &prog.compiled;
    assert!(matches!(&compiled.events[0], EventKind::Printf { format, args } if format.text == "%d %s %s\n" && args.len() == 3));
    assert!(matches!(compiled.events[1], EventKind::PrintMap { .. }));
    assert!(matches!(compiled.events[2], EventKind::Time { .. }));
    assert_eq!(compiled.events[4], EventKind::Exit);
    let print_map = match compiled.events[1] {
        EventKind::PrintMap { map, top, div } => Event::PrintMap { map, top, div },
        _ => unreachable!("checked above"),
    };
    // Each record names its event (the id indexes compiled.events) and
    // carries the arguments; decoding them reads the layout codegen wrote.
    let EventKind::Printf { format: printf_format, .. } = &compiled.events[0] else {
        unreachable!("checked above")
    };
    let printf = Event::Printf {
        format: printf_format,
        args: vec![Value::Int(-42), Value::Str("hi".into()), Value::Inet(IpAddr::V4(Ipv4Addr::LOCALHOST))],
    };
    let want = [printf, print_map, Event::Time { format: "%H\n" }, Event::PrintValue(Value::Int(7)), Event::Exit];
    let mut events = prog.loaded.take_events().expect("the program has a ring buffer");
    let mut records = 0;
    while let Some(event) = events.next().unwrap() {
        assert!(records < want.len(), "record {records} beyond the expected 5: {event:?}");
        assert_eq!(event, want[records], "record {records}");
        records += 1;
    }
    assert_eq!(records, 5);
}
