//! Who owns a clsact filter, told so that any process in the filter's network
//! namespace can check it, whatever PID or mount namespace it runs in.
//!
//! A pid is not enough: a flowtrace in a container has pid 1 (or any pid) in
//! its own PID namespace, which means another process, or nothing, in the
//! host's; and a flowtrace in a container cannot see the host's processes at
//! all. So the owner holds a name instead: an abstract unix socket
//! `flowtrace/TOKEN`, bound before its first filter is added and kept for the
//! life of the process. Abstract socket names belong to the network namespace
//! — the same one the filters live in — and the kernel releases them when the
//! process dies, even by SIGKILL. A checker connects to the name: refused
//! means nobody holds it (the owner is dead); connected means alive; any other
//! answer (an LSM denying the connect, no sockets at all) proves nothing, and
//! then the filter is left alone.
//!
//! TOKEN is `PID.PIDNS.START` (pid, PID namespace inode, start time in clock
//! ticks since boot): unique among live processes on the host, and it says
//! to a reader of `tc filter show` which process it was.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Mutex;

/// The prefix of every filter name and owner socket name of flowtrace's.
const PREFIX: &str = "flowtrace/";

/// This process's owner socket and token, once claimed.
static CLAIMED: Mutex<Option<(UnixDatagram, String)>> = Mutex::new(None);

/// This process's token, binding its owner socket the first time. Without it
/// a filter could not be told from a dead run's, so failing here fails the
/// attach.
pub(crate) fn claim() -> io::Result<String> {
    let mut claimed = CLAIMED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, token)) = claimed.as_ref() {
        return Ok(token.clone());
    }
    let token = own_token();
    let addr = SocketAddr::from_abstract_name(format!("{PREFIX}{token}"))?;
    let socket = UnixDatagram::bind_addr(&addr)
        .map_err(|e| io::Error::new(e.kind(), format!("claiming the owner socket @{PREFIX}{token}: {e}")))?;
    *claimed = Some((socket, token.clone()));
    Ok(token)
}

fn own_token() -> String {
    let pidns = std::fs::metadata("/proc/self/ns/pid").map(|m| m.ino()).unwrap_or(0);
    let start = std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| start_time(&s)).unwrap_or(0);
    format!("{}.{pidns}.{start}", std::process::id())
}

/// Field 22 of /proc/PID/stat; the command name (field 2) may hold spaces and
/// parentheses, so fields are counted after its closing `)`.
fn start_time(stat: &str) -> Option<u64> {
    stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()
}

/// The `TCA_BPF_NAME` of a filter owned by `token`.
pub(crate) fn filter_name(token: &str, program: &str) -> String {
    format!("{PREFIX}{token}/{program}")
}

/// The owner token in a filter name made by [`filter_name`]; `None` for
/// anyone else's name, and for the pid-only names of older flowtraces (whose
/// owner cannot be checked).
pub(crate) fn filter_owner(name: &str) -> Option<&str> {
    let token = name.strip_prefix(PREFIX)?.split('/').next()?;
    let mut parts = token.split('.');
    let valid = parts.by_ref().take(3).filter(|p| p.parse::<u64>().is_ok()).count() == 3 && parts.next().is_none();
    valid.then_some(token)
}

/// What a check of an owner's socket found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    Alive,
    /// Nobody in this network namespace holds the name.
    Dead,
    /// The check could not tell; treat as alive.
    Unknown,
}

pub(crate) fn owner_state(token: &str) -> Owner {
    let Ok(addr) = SocketAddr::from_abstract_name(format!("{PREFIX}{token}")) else { return Owner::Unknown };
    let Ok(probe) = UnixDatagram::unbound() else { return Owner::Unknown };
    match probe.connect_addr(&addr) {
        Ok(()) => Owner::Alive,
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => Owner::Dead,
        Err(_) => Owner::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_names_carry_the_owner_token() {
        let name = filter_name("42.4026531836.1234", "ft_tc_eth0_in");
        assert_eq!(name, "flowtrace/42.4026531836.1234/ft_tc_eth0_in");
        assert_eq!(filter_owner(&name), Some("42.4026531836.1234"));
        assert_eq!(filter_owner("cilium-ingress"), None);
        assert_eq!(filter_owner("flowtrace/x/y"), None);
        // An older flowtrace's pid-only name: its owner cannot be checked.
        assert_eq!(filter_owner("flowtrace/1234/ft_tc_eth0_in"), None);
        assert_eq!(filter_owner("flowtrace/1.2.3.4/p"), None);
    }

    #[test]
    fn start_time_skips_a_command_with_spaces() {
        let stat = "77 (a) b (c) S 1 77 77 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 200";
        assert_eq!(start_time(stat), Some(98765));
    }

    #[test]
    fn a_claimed_owner_is_alive_and_an_unclaimed_one_dead() {
        let token = claim().unwrap();
        assert_eq!(claim().unwrap(), token, "claimed once per process");
        assert_eq!(owner_state(&token), Owner::Alive);
        assert_eq!(owner_state("999999999.1.1"), Owner::Dead);
    }
}
