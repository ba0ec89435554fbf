//! A small rtnetlink client for the classic tc path: the clsact qdisc and
//! cls_bpf filters. Only what flowtrace needs — create a qdisc exclusively
//! (so we know whether *we* created it), add a direct-action bpf filter at an
//! exact priority and handle (exclusively: never replacing anyone's filter),
//! delete one filter by priority and handle, dump the filters of a hook, and
//! delete a qdisc. Message layouts are the uapi ones (`linux/rtnetlink.h`,
//! `linux/pkt_sched.h`, `linux/pkt_cls.h`).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const RTM_NEWQDISC: u16 = 36;
const RTM_DELQDISC: u16 = 37;
const RTM_NEWTFILTER: u16 = 44;
const RTM_DELTFILTER: u16 = 45;
const RTM_GETTFILTER: u16 = 46;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
/// `NETLINK_EXT_ACK`: errors come with the kernel's explanation.
const NETLINK_EXT_ACK: i32 = 11;
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLM_F_ACK_TLVS: u16 = 0x200;

const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
const TCA_BPF_FD: u16 = 6;
const TCA_BPF_NAME: u16 = 7;
const TCA_BPF_FLAGS: u16 = 8;
const TCA_BPF_ID: u16 = 11;
const TCA_BPF_TAG: u16 = 10;
/// Top-level `TCA_CHAIN`: the filter chain index (absent means chain 0).
const TCA_CHAIN: u16 = 11;
const TCA_BPF_FLAG_ACT_DIRECT: u32 = 1;
const NLA_F_NESTED: u16 = 1 << 15;

/// `TC_H_CLSACT`: the clsact qdisc's parent and (major) handle.
pub const TC_H_CLSACT: u32 = 0xffff_fff1;
/// Filter parents of the two clsact hooks (`TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)`…).
pub const CLSACT_INGRESS: u32 = 0xffff_fff2;
pub const CLSACT_EGRESS: u32 = 0xffff_fff3;
/// `ETH_P_ALL` in network byte order, as tcm_info's low 16 bits want it.
const ETH_P_ALL_BE: u32 = 0x0300;

const NLMSG_HDRLEN: usize = 16;
const TCMSG_LEN: usize = 20;

/// One cls_bpf (or other) filter from a dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub ifindex: u32,
    pub parent: u32,
    pub priority: u16,
    pub handle: u32,
    /// `TCA_KIND`: "bpf", "u32", …
    pub kind: String,
    /// `TCA_BPF_NAME` (cls_bpf only).
    pub name: Option<String>,
    /// `TCA_BPF_ID`: the attached program's id (cls_bpf only).
    pub prog_id: Option<u32>,
    /// `TCA_CHAIN` (0 when the kernel leaves it out).
    pub chain: u32,
    /// cls_bpf's `TCA_BPF_FLAGS` has `TCA_BPF_FLAG_ACT_DIRECT`: the
    /// program's return value is the verdict (`da` in tc(8)).
    pub direct_action: bool,
    /// `TCA_BPF_TAG`: the program's tag (cls_bpf only).
    pub tag: Option<[u8; 8]>,
}

pub struct Socket {
    fd: OwnedFd,
    seq: u32,
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A request being built: header, tcmsg, attributes.
struct Request {
    buf: Vec<u8>,
    /// Start offsets of open nested attributes.
    nests: Vec<usize>,
}

impl Request {
    fn new(kind: u16, flags: u16, tcm: Tcmsg) -> Request {
        let mut buf = vec![0u8; NLMSG_HDRLEN];
        buf[4..6].copy_from_slice(&kind.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        buf.extend_from_slice(&[0, 0, 0, 0]); // family, pads
        buf.extend_from_slice(&tcm.ifindex.to_ne_bytes());
        buf.extend_from_slice(&tcm.handle.to_ne_bytes());
        buf.extend_from_slice(&tcm.parent.to_ne_bytes());
        buf.extend_from_slice(&tcm.info.to_ne_bytes());
        Request { buf, nests: Vec::new() }
    }

    fn attr(&mut self, kind: u16, data: &[u8]) -> &mut Request {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    fn string(&mut self, kind: u16, s: &str) -> &mut Request {
        let mut data = s.as_bytes().to_vec();
        data.push(0);
        self.attr(kind, &data)
    }

    fn begin_nest(&mut self, kind: u16) -> &mut Request {
        self.nests.push(self.buf.len());
        self.attr(kind | NLA_F_NESTED, &[])
    }

    fn end_nest(&mut self) -> &mut Request {
        if let Some(start) = self.nests.pop() {
            let len = (self.buf.len() - start) as u16;
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

#[derive(Clone, Copy, Default)]
struct Tcmsg {
    ifindex: i32,
    handle: u32,
    parent: u32,
    info: u32,
}

/// `tcm_info` of a filter: priority in the high half, protocol in the low.
fn filter_info(priority: u16) -> u32 {
    (u32::from(priority) << 16) | ETH_P_ALL_BE
}

impl Socket {
    pub fn open() -> io::Result<Socket> {
        // SAFETY: plain socket(2); the fd is owned right away.
        let raw = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw is a fresh fd nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let one: i32 = 1;
        // SAFETY: setsockopt reads sizeof(int) bytes from &one. Failure only
        // loses the kernel's error text, so it is ignored.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_NETLINK,
                NETLINK_EXT_ACK,
                &one as *const i32 as *const libc::c_void,
                4,
            )
        };
        Ok(Socket { fd, seq: 1 })
    }

    /// Adds a clsact qdisc. `Ok(true)` if we created it, `Ok(false)` if the
    /// interface already had one (which then is not ours to remove).
    pub fn add_clsact(&mut self, ifindex: u32) -> io::Result<bool> {
        let tcm = Tcmsg { ifindex: ifindex as i32, handle: TC_H_CLSACT & 0xffff_0000, parent: TC_H_CLSACT, info: 0 };
        let mut req = Request::new(RTM_NEWQDISC, NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE, tcm);
        req.string(TCA_KIND, "clsact");
        match self.transact(req) {
            Ok(_) => Ok(true),
            Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn del_clsact(&mut self, ifindex: u32) -> io::Result<()> {
        let tcm = Tcmsg { ifindex: ifindex as i32, handle: TC_H_CLSACT & 0xffff_0000, parent: TC_H_CLSACT, info: 0 };
        let mut req = Request::new(RTM_DELQDISC, NLM_F_ACK, tcm);
        req.string(TCA_KIND, "clsact");
        self.transact(req).map(|_| ())
    }

    /// Adds a direct-action cls_bpf filter running `prog_fd`. Exclusive: an
    /// existing filter with this priority and handle makes it fail (EEXIST)
    /// instead of being replaced.
    pub fn add_bpf_filter(
        &mut self,
        ifindex: u32,
        parent: u32,
        priority: u16,
        handle: u32,
        prog_fd: i32,
        name: &str,
    ) -> io::Result<()> {
        let tcm = Tcmsg { ifindex: ifindex as i32, handle, parent, info: filter_info(priority) };
        let mut req = Request::new(RTM_NEWTFILTER, NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE, tcm);
        req.string(TCA_KIND, "bpf")
            .begin_nest(TCA_OPTIONS)
            .attr(TCA_BPF_FD, &(prog_fd as u32).to_ne_bytes())
            .string(TCA_BPF_NAME, name)
            .attr(TCA_BPF_FLAGS, &TCA_BPF_FLAG_ACT_DIRECT.to_ne_bytes())
            .end_nest();
        self.transact(req).map(|_| ())
    }

    pub fn del_filter(&mut self, ifindex: u32, parent: u32, priority: u16, handle: u32) -> io::Result<()> {
        let tcm = Tcmsg { ifindex: ifindex as i32, handle, parent, info: filter_info(priority) };
        let mut req = Request::new(RTM_DELTFILTER, NLM_F_ACK, tcm);
        req.string(TCA_KIND, "bpf");
        self.transact(req).map(|_| ())
    }

    /// Every filter on one hook (`CLSACT_INGRESS`/`CLSACT_EGRESS`) of an
    /// interface. An interface without clsact has none (EINVAL is mapped to
    /// an empty list).
    pub fn filters(&mut self, ifindex: u32, parent: u32) -> io::Result<Vec<Filter>> {
        let tcm = Tcmsg { ifindex: ifindex as i32, handle: 0, parent, info: 0 };
        let req = Request::new(RTM_GETTFILTER, NLM_F_DUMP, tcm);
        let messages = match self.transact(req) {
            Ok(m) => m,
            Err(e) if matches!(errno(&e), Some(libc::EINVAL) | Some(libc::ENOENT)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        // The dump also has one message per classifier instance with handle
        // 0 (the priority itself, no filter); those are not filters.
        Ok(messages.iter().filter_map(|m| parse_filter(m)).filter(|f| f.handle != 0).collect())
    }

    /// A dump request (`RTM_GET…` with `NLM_F_DUMP`) whose fixed header is
    /// `header` (`ifinfomsg` for links, `tcmsg` for qdiscs): the payload of
    /// every reply message, header included.
    pub(crate) fn dump(&mut self, kind: u16, header: &[u8]) -> io::Result<Vec<Vec<u8>>> {
        let mut req = Request::new(kind, NLM_F_DUMP, Tcmsg::default());
        req.buf.truncate(NLMSG_HDRLEN);
        req.buf.extend_from_slice(header);
        req.buf.resize(NLMSG_HDRLEN + align4(header.len()), 0);
        self.transact(req)
    }

    /// Sends one request and collects the payloads of every reply until the
    /// ack (or NLMSG_DONE for dumps). A netlink error becomes an io::Error
    /// carrying the kernel's extended-ack text when it sent one.
    fn transact(&mut self, req: Request) -> io::Result<Vec<Vec<u8>>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let msg = req.finish(seq);
        // SAFETY: send reads msg.len() bytes from a live buffer.
        let sent = unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: recv writes at most buf.len() bytes into buf.
            let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let mut at = 0usize;
            let n = n as usize;
            while at + NLMSG_HDRLEN <= n {
                let len = u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap_or_default()) as usize;
                let kind = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
                let flags = u16::from_ne_bytes([buf[at + 6], buf[at + 7]]);
                let mseq = u32::from_ne_bytes(buf[at + 8..at + 12].try_into().unwrap_or_default());
                if len < NLMSG_HDRLEN || at + len > n {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "truncated netlink message"));
                }
                let payload = &buf[at + NLMSG_HDRLEN..at + len];
                at += align4(len);
                if mseq != seq {
                    continue;
                }
                match kind {
                    NLMSG_ERROR => return error_reply(payload, flags).map(|()| out),
                    NLMSG_DONE => return Ok(out),
                    _ => out.push(payload.to_vec()),
                }
            }
        }
    }
}

/// `struct nlmsgerr`: errno (negative) then the offending request's header;
/// with extended acks, attributes after it (NLMSGERR_ATTR_MSG: text).
fn error_reply(payload: &[u8], flags: u16) -> io::Result<()> {
    let errno = payload.get(0..4).map(|b| i32::from_ne_bytes(b.try_into().unwrap_or_default())).unwrap_or(0);
    if errno == 0 {
        return Ok(());
    }
    let err = io::Error::from_raw_os_error(-errno);
    // With NLM_F_CAPPED unset the whole request follows; we asked for
    // extended acks, whose TLVs come after the echoed request.
    let mut text = None;
    if flags & NLM_F_ACK_TLVS != 0 && payload.len() >= 4 + NLMSG_HDRLEN {
        let echoed = u32::from_ne_bytes(payload[4..8].try_into().unwrap_or_default()) as usize;
        let capped = flags & 0x100 != 0;
        let start = 4 + if capped { NLMSG_HDRLEN } else { align4(echoed) };
        for (kind, data) in attrs(payload.get(start..).unwrap_or_default()) {
            if kind == NLMSGERR_ATTR_MSG {
                text = Some(String::from_utf8_lossy(data).trim_end_matches('\0').to_string());
            }
        }
    }
    match text {
        Some(t) if !t.is_empty() => Err(io::Error::new(err.kind(), KernelError { errno: -errno, text: format!("{err}: {t}") })),
        _ => Err(err),
    }
}

/// A netlink error with the kernel's explanation; [`errno`] still finds its errno.
#[derive(Debug)]
struct KernelError {
    errno: i32,
    text: String,
}

impl std::fmt::Display for KernelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for KernelError {}

/// The errno of an error from this module.
pub fn errno(e: &io::Error) -> Option<i32> {
    e.raw_os_error().or_else(|| e.get_ref()?.downcast_ref::<KernelError>().map(|k| k.errno))
}

/// The attributes in `data` as (type without flags, payload).
pub(crate) fn attrs(data: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= data.len() {
        let len = u16::from_ne_bytes([data[at], data[at + 1]]) as usize;
        let kind = u16::from_ne_bytes([data[at + 2], data[at + 3]]) & !NLA_F_NESTED & 0x7fff;
        if len < 4 || at + len > data.len() {
            break;
        }
        out.push((kind, &data[at + 4..at + len]));
        at += align4(len);
    }
    out
}

fn parse_filter(msg: &[u8]) -> Option<Filter> {
    if msg.len() < TCMSG_LEN {
        return None;
    }
    let word = |at: usize| u32::from_ne_bytes(msg[at..at + 4].try_into().unwrap_or_default());
    let info = word(16);
    let mut f = Filter {
        ifindex: word(4),
        handle: word(8),
        parent: word(12),
        priority: (info >> 16) as u16,
        kind: String::new(),
        name: None,
        prog_id: None,
        chain: 0,
        direct_action: false,
        tag: None,
    };
    for (kind, data) in attrs(&msg[TCMSG_LEN..]) {
        match kind {
            TCA_KIND => f.kind = String::from_utf8_lossy(data).trim_end_matches('\0').to_string(),
            TCA_CHAIN if data.len() >= 4 => f.chain = u32::from_ne_bytes(data[..4].try_into().ok()?),
            TCA_OPTIONS => {
                for (k, d) in attrs(data) {
                    match k {
                        TCA_BPF_NAME => f.name = Some(String::from_utf8_lossy(d).trim_end_matches('\0').to_string()),
                        TCA_BPF_ID if d.len() >= 4 => f.prog_id = Some(u32::from_ne_bytes(d[..4].try_into().ok()?)),
                        TCA_BPF_FLAGS if d.len() >= 4 => {
                            f.direct_action = u32::from_ne_bytes(d[..4].try_into().ok()?) & TCA_BPF_FLAG_ACT_DIRECT != 0
                        }
                        TCA_BPF_TAG if d.len() >= 8 => f.tag = d[..8].try_into().ok(),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_request_layout() {
        let tcm = Tcmsg { ifindex: 7, handle: 0x0f70_0001, parent: CLSACT_INGRESS, info: filter_info(1) };
        let mut req = Request::new(RTM_NEWTFILTER, NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE, tcm);
        req.string(TCA_KIND, "bpf").begin_nest(TCA_OPTIONS).attr(TCA_BPF_FD, &5u32.to_ne_bytes()).end_nest();
        let bytes = req.finish(9);
        assert_eq!(u32::from_ne_bytes(bytes[0..4].try_into().unwrap()) as usize, bytes.len());
        assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), RTM_NEWTFILTER);
        assert_eq!(u32::from_ne_bytes(bytes[8..12].try_into().unwrap()), 9);
        // tcmsg: ifindex, handle, parent, info (priority 1, ETH_P_ALL big-endian).
        assert_eq!(i32::from_ne_bytes(bytes[20..24].try_into().unwrap()), 7);
        assert_eq!(u32::from_ne_bytes(bytes[32..36].try_into().unwrap()), 0x0001_0300);
        // "bpf\0" kind attribute, then the nest whose length covers the fd attribute.
        let a = attrs(&bytes[NLMSG_HDRLEN + TCMSG_LEN..]);
        assert_eq!(a[0], (TCA_KIND, &b"bpf\0"[..]));
        assert_eq!(a[1].0, TCA_OPTIONS);
        assert_eq!(attrs(a[1].1), vec![(TCA_BPF_FD, &5u32.to_ne_bytes()[..])]);
    }

    #[test]
    fn parses_a_dumped_filter() {
        let tcm = Tcmsg { ifindex: 3, handle: 0x0f70_0002, parent: CLSACT_EGRESS, info: filter_info(65000) };
        let mut req = Request::new(RTM_NEWTFILTER, 0, tcm);
        req.string(TCA_KIND, "bpf")
            .begin_nest(TCA_OPTIONS)
            .string(TCA_BPF_NAME, "flowtrace/42/ft_tc_x")
            .attr(TCA_BPF_ID, &77u32.to_ne_bytes())
            .attr(TCA_BPF_FLAGS, &TCA_BPF_FLAG_ACT_DIRECT.to_ne_bytes())
            .attr(TCA_BPF_TAG, &[1, 2, 3, 4, 5, 6, 7, 8])
            .end_nest()
            .attr(TCA_CHAIN, &4u32.to_ne_bytes());
        let bytes = req.finish(1);
        let f = parse_filter(&bytes[NLMSG_HDRLEN..]).unwrap();
        assert_eq!(f.ifindex, 3);
        assert_eq!(f.priority, 65000);
        assert_eq!(f.handle, 0x0f70_0002);
        assert_eq!(f.parent, CLSACT_EGRESS);
        assert_eq!(f.kind, "bpf");
        assert_eq!(f.name.as_deref(), Some("flowtrace/42/ft_tc_x"));
        assert_eq!(f.prog_id, Some(77));
        assert!(f.direct_action);
        assert_eq!(f.tag, Some([1, 2, 3, 4, 5, 6, 7, 8]));
        assert_eq!(f.chain, 4);
    }

    #[test]
    fn a_filter_without_flags_is_not_direct_action() {
        let tcm = Tcmsg { ifindex: 3, handle: 1, parent: CLSACT_INGRESS, info: filter_info(2) };
        let mut req = Request::new(RTM_NEWTFILTER, 0, tcm);
        req.string(TCA_KIND, "bpf").begin_nest(TCA_OPTIONS).attr(TCA_BPF_ID, &9u32.to_ne_bytes()).end_nest();
        let f = parse_filter(&req.finish(1)[NLMSG_HDRLEN..]).unwrap();
        assert!(!f.direct_action);
        assert_eq!((f.chain, f.tag), (0, None));
    }
}
