//! tc probes without a kernel: the code generated for the header builtins.
//! Their runs in the kernel are root_lower_tc.rs.

use flowtrace_testkit::program::compiled;

fn disasm(text: &str) -> String {
    let compiled = compiled(text);
    let p = compiled.programs.iter().find(|p| p.name.starts_with("ft_tc")).expect("a tc program");
    flowtrace_codegen::disasm::disassemble_program(p, &compiled.maps)
}

/// Aggregations keyed by the same header fields share one key, which the
/// header parse writes in place (codegen's lower/shared_key.rs), at any
/// depth (the key is complete from the probe's entry on); a different key,
/// or one with a field the parse does not provide, is built where it is used.
#[test]
fn one_flow_key_serves_every_aggregation() {
    let flow = "saddr, daddr, sport, dport, proto";
    let reused = |text: &str| disasm(text).matches(">key built by the header parse").count();
    assert_eq!(reused(&format!("tc:lo:ingress {{ @p[{flow}] = count(); @b[{flow}] = sum(len); @m[{flow}] = max(len); }}")), 3);
    assert_eq!(reused(&format!("tc:lo:ingress {{ if (len > 100) {{ @p[{flow}] = count(); }} @b[{flow}] = sum(len); }}")), 2);
    assert_eq!(reused(&format!("tc:lo:ingress {{ @p[{flow}] = count(); @b[saddr, daddr, dport, sport, proto] = sum(len); }}")), 1);
    assert_eq!(reused("tc:lo:ingress { @p[ifindex, proto] = count(); @b[ifindex, proto] = sum(len); }"), 0);
}
