//! Which running programs a SIGHUP reload keeps (session::unchanged_programs):
//! only a program identical to one of the new script, writing the same maps.
//! Compiled against the host's BTF; nothing is loaded.

use flowtrace_runtime::session::unchanged_programs;
use flowtrace_testkit::program::compiled;

fn index(c: &flowtrace_codegen::object::CompiledProgram, attach: &str) -> usize {
    c.programs.iter().position(|p| p.attach.raw == attach).unwrap_or_else(|| panic!("no {attach}"))
}

#[test]
fn an_unchanged_probe_is_kept_and_a_changed_one_is_not() {
    let old = compiled("tc:lo:egress { @a[sport] = count(); } tc:lo:ingress { @b = count(); }");
    // New probes and maps after the old ones: the old maps keep their ids
    // (a program's map-full counter slot is its map id, in its instructions).
    let new = compiled("tc:lo:egress { @a[sport] = count(); } tc:lo:ingress { @b = count(); @d = sum(len); } interval:s:1 { @c = count(); }");
    let all = [index(&old, "tc:lo:egress"), index(&old, "tc:lo:ingress")];
    let pairs = unchanged_programs(&old, &all, &new, &[]);
    assert_eq!(pairs, [(index(&old, "tc:lo:egress"), index(&new, "tc:lo:egress"))]);
}

#[test]
fn a_probe_writing_a_restarted_map_or_detached_already_is_replaced() {
    let old = compiled("tc:lo:egress { @a = count(); }");
    let new = compiled("tc:lo:egress { @a = count(); }");
    let egress = [index(&old, "tc:lo:egress")];
    assert_eq!(unchanged_programs(&old, &egress, &new, &[]).len(), 1);
    assert!(unchanged_programs(&old, &egress, &new, &["a".to_string()]).is_empty(), "@a restarts: the program must write the new map");
    assert!(unchanged_programs(&old, &[], &new, &[]).is_empty(), "nothing attached, nothing kept");
}

#[test]
fn moved_event_ids_keep_nothing() {
    // The new script's first printf takes event id 0, which the old program sends for "x".
    let old = compiled(r#"tc:lo:egress { printf("x\n"); }"#);
    let new = compiled(r#"tc:lo:ingress { printf("y\n"); } tc:lo:egress { printf("x\n"); }"#);
    assert!(unchanged_programs(&old, &[index(&old, "tc:lo:egress")], &new, &[]).is_empty());
}
