//! The report as one JSON document (`flowtrace net -f json`): the same
//! facts as the text, with numbers as numbers.

use flowtrace_runtime::inspect::{hex, map_type_name, prog_type_name, CountLimit, EntryCount, Finding, InterfaceReport, Map, NetnsLabel, NodeReport, Program};
use flowtrace_runtime::output::json::quote;

fn object(fields: &[(&str, String)]) -> String {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}:{v}", quote(k))).collect();
    format!("{{{}}}", body.join(","))
}

fn array(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(","))
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "null".to_string(), |v| v.to_string())
}

fn label(l: &NetnsLabel) -> Vec<(&'static str, String)> {
    match l {
        NetnsLabel::Current => vec![("name", "null".into()), ("held_by", "null".into())],
        NetnsLabel::Named(n) => vec![("name", quote(n)), ("held_by", "null".into())],
        NetnsLabel::HeldBy { pid, comm } => {
            vec![("name", "null".into()), ("held_by", object(&[("pid", pid.to_string()), ("comm", quote(comm))]))]
        }
    }
}

pub fn render(report: &NodeReport, findings: &[Finding]) -> String {
    let namespaces = array(report.namespaces.iter().map(|ns| {
        let mut fields = vec![("label", quote(&ns.label.to_string())), ("inode", ns.inode.to_string())];
        fields.extend(label(&ns.label));
        fields.push(("interfaces", array(ns.interfaces.iter().map(interface))));
        fields.push(("quiet_interfaces", ns.quiet_interfaces.to_string()));
        object(&fields)
    }));
    let doc = object(&[
        ("namespaces", namespaces),
        ("programs", array(report.programs.values().map(program))),
        ("maps", array(report.maps.values().map(map))),
        ("findings", array(findings.iter().map(finding))),
        ("errors", array(report.errors.iter().map(|e| quote(e)))),
    ]);
    format!("{doc}\n")
}

fn interface(i: &InterfaceReport) -> String {
    let xdp = array(i.xdp.iter().map(|x| object(&[("mode", quote(x.mode.name())), ("prog_id", x.prog_id.to_string())])));
    let filters = array(i.filters.iter().map(|f| {
        let owner = f.flowtrace_owner.map(|o| object(&[("pid", o.pid.to_string()), ("alive", o.alive.to_string())]));
        object(&[
            ("hook", quote(f.hook.name())),
            ("pref", f.pref.to_string()),
            ("handle", f.handle.to_string()),
            ("chain", f.chain.to_string()),
            ("kind", quote(&f.kind)),
            ("name", opt(f.name.as_deref().map(quote))),
            ("direct_action", f.direct_action.to_string()),
            ("prog_id", opt(f.prog_id)),
            ("tag", opt(f.tag.map(|t| quote(&hex(&t))))),
            ("flowtrace_owner", opt(owner)),
        ])
    }));
    let chains = array(i.chains.iter().map(|c| {
        object(&[("hook", quote(c.hook.name())), ("position", c.position.to_string()), ("prog_id", c.prog_id.to_string()), ("link_id", opt(c.link_id))])
    }));
    object(&[
        ("name", quote(&i.name)),
        ("ifindex", i.index.to_string()),
        ("kind", opt(i.kind.as_deref().map(quote))),
        ("xdp", xdp),
        ("clsact", i.clsact.to_string()),
        ("filters", filters),
        ("chains", chains),
    ])
}

fn program(p: &Program) -> String {
    object(&[
        ("id", p.id.to_string()),
        ("type", quote(prog_type_name(p.prog_type))),
        ("name", quote(&p.name)),
        ("tag", quote(&p.tag_hex())),
        ("loaded_at", opt(p.loaded_at)),
        ("uid", p.uid.to_string()),
        ("xlated_bytes", p.xlated_bytes.to_string()),
        ("jited_bytes", p.jited_bytes.to_string()),
        ("map_ids", array(p.map_ids.iter().map(u32::to_string))),
    ])
}

fn map(m: &Map) -> String {
    let (entries, complete, stopped) = match &m.entries {
        EntryCount::NotApplicable | EntryCount::Failed(_) => ("null".to_string(), "null".to_string(), "null".to_string()),
        EntryCount::Exact(n) => (n.to_string(), "true".into(), "null".into()),
        EntryCount::AtLeast { counted, limit } => {
            let why = match limit {
                CountLimit::Time { budget_ms } => object(&[("budget", quote("map")), ("ms", budget_ms.to_string())]),
                CountLimit::Total { budget_ms } => object(&[("budget", quote("total")), ("ms", budget_ms.to_string())]),
            };
            (counted.to_string(), "false".into(), why)
        }
    };
    let error = match &m.entries {
        EntryCount::Failed(e) => quote(e),
        _ => "null".into(),
    };
    object(&[
        ("id", m.id.to_string()),
        ("type", quote(map_type_name(m.map_type))),
        ("name", quote(&m.name)),
        ("key_size", m.key_size.to_string()),
        ("value_size", m.value_size.to_string()),
        ("max_entries", m.max_entries.to_string()),
        ("entries", entries),
        ("complete", complete),
        ("stopped_early", stopped),
        ("count_error", error),
        ("pressure_percent", opt(m.pressure().map(|p| format!("{p:.2}")))),
    ])
}

fn finding(f: &Finding) -> String {
    object(&[
        ("rule", quote(f.rule())),
        ("netns", quote(&f.netns.to_string())),
        ("interface", opt(f.interface.as_deref().map(quote))),
        ("message", quote(&f.message())),
    ])
}
