//! tc probes without a kernel: the code generated for the header builtins.
//! Their runs in the kernel are root_lower_tc.rs.

use flowtrace_testkit::program::compiled;

fn disasm(text: &str) -> String {
    let compiled = compiled(text);
    let p = compiled.programs.iter().find(|p| p.name.starts_with("ft_tc")).expect("a tc program");
    flowtrace_codegen::disasm::disassemble_program(p, &compiled.maps)
}

/// Top-level aggregations keyed by the same header fields build the key
/// once (codegen's lower/shared_key.rs); a key built inside an `if`, or a
/// different key, is built where it is used.
#[test]
fn one_flow_key_serves_every_top_level_aggregation() {
    let flow = "saddr, daddr, sport, dport, proto";
    let reused = |text: &str| disasm(text).matches(">key built above").count();
    assert_eq!(reused(&format!("tc:lo:ingress {{ @p[{flow}] = count(); @b[{flow}] = sum(len); @m[{flow}] = max(len); }}")), 2);
    assert_eq!(reused(&format!("tc:lo:ingress {{ if (len > 100) {{ @p[{flow}] = count(); }} @b[{flow}] = sum(len); }}")), 0);
    assert_eq!(reused(&format!("tc:lo:ingress {{ @p[{flow}] = count(); @b[saddr, daddr, dport, sport, proto] = sum(len); }}")), 0);
    assert_eq!(reused("tc:lo:ingress { @p[ifindex, proto] = count(); @b[ifindex, proto] = sum(len); }"), 0);
}
