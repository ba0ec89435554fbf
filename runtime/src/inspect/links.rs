//! One network namespace's interfaces and what is attached to them, read
//! from the calling thread's namespace: a link dump (names, kinds, XDP), a
//! qdisc dump (which interfaces have clsact), the cls_bpf filters of each
//! clsact hook, and the TCX / netkit chains (`BPF_PROG_QUERY`).

use super::model::{ChainHook, ChainProgram, InterfaceReport, TcFilter, XdpMode, XdpProgram};
use super::owner::flowtrace_owner;
use crate::tc::netlink::{attrs, Socket};
use crate::tc::Hook;
use std::collections::HashSet;
use std::io;

const RTM_GETLINK: u16 = 18;
const RTM_GETQDISC: u16 = 38;
const IFINFOMSG_LEN: usize = 16;
const TCMSG_LEN: usize = 20;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_XDP: u16 = 43;
const IFLA_XDP_ATTACHED: u16 = 2;
const IFLA_XDP_PROG_ID: u16 = 4;
const IFLA_XDP_DRV_PROG_ID: u16 = 5;
const IFLA_XDP_SKB_PROG_ID: u16 = 6;
const IFLA_XDP_HW_PROG_ID: u16 = 7;
const TCA_KIND: u16 = 1;

/// Every interface of the calling thread's network namespace, sorted by
/// index, with everything attached to it.
pub(super) fn interfaces() -> io::Result<Vec<InterfaceReport>> {
    // Opened here, after the caller's setns: a netlink socket talks to the
    // namespace it was created in.
    let mut sock = Socket::open()?;
    let mut out: Vec<InterfaceReport> = sock.dump(RTM_GETLINK, &[0u8; IFINFOMSG_LEN])?.iter().filter_map(|m| parse_link(m)).collect();
    out.sort_by_key(|i| i.index);
    let clsact = clsact_interfaces(&mut sock)?;
    for iface in &mut out {
        iface.clsact = clsact.contains(&iface.index);
        if iface.clsact {
            iface.filters = filters(&mut sock, iface.index)?;
        }
        iface.chains = chains(iface)?;
    }
    Ok(out)
}

/// One `RTM_NEWLINK` message of the dump.
fn parse_link(msg: &[u8]) -> Option<InterfaceReport> {
    let index = u32::from_ne_bytes(msg.get(4..8)?.try_into().ok()?);
    let mut iface = InterfaceReport { index, ..Default::default() };
    for (kind, data) in attrs(msg.get(IFINFOMSG_LEN..)?) {
        match kind {
            IFLA_IFNAME => iface.name = c_string(data),
            IFLA_LINKINFO => {
                iface.kind = attrs(data).into_iter().find(|a| a.0 == IFLA_INFO_KIND).map(|a| c_string(a.1));
            }
            IFLA_XDP => iface.xdp = parse_xdp(data),
            _ => {}
        }
    }
    Some(iface)
}

fn c_string(data: &[u8]) -> String {
    String::from_utf8_lossy(data).trim_end_matches('\0').to_string()
}

fn u32_of(data: &[u8]) -> u32 {
    data.get(..4).and_then(|b| b.try_into().ok()).map_or(0, u32::from_ne_bytes)
}

/// `IFLA_XDP`: one program in one mode, or (`XDP_ATTACHED_MULTI`) one per mode.
fn parse_xdp(data: &[u8]) -> Vec<XdpProgram> {
    let mut attached = 0u8;
    let (mut any, mut per_mode) = (0u32, Vec::new());
    for (kind, d) in attrs(data) {
        match kind {
            IFLA_XDP_ATTACHED => attached = d.first().copied().unwrap_or(0),
            IFLA_XDP_PROG_ID => any = u32_of(d),
            IFLA_XDP_DRV_PROG_ID => per_mode.push(XdpProgram { mode: XdpMode::Driver, prog_id: u32_of(d) }),
            IFLA_XDP_SKB_PROG_ID => per_mode.push(XdpProgram { mode: XdpMode::Generic, prog_id: u32_of(d) }),
            IFLA_XDP_HW_PROG_ID => per_mode.push(XdpProgram { mode: XdpMode::Offload, prog_id: u32_of(d) }),
            _ => {}
        }
    }
    let single = match attached {
        1 => Some(XdpMode::Driver),
        2 => Some(XdpMode::Generic),
        3 => Some(XdpMode::Offload),
        // 0: none; 4: XDP_ATTACHED_MULTI, the per-mode ids say it all.
        _ => None,
    };
    match single {
        Some(mode) if any != 0 => vec![XdpProgram { mode, prog_id: any }],
        _ if attached == 4 => per_mode.into_iter().filter(|p| p.prog_id != 0).collect(),
        _ => Vec::new(),
    }
}

/// Indexes of the interfaces that have a clsact qdisc.
fn clsact_interfaces(sock: &mut Socket) -> io::Result<HashSet<u32>> {
    let mut out = HashSet::new();
    for msg in sock.dump(RTM_GETQDISC, &[0u8; TCMSG_LEN])? {
        let Some(index) = msg.get(4..8).map(u32_of) else { continue };
        let kind = attrs(msg.get(TCMSG_LEN..).unwrap_or_default()).into_iter().find(|a| a.0 == TCA_KIND).map(|a| c_string(a.1));
        if kind.as_deref() == Some("clsact") {
            out.insert(index);
        }
    }
    Ok(out)
}

/// The filters on both clsact hooks, ingress first, each by priority.
fn filters(sock: &mut Socket, ifindex: u32) -> io::Result<Vec<TcFilter>> {
    let mut out = Vec::new();
    for hook in [Hook::Ingress, Hook::Egress] {
        let mut on_hook: Vec<TcFilter> = sock
            .filters(ifindex, hook.parent())?
            .into_iter()
            .map(|f| TcFilter {
                hook,
                pref: f.priority,
                handle: f.handle,
                chain: f.chain,
                flowtrace_owner: f.name.as_deref().and_then(flowtrace_owner),
                kind: f.kind,
                name: f.name,
                direct_action: f.direct_action,
                prog_id: f.prog_id,
                tag: f.tag,
            })
            .collect();
        on_hook.sort_by_key(|f| (f.chain, f.pref, f.handle));
        out.extend(on_hook);
    }
    Ok(out)
}

/// TCX chains of every interface, netkit chains of netkit devices.
fn chains(iface: &InterfaceReport) -> io::Result<Vec<ChainProgram>> {
    let mut out = Vec::new();
    let netkit = iface.kind.as_deref() == Some("netkit");
    for hook in ChainHook::ALL.into_iter().filter(|h| h.is_netkit() == netkit) {
        let entries = match crate::sys::prog_query(iface.index, hook.attach_type()) {
            Ok(e) => e,
            // A kernel without TCX (before 6.6) or netkit (before 6.7).
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) | Some(libc::ENODEV)) => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("{} of {}: {e}", hook.name(), iface.name))),
        };
        out.extend(entries.iter().enumerate().map(|(i, e)| ChainProgram {
            hook,
            position: i + 1,
            prog_id: e.prog_id,
            link_id: (e.link_id != 0).then_some(e.link_id),
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut a = ((4 + data.len()) as u16).to_ne_bytes().to_vec();
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(data);
        a.resize((a.len() + 3) & !3, 0);
        a
    }

    #[test]
    fn parses_a_link_with_xdp_and_kind() {
        let mut msg = vec![0u8; IFINFOMSG_LEN];
        msg[4..8].copy_from_slice(&7u32.to_ne_bytes());
        msg.extend(attr(IFLA_IFNAME, b"veth-b\0"));
        msg.extend(attr(IFLA_LINKINFO, &attr(IFLA_INFO_KIND, b"veth\0")));
        let xdp = [attr(IFLA_XDP_ATTACHED, &[2]), attr(IFLA_XDP_PROG_ID, &91u32.to_ne_bytes())].concat();
        msg.extend(attr(IFLA_XDP | 0x8000, &xdp));
        let link = parse_link(&msg).unwrap();
        assert_eq!((link.index, link.name.as_str(), link.kind.as_deref()), (7, "veth-b", Some("veth")));
        assert_eq!(link.xdp, vec![XdpProgram { mode: XdpMode::Generic, prog_id: 91 }]);
    }

    #[test]
    fn xdp_multi_lists_each_mode() {
        let xdp = [
            attr(IFLA_XDP_ATTACHED, &[4]),
            attr(IFLA_XDP_DRV_PROG_ID, &5u32.to_ne_bytes()),
            attr(IFLA_XDP_SKB_PROG_ID, &6u32.to_ne_bytes()),
        ]
        .concat();
        assert_eq!(
            parse_xdp(&xdp),
            vec![XdpProgram { mode: XdpMode::Driver, prog_id: 5 }, XdpProgram { mode: XdpMode::Generic, prog_id: 6 }]
        );
        assert_eq!(parse_xdp(&attr(IFLA_XDP_ATTACHED, &[0])), vec![]);
    }
}
