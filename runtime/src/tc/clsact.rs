//! The clsact + cls_bpf path. Each attached program is one [`ClsactFilter`];
//! dropping it deletes exactly that filter (by priority and handle, which we
//! chose). The clsact qdisc is shared by every filter of ours on the
//! interface through a [`QdiscClaim`]: it is created only when missing, and
//! removed when the last of our filters goes, only if we created it and no
//! filter of anyone else's is on it.

use super::netlink::Socket;
use super::owner;
use super::{Hook, TcOrder};
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, Weak};

/// Priorities flowtrace uses: 1 runs before every other filter (lower is
/// earlier); 0xffff after them. Among cls_bpf filters of one priority the
/// kernel runs the newest first.
pub(crate) fn priority(order: TcOrder) -> u16 {
    match order {
        TcOrder::First => 1,
        TcOrder::Last => 0xffff,
    }
}

/// Filter handles are `0xf7` (for "ft") in the top byte, then 16 bits of our
/// pid and a sequence number, so two flowtraces on one interface never pick
/// the same one (and if they did, EXCL makes the add fail, not replace).
fn handle(seq: u8) -> u32 {
    0xf700_0000 | ((std::process::id() & 0xffff) << 8) | u32::from(seq)
}

/// Our claim on an interface's clsact qdisc.
pub(crate) struct QdiscClaim {
    ifindex: u32,
    /// We created it, so we may remove it (when nothing uses it).
    created: bool,
}

impl Drop for QdiscClaim {
    fn drop(&mut self) {
        if !self.created {
            return;
        }
        let Ok(mut sock) = Socket::open() else { return };
        let in_use = [Hook::Ingress, Hook::Egress]
            .iter()
            .any(|h| sock.filters(self.ifindex, h.parent()).map(|f| !f.is_empty()).unwrap_or(true));
        if !in_use {
            // The interface may be gone already; nothing else to do then.
            let _ = sock.del_clsact(self.ifindex);
        }
    }
}

/// One qdisc claim per interface, shared by our filters on it.
static CLAIMS: Mutex<Option<HashMap<u32, Weak<QdiscClaim>>>> = Mutex::new(None);

fn claim(sock: &mut Socket, ifindex: u32) -> io::Result<Arc<QdiscClaim>> {
    let mut claims = CLAIMS.lock().unwrap_or_else(|e| e.into_inner());
    let claims = claims.get_or_insert_with(HashMap::new);
    if let Some(c) = claims.get(&ifindex).and_then(Weak::upgrade) {
        return Ok(c);
    }
    let created = sock.add_clsact(ifindex)?;
    let c = Arc::new(QdiscClaim { ifindex, created });
    claims.insert(ifindex, Arc::downgrade(&c));
    Ok(c)
}

/// A cls_bpf filter of ours; dropping it deletes it.
pub struct ClsactFilter {
    pub ifindex: u32,
    pub hook: Hook,
    pub priority: u16,
    pub handle: u32,
    // Dropped after the filter is deleted (fields drop after `drop`).
    _qdisc: Arc<QdiscClaim>,
}

static SEQ: Mutex<u8> = Mutex::new(0);

impl ClsactFilter {
    pub(crate) fn attach(ifindex: u32, hook: Hook, order: TcOrder, prog_fd: i32, program: &str) -> io::Result<ClsactFilter> {
        let mut sock = Socket::open()?;
        let qdisc = claim(&mut sock, ifindex)?;
        let priority = priority(order);
        let name = owner::filter_name(&owner::claim()?, program);
        // A handle already taken (by a stale filter of a process that had our
        // pid) is skipped, never replaced.
        let mut last = None;
        for _ in 0..8 {
            let seq = {
                let mut s = SEQ.lock().unwrap_or_else(|e| e.into_inner());
                *s = s.wrapping_add(1);
                *s
            };
            let handle = handle(seq);
            match sock.add_bpf_filter(ifindex, hook.parent(), priority, handle, prog_fd, &name) {
                Ok(()) => return Ok(ClsactFilter { ifindex, hook, priority, handle, _qdisc: qdisc }),
                Err(e) if super::netlink::errno(&e) == Some(libc::EEXIST) => last = Some(e),
                Err(e) => return Err(explain_add_error(e, priority)),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no free filter handle")))
    }
}

/// EINVAL at our priority usually means another classifier kind holds it.
fn explain_add_error(e: io::Error, priority: u16) -> io::Error {
    if super::netlink::errno(&e) == Some(libc::EINVAL) {
        return io::Error::new(
            e.kind(),
            format!("{e} (is priority {priority} taken by a non-bpf filter? try the other --tc-order)"),
        );
    }
    e
}

impl Drop for ClsactFilter {
    fn drop(&mut self) {
        if let Ok(mut sock) = Socket::open() {
            // ENOENT: the interface (and so the filter) is already gone.
            let _ = sock.del_filter(self.ifindex, self.hook.parent(), self.priority, self.handle);
        }
    }
}
