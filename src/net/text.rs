//! The report as text: namespaces and interfaces, then the programs and maps
//! they use, then the findings (one line each, with what to do).

use flowtrace_runtime::inspect::{
    hex, map_type_name, prog_type_name, CountLimit, EntryCount, Finding, InterfaceReport, Map, NodeReport, Program,
};
use std::fmt::Write;

pub fn render(report: &NodeReport, findings: &[Finding], now: u64) -> String {
    let mut out = String::new();
    for ns in &report.namespaces {
        let _ = write!(out, "netns {} (inode {})", ns.label, ns.inode);
        if ns.interfaces.is_empty() {
            let _ = writeln!(out, ": nothing attached to its {} interface(s)", ns.quiet_interfaces);
            continue;
        }
        out.push('\n');
        for iface in &ns.interfaces {
            interface(&mut out, iface, report);
        }
        if ns.quiet_interfaces > 0 {
            let _ = writeln!(out, "  ({} more interface(s) with nothing attached)", ns.quiet_interfaces);
        }
    }
    if !report.programs.is_empty() {
        out.push_str("\nprograms:\n");
        table(&mut out, &["id", "type", "name", "tag", "loaded", "uid", "xlated", "jited", "maps"], report.programs.values().map(|p| program_row(p, now)));
    }
    if !report.maps.is_empty() {
        out.push_str("\nmaps:\n");
        table(&mut out, &["id", "type", "name", "key", "value", "max_entries", "entries", "full"], report.maps.values().map(map_row));
    }
    if findings.is_empty() {
        out.push_str("\nno findings\n");
    } else {
        let _ = writeln!(out, "\nfindings ({}):", findings.len());
        for f in findings {
            let _ = writeln!(out, "  [{}] {}", f.netns, f.message());
        }
    }
    out
}

fn program_name(report: &NodeReport, id: u32) -> String {
    report.programs.get(&id).map_or_else(|| format!("prog {id} (gone)"), |p| format!("prog {id} {}", p.name))
}

fn interface(out: &mut String, iface: &InterfaceReport, report: &NodeReport) {
    let kind = iface.kind.as_deref().map(|k| format!(", {k}")).unwrap_or_default();
    let _ = writeln!(out, "  {} (ifindex {}{kind})", iface.name, iface.index);
    for x in &iface.xdp {
        let _ = writeln!(out, "    xdp {:<23} {}", x.mode.name(), program_name(report, x.prog_id));
    }
    for f in &iface.filters {
        let da = if f.direct_action { " da" } else { "" };
        let place = format!("{} pref {} handle 0x{:x}{}", f.hook.name(), f.pref, f.handle, if f.chain != 0 { format!(" chain {}", f.chain) } else { String::new() });
        let prog = f.prog_id.map(|id| program_name(report, id)).unwrap_or_default();
        let tag = f.tag.map(|t| format!(" tag {}", hex(&t))).unwrap_or_default();
        let name = f.name.as_deref().map(|n| format!(" name {n}")).unwrap_or_default();
        let _ = writeln!(out, "    tc {place:<24} {}{da} {prog}{tag}{name}", f.kind);
    }
    if iface.clsact && iface.filters.is_empty() {
        let _ = writeln!(out, "    tc clsact qdisc, no filters");
    }
    for c in &iface.chains {
        let link = c.link_id.map_or_else(|| " (no link)".to_string(), |l| format!(" link {l}"));
        let _ = writeln!(out, "    {} #{:<14} {}{link}", c.hook.name(), c.position, program_name(report, c.prog_id));
    }
}

fn program_row(p: &Program, now: u64) -> Vec<String> {
    let loaded = p.loaded_at.map_or_else(|| "?".to_string(), |t| format!("{} ({} ago)", utc(t), age(now.saturating_sub(t))));
    let maps: Vec<String> = p.map_ids.iter().map(u32::to_string).collect();
    vec![
        p.id.to_string(),
        prog_type_name(p.prog_type).to_string(),
        p.name.clone(),
        p.tag_hex(),
        loaded,
        p.uid.to_string(),
        format!("{} B", p.xlated_bytes),
        format!("{} B", p.jited_bytes),
        if maps.is_empty() { "-".to_string() } else { maps.join(",") },
    ]
}

fn map_row(m: &Map) -> Vec<String> {
    let (entries, full) = match &m.entries {
        EntryCount::NotApplicable => ("-".to_string(), "-".to_string()),
        EntryCount::Exact(n) => (n.to_string(), format!("{:.1}%", m.pressure().unwrap_or(0.0))),
        EntryCount::AtLeast { counted, limit } => {
            let why = match limit {
                CountLimit::Time { budget_ms } => format!("stopped after {budget_ms} ms"),
                CountLimit::Total { budget_ms } => format!("all maps' {budget_ms} ms used up"),
            };
            (format!(">= {counted} ({why})"), format!(">= {:.1}%", m.pressure().unwrap_or(0.0)))
        }
        EntryCount::Failed(e) => (format!("? ({e})"), "?".to_string()),
    };
    vec![
        m.id.to_string(),
        map_type_name(m.map_type).to_string(),
        m.name.clone(),
        m.key_size.to_string(),
        m.value_size.to_string(),
        m.max_entries.to_string(),
        entries,
        full,
    ]
}

/// Columns padded to their widest cell, two spaces apart, indented by two.
fn table(out: &mut String, head: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let rows: Vec<Vec<String>> = std::iter::once(head.iter().map(|h| h.to_string()).collect()).chain(rows).collect();
    let widths: Vec<usize> = (0..head.len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    for row in rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
    }
}

/// `2026-12-03 10:04:05Z` from Unix seconds (the civil-from-days algorithm).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `45s`, `12m03s`, `5h02m`, `3d04h`.
pub fn age(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
#[path = "text_tests.rs"]
mod tests;
