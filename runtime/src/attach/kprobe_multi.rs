//! Attaching one kprobe program to many functions (`kprobe:tcp_*`; see
//! `flowtrace_codegen::group`): the program tells the functions apart by
//! their attach cookies. Where the kernel has kprobe.multi links, one link
//! covers every function ftrace can trace — one syscall instead of hundreds
//! of kprobe registrations (each costs the kernel a text patch and an RCU
//! grace period). Otherwise, or when the kernel refuses the link, each
//! function gets its own kprobe perf event linked with its cookie.
//! Functions a wildcard matched that cannot be traced are skipped with one
//! warning; a function named on its own must attach.

use super::capabilities::{errno_words, kprobes_available};
use super::Failure;
use crate::sys_links::{kprobe_multi_link, kprobe_perf_event, perf_event_link};
use flowtrace_codegen::object::GroupMember;
use std::collections::HashSet;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// The links of one grouped program; dropping them detaches.
pub(crate) struct GroupLinks {
    /// The kprobe.multi link, if one was made.
    pub multi: Option<OwnedFd>,
    /// (link, perf event) per function attached one by one.
    pub per_function: Vec<(OwnedFd, OwnedFd)>,
    /// The program loaded again without the kprobe.multi attach type (a
    /// program loaded for kprobe.multi cannot go on a perf event).
    pub reloaded: Option<OwnedFd>,
}

/// Where `GroupMember::attach` points.
fn func(m: &GroupMember) -> &str {
    m.attach.kind.function().unwrap_or_default()
}

/// The functions ftrace can trace (what kprobe.multi attaches through),
/// when tracefs lets us read the list; vmlinux ones only.
fn traceable_functions() -> Option<HashSet<String>> {
    super::tracepoint::ensure_tracefs();
    ["/sys/kernel/tracing/available_filter_functions", "/sys/kernel/debug/tracing/available_filter_functions"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|text| parse_traceable(&text))
}

/// Lines are `name` or `name [module]`; module functions are left out.
fn parse_traceable(text: &str) -> HashSet<String> {
    text.lines().filter(|l| !l.contains('[')).map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
}

/// How the members split: for one kprobe.multi link, one link each, and
/// skipped without trying (wildcard matches ftrace cannot trace: notrace,
/// inlined, freed `__init` code).
#[derive(Debug, Default, PartialEq)]
struct Split<'a> {
    multi: Vec<&'a GroupMember>,
    single: Vec<&'a GroupMember>,
    untraceable: Vec<&'a GroupMember>,
}

fn split<'a>(members: &'a [GroupMember], traceable: Option<&HashSet<String>>, use_multi: bool) -> Split<'a> {
    let mut s = Split::default();
    for m in members {
        let known = traceable.is_none_or(|t| t.contains(func(m)));
        match (known, m.from_wildcard) {
            (true, _) if use_multi => s.multi.push(m),
            (true, _) => s.single.push(m),
            // kprobes can reach some functions ftrace cannot: a function
            // named on its own is tried; a wildcard's extra match is not.
            (false, false) => s.single.push(m),
            (false, true) => s.untraceable.push(m),
        }
    }
    s
}

/// Attaches `prog` to every member. `multi_loaded`: the program was loaded
/// for kprobe.multi; `reload` loads it again as a plain kprobe program.
/// Returns the links and the members skipped (`raw` attach point names).
pub(crate) fn attach(
    prog: BorrowedFd<'_>,
    multi_loaded: bool,
    reload: impl FnOnce() -> Result<OwnedFd, String>,
    members: &[GroupMember],
    retprobe: bool,
) -> Result<(GroupLinks, Vec<String>), Failure> {
    let Some(first) = members.first() else { return Err(Failure::new("a probe group without functions")) };
    if !kprobes_available() {
        return Err(super::kprobe::no_kprobes(func(first)));
    }
    let traceable = traceable_functions();
    let mut s = split(members, traceable.as_ref(), multi_loaded);
    let mut links = GroupLinks { multi: None, per_function: Vec::new(), reloaded: None };
    if !s.multi.is_empty() {
        let names: Vec<&str> = s.multi.iter().map(|m| func(m)).collect();
        let cookies: Vec<u64> = s.multi.iter().map(|m| m.cookie).collect();
        match kprobe_multi_link(prog, &names, &cookies, retprobe) {
            Ok(link) => links.multi = Some(link),
            // One function the kernel refuses fails the whole link: go one by one.
            Err(_) => s.single.append(&mut s.multi),
        }
    }
    let mut skipped: Vec<String> = s.untraceable.iter().map(|m| m.attach.raw.clone()).collect();
    if !s.single.is_empty() {
        if multi_loaded {
            links.reloaded = Some(reload().map_err(Failure::new)?);
        }
        let fd = match &links.reloaded {
            Some(fd) => fd.as_fd(),
            None => prog,
        };
        for m in s.single {
            match attach_one(fd, m, retprobe) {
                Ok(pair) => links.per_function.push(pair),
                Err(_) if m.from_wildcard => skipped.push(m.attach.raw.clone()),
                Err(e) => return Err(e),
            }
        }
    }
    if links.multi.is_none() && links.per_function.is_empty() {
        return Err(Failure::new(format!("none of the {} functions could be traced", members.len()))
            .hint(format!("`flowtrace -l '{}'` lists the kernel functions flowtrace knows", first.attach.raw)));
    }
    Ok((links, skipped))
}

fn attach_one(prog: BorrowedFd<'_>, m: &GroupMember, retprobe: bool) -> Result<(OwnedFd, OwnedFd), Failure> {
    let words = |e: std::io::Error| Failure::new(errno_words(e.raw_os_error().unwrap_or(0)));
    let event = kprobe_perf_event(func(m), retprobe).map_err(words)?;
    let link = perf_event_link(prog, event.as_fd(), m.cookie).map_err(words)?;
    Ok((link, event))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowtrace_lang::ast::{AttachKind, AttachPoint};

    fn member(f: &str, from_wildcard: bool) -> GroupMember {
        GroupMember {
            attach: AttachPoint { kind: AttachKind::Kprobe { module: None, func: f.into() }, raw: format!("kprobe:{f}"), span: Default::default() },
            cookie: 0,
            from_wildcard,
        }
    }

    #[test]
    fn available_filter_functions_are_parsed_without_modules() {
        let t = parse_traceable("tcp_sendmsg\ntcp_v4_rcv\nnf_hook_slow [nf_tables]\n\n");
        assert!(t.contains("tcp_sendmsg") && t.contains("tcp_v4_rcv"));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn untraceable_wildcard_matches_are_skipped_named_functions_tried() {
        let members = [member("tcp_a", true), member("tcp_init", true), member("tcp_named", false)];
        let traceable = parse_traceable("tcp_a\n");
        let s = split(&members, Some(&traceable), true);
        let names = |v: &[&GroupMember]| v.iter().map(|m| func(m).to_string()).collect::<Vec<_>>();
        assert_eq!(names(&s.multi), ["tcp_a"]);
        assert_eq!(names(&s.single), ["tcp_named"]);
        assert_eq!(names(&s.untraceable), ["tcp_init"]);
        // Without kprobe.multi every traceable one goes one by one.
        let s = split(&members, Some(&traceable), false);
        assert_eq!(names(&s.single), ["tcp_a", "tcp_named"]);
        // Without the list, everything is tried.
        let s = split(&members, None, true);
        assert_eq!(s.multi.len(), 3);
    }
}
