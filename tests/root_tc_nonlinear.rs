//! tc header parse on packets whose headers are not in the skb's linear
//! part: a frame larger than a page sent on an AF_PACKET socket gets only its
//! Ethernet header (the device's hard_header_len) in the linear part, the IP
//! and transport headers in page fragments (packet_snd), as the first bytes
//! of GRO'd or tunnelled packets can be in real traffic. The parse runs over
//! packet memory, finds the IP header past the linear end, copies the first
//! bytes and parses again: the flows must read exactly as the same headers
//! in small, linear frames. BPF_PROG_TEST_RUN packets are always linear, so
//! only a real interface exercises this path.
//!
//! Root only: it runs when FLOWTRACE_ROOT_TESTS=1, else prints SKIPPED.

mod tc_netns;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};
use flowtrace_testkit::process::attached;
use flowtrace_testkit::root_tests_enabled;
use tc_netns::{in_netns, ip, Lab};

/// Over a page: packet_snd puts only the 14-byte Ethernet header in the
/// linear part.
const BIG: usize = 6000;
/// Under a page: all linear.
const SMALL: usize = 200;

fn mac_bytes(text: &str) -> [u8; 6] {
    let v: Vec<u8> = text.split(':').map(|h| u8::from_str_radix(h, 16).unwrap()).collect();
    v.try_into().unwrap()
}

fn ipv4_udp(dst: [u8; 6], src: [u8; 6], sport: u16, size: usize) -> Vec<u8> {
    let mut p = [dst, src].concat();
    p.extend([0x08, 0x00]);
    let total = (size - 14) as u16;
    p.extend([0x45, 0]);
    p.extend(total.to_be_bytes());
    p.extend([0, 1, 0x40, 0, 64, 17, 0, 0, 10, 199, 0, 1, 10, 199, 0, 2]);
    p.extend(sport.to_be_bytes());
    p.extend(9999u16.to_be_bytes());
    p.extend((total - 20).to_be_bytes());
    p.extend([0, 0]);
    p.resize(size, 0x61);
    p
}

/// IPv6, a hop-by-hop options header, TCP.
fn ipv6_hop_tcp(dst: [u8; 6], src: [u8; 6], sport: u16, size: usize) -> Vec<u8> {
    let mut p = [dst, src].concat();
    p.extend([0x86, 0xdd]);
    p.extend([0x60, 0, 0, 0]);
    p.extend(((size - 54) as u16).to_be_bytes());
    p.extend([0, 64]);
    p.extend([0xfd, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    p.extend([0xfd, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    p.extend([6, 0, 1, 4, 0, 0, 0, 0]);
    p.extend(sport.to_be_bytes());
    p.extend(443u16.to_be_bytes());
    p.extend([0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0]);
    p.resize(size, 0x62);
    p
}

/// Sends each frame `n` times out of `dev` in `ns`.
fn send_frames(ns: &str, dev: &str, frames: Vec<Vec<u8>>, n: usize) {
    let dev = dev.to_string();
    in_netns(ns, move || {
        // SAFETY: plain socket calls on a descriptor this closure owns and closes.
        unsafe {
            let s = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
            assert!(s >= 0, "AF_PACKET socket: {}", std::io::Error::last_os_error());
            let name = std::ffi::CString::new(dev.clone()).unwrap();
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_ifindex = libc::if_nametoindex(name.as_ptr()) as i32;
            assert!(sll.sll_ifindex > 0, "no {dev}");
            for buf in &frames {
                for _ in 0..n {
                    let sent = libc::sendto(s, buf.as_ptr() as *const libc::c_void, buf.len(), 0,
                        &sll as *const _ as *const libc::sockaddr, std::mem::size_of::<libc::sockaddr_ll>() as u32);
                    assert_eq!(sent, buf.len() as isize, "sendto: {}", std::io::Error::last_os_error());
                }
            }
            libc::close(s);
        }
    })
    .join()
    .unwrap();
}

#[test]
fn root_tc_reads_headers_outside_the_linear_part() {
    if !root_tests_enabled("root_tc_reads_headers_outside_the_linear_part") {
        return;
    }
    let lab = Lab::new("n");
    for (ns, dev) in [(&lab.a, &lab.va), (&lab.b, &lab.vb)] {
        ip(&["-n", ns, "link", "set", dev, "mtu", "9000"]);
    }
    let script = "tc:veth-a:egress /sport >= 41000 && sport < 41010/ \
                  { @pkts[saddr, daddr, sport, dport, proto] = count(); @bytes[saddr, daddr, sport, dport, proto] = sum(len); }";
    let mut child = lab.exec(&lab.a, env!("CARGO_BIN_EXE_flowtrace"));
    // --timeout: should an assertion below fail first, flowtrace still ends.
    let mut child = child.args(["--timeout", "60", "-e", script]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (mut stdout, _) = attached(&mut child, "tc egress");

    let (dst, src) = (mac_bytes(&lab.mac(&lab.b, &lab.vb)), mac_bytes(&lab.mac(&lab.a, &lab.va)));
    let n = 7;
    // The same headers linear (sport 4100x) and in fragments (4100x + 5).
    let frames = vec![
        ipv4_udp(dst, src, 41000, SMALL),
        ipv6_hop_tcp(dst, src, 41001, SMALL),
        ipv4_udp(dst, src, 41005, BIG),
        ipv6_hop_tcp(dst, src, 41006, BIG),
    ];
    send_frames(&lab.a, &lab.va, frames, n);

    // SAFETY: kill(2) on our own unreaped child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("flowtrace did not exit after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    stdout.read_to_string(&mut out).unwrap();
    let mut lines: Vec<&str> = out.lines().filter(|l| l.starts_with('@')).collect();
    lines.sort();
    let mut want = Vec::new();
    for (sport, size, (s, d, dport, proto)) in [
        (41000, SMALL, ("10.199.0.1", "10.199.0.2", 9999, 17)),
        (41001, SMALL, ("fd99::1", "fd99::2", 443, 6)),
        (41005, BIG, ("10.199.0.1", "10.199.0.2", 9999, 17)),
        (41006, BIG, ("fd99::1", "fd99::2", 443, 6)),
    ] {
        want.push(format!("@bytes[{s}, {d}, {sport}, {dport}, {proto}]: {}", n * size));
        want.push(format!("@pkts[{s}, {d}, {sport}, {dport}, {proto}]: {n}"));
    }
    want.sort();
    assert_eq!(lines, want, "flowtrace printed:\n{out}");
}
