//! Two network namespaces joined by a veth pair, for tc tests: addresses
//! exist only inside them, and dropping the [`Lab`] deletes both namespaces
//! (which deletes the veth pair and every qdisc and filter on it).
//!
//! Sockets are opened on threads that first `setns(2)` into a namespace, so
//! traffic needs no external tools; flowtrace runs under `ip netns exec`.

#![allow(dead_code)]

pub mod classifier;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::{Command, Output};
use std::time::Duration;

pub const A4: &str = "10.199.0.1";
pub const B4: &str = "10.199.0.2";
pub const A6: &str = "fd99::1";
pub const B6: &str = "fd99::2";

pub struct Lab {
    pub a: String,
    pub b: String,
    /// The veth ends: `va` in namespace a, `vb` in namespace b.
    pub va: String,
    pub vb: String,
}

pub fn ip(args: &[&str]) -> Output {
    let out = Command::new("ip").args(args).output().expect("ip(8) is installed");
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    out
}

impl Lab {
    /// `tag` keeps the names of concurrent test binaries apart.
    pub fn new(tag: &str) -> Lab {
        let id = std::process::id() % 100_000;
        let lab = Lab { a: format!("ft{tag}a{id}"), b: format!("ft{tag}b{id}"), va: "veth-a".into(), vb: "veth-b".into() };
        // Left over from a crashed run with the same pid: remove quietly.
        let _ = Command::new("ip").args(["netns", "del", &lab.a]).output();
        let _ = Command::new("ip").args(["netns", "del", &lab.b]).output();
        ip(&["netns", "add", &lab.a]);
        ip(&["netns", "add", &lab.b]);
        ip(&["link", "add", &lab.va, "netns", &lab.a, "type", "veth", "peer", "name", &lab.vb, "netns", &lab.b]);
        for (ns, dev, v4, v6) in [(&lab.a, &lab.va, A4, A6), (&lab.b, &lab.vb, B4, B6)] {
            // Up first: IPv6 addresses added to a down link get their
            // prefix route only later.
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "addr", "add", &format!("{v4}/24"), "dev", dev]);
            ip(&["-n", ns, "addr", "add", &format!("{v6}/64"), "dev", dev, "nodad"]);
        }
        // Static neighbours: with a drop filter on the link, ARP and ND
        // would never resolve, and no datagram would even reach tc.
        for (ns, dev, peer_ns, peer_dev, v4, v6) in [(&lab.a, &lab.va, &lab.b, &lab.vb, B4, B6), (&lab.b, &lab.vb, &lab.a, &lab.va, A4, A6)] {
            let mac = lab.mac(peer_ns, peer_dev);
            for addr in [v4, v6] {
                ip(&["-n", ns, "neigh", "replace", addr, "lladdr", &mac, "dev", dev, "nud", "permanent"]);
            }
        }
        lab
    }

    pub fn mac(&self, ns: &str, dev: &str) -> String {
        let text = String::from_utf8_lossy(&ip(&["-n", ns, "-o", "link", "show", dev]).stdout).into_owned();
        let mac = text.split_whitespace().skip_while(|w| *w != "link/ether").nth(1).unwrap_or_else(|| panic!("no MAC in {text}"));
        mac.to_string()
    }

    /// A command run inside namespace `ns`.
    pub fn exec(&self, ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }

    /// `tc ARGS` inside `ns`, its stdout.
    pub fn tc(&self, ns: &str, args: &[&str]) -> String {
        let out = self.exec(ns, "tc").args(args).output().expect("tc(8) is installed");
        assert!(out.status.success(), "tc {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The filters on one hook of `dev`, as tc(8) dumps them from the kernel.
    pub fn filters(&self, ns: &str, dev: &str, hook: &str) -> String {
        let out = self.exec(ns, "tc").args(["filter", "show", "dev", dev, hook]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn qdiscs(&self, ns: &str, dev: &str) -> String {
        self.tc(ns, &["qdisc", "show", "dev", dev])
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.a]).output();
        let _ = Command::new("ip").args(["netns", "del", &self.b]).output();
    }
}

/// Runs `work` on a new thread inside network namespace `ns`.
pub fn in_netns<T: Send + 'static>(ns: &str, work: impl FnOnce() -> T + Send + 'static) -> std::thread::JoinHandle<T> {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: setns on a namespace fd we hold; it changes only this thread.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        work()
    })
}

/// A UDP socket bound in `ns`, for `receive` or `echo`.
pub fn udp_bound(ns: &str, addr: SocketAddr) -> UdpSocket {
    in_netns(ns, move || UdpSocket::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"))).join().unwrap()
}

/// Receives datagrams until `idle` passes without one; echoes each back when
/// `echo`. Returns how many arrived.
pub fn serve(sock: UdpSocket, echo: bool, idle: Duration) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        sock.set_read_timeout(Some(idle)).unwrap();
        let mut buf = [0u8; 2048];
        let mut n = 0;
        while let Ok((len, from)) = sock.recv_from(&mut buf) {
            n += 1;
            if echo {
                sock.send_to(&buf[..len], from).unwrap();
            }
        }
        n
    })
}

/// Sends `count` datagrams of `payload` bytes from `from` (bound in `ns`) to
/// `to`, waiting for each echo when `await_echo`. Returns echoes received.
pub fn send_udp(ns: &str, from: SocketAddr, to: SocketAddr, count: usize, payload: usize, await_echo: bool) -> usize {
    in_netns(ns, move || {
        let s = UdpSocket::bind(from).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        let data = vec![0x5au8; payload];
        let mut echoed = 0;
        let mut buf = [0u8; 2048];
        for _ in 0..count {
            s.send_to(&data, to).unwrap();
            if await_echo && s.recv_from(&mut buf).is_ok() {
                echoed += 1;
            }
            if !await_echo {
                // Paced, so no datagram is lost to a full socket buffer.
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        echoed
    })
    .join()
    .unwrap()
}

pub fn sa(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse::<IpAddr>().unwrap(), port)
}

/// Every loaded BPF program's name, from the kernel (`bpftool prog show`).
pub fn loaded_program_names() -> Vec<String> {
    let out = Command::new("bpftool").args(["prog", "show"]).output().expect("bpftool is installed");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| l.split_whitespace().skip_while(|w| *w != "name").nth(1).map(str::to_string))
        .collect()
}

/// Ids of loaded programs whose name starts with `prefix`, from the kernel.
pub fn program_ids(prefix: &str) -> Vec<u32> {
    let out = Command::new("bpftool").args(["prog", "show"]).output().expect("bpftool is installed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.split_whitespace().skip_while(|w| *w != "name").nth(1).is_some_and(|n| n.starts_with(prefix)))
        .filter_map(|l| l.split(':').next()?.trim().parse().ok())
        .collect()
}

/// Programs of the TCX links the kernel has (`bpftool link show`; older
/// bpftool prints the link type as "type 11").
pub fn tcx_link_programs() -> Vec<u32> {
    let out = Command::new("bpftool").args(["link", "show"]).output().expect("bpftool is installed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(" tcx ") || l.contains(" type 11 "))
        .filter_map(|l| l.split_whitespace().skip_while(|w| *w != "prog").nth(1)?.parse().ok())
        .collect()
}

/// Whether a TCX link runs one of flowtrace's tc programs.
pub fn flowtrace_tcx_attached() -> bool {
    let ours = program_ids("ft_tc");
    tcx_link_programs().iter().any(|p| ours.contains(p))
}
