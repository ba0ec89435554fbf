//! Deterministic loopback traffic with known byte counts; every loop is
//! bounded by its count and all traffic stays on 127.0.0.1.
//!
//! The tracer comparisons (tests/root_diff.rs) generate it on one named
//! thread pinned to one CPU ([`on_pinned_thread`]). The name lets scripts
//! filter with `comm == "…"`; the pinning keeps every event of the thread
//! (and the loopback softirq work it triggers) on one CPU, so tracers that
//! read per-CPU buffers (bpftrace's perf buffers) still see events in order.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

/// Runs `work` on a new thread named `name` (at most 15 bytes: the kernel's
/// comm length) pinned to `cpu`, and returns its result.
pub fn on_pinned_thread<T: Send + 'static>(
    name: &str,
    cpu: usize,
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    assert!(name.len() <= 15, "comm names are at most 15 bytes: {name}");
    let handle = std::thread::Builder::new().name(name.to_string()).spawn(move || {
        pin_current_thread(cpu)?;
        work()
    })?;
    handle.join().map_err(|_| io::Error::other("traffic thread panicked"))?
}

fn pin_current_thread(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_SET writes inside it; pid 0 means
    // the calling thread.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// A TCP listener on 127.0.0.1:`port`.
pub fn listen(port: u16) -> io::Result<TcpListener> {
    TcpListener::bind(loopback(port)).map_err(|e| io::Error::new(e.kind(), format!("bind 127.0.0.1:{port}: {e}")))
}

/// One connection to `listener`: the client sends each of `writes` bytes with
/// one send(2) each, then closes; the server reads to end-of-file and closes.
/// The client closing first fixes the sequence of TCP states. Returns the
/// bytes the server received.
pub fn tcp_exchange(listener: &TcpListener, writes: &[usize]) -> io::Result<usize> {
    let mut client = TcpStream::connect(listener.local_addr()?)?;
    let (mut server, _) = listener.accept()?;
    for &n in writes {
        // Small writes to loopback never block, so one thread can play both ends.
        client.write_all(&vec![b'x'; n])?;
    }
    drop(client);
    let mut received = Vec::new();
    server.read_to_end(&mut received)?;
    Ok(received.len())
}

/// Connects `n` times to a port nobody listens on; each attempt must be
/// refused (the kernel answers the SYN with a reset).
pub fn refused_connects(port: u16, n: usize) -> io::Result<()> {
    for _ in 0..n {
        match TcpStream::connect(loopback(port)) {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            Err(e) => return Err(e),
            Ok(_) => return Err(io::Error::other(format!("port {port} unexpectedly accepted a connection"))),
        }
    }
    Ok(())
}

/// `n` connections to `listener` that are accepted and closed without data.
pub fn empty_connections(listener: &TcpListener, n: usize) -> io::Result<()> {
    for _ in 0..n {
        let client = TcpStream::connect(listener.local_addr()?)?;
        let (server, _) = listener.accept()?;
        drop(client);
        drop(server);
    }
    Ok(())
}

/// Sends one UDP datagram of each size to a receiver bound on `port`, which
/// receives each one before the next is sent.
pub fn udp_datagrams(port: u16, sizes: &[usize]) -> io::Result<()> {
    let receiver = UdpSocket::bind(loopback(port))?;
    receiver.set_read_timeout(Some(Duration::from_secs(5)))?;
    let sender = UdpSocket::bind(loopback(0))?;
    let mut buf = vec![0u8; 65536];
    for &n in sizes {
        sender.send_to(&vec![b'u'; n], loopback(port))?;
        let (got, _) = receiver.recv_from(&mut buf)?;
        if got != n {
            return Err(io::Error::other(format!("udp: sent {n} bytes, received {got}")));
        }
    }
    Ok(())
}

/// `connections` TCP connections to 127.0.0.1:`port`, each carrying `bytes`
/// from client to server; a reader thread drains the server side (big writes
/// block until it reads). For runs where packets are dropped on purpose.
pub fn bulk_transfer(port: u16, connections: usize, bytes: usize) -> io::Result<usize> {
    let listener = listen(port)?;
    let reader = std::thread::spawn(move || -> io::Result<usize> {
        let mut total = 0;
        for _ in 0..connections {
            let (mut server, _) = listener.accept()?;
            server.set_read_timeout(Some(Duration::from_secs(30)))?;
            total += io::copy(&mut server, &mut io::sink())? as usize;
        }
        Ok(total)
    });
    let chunk = vec![b'b'; 16 * 1024];
    for _ in 0..connections {
        let mut client = TcpStream::connect(loopback(port))?;
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len());
            client.write_all(&chunk[..n])?;
            left -= n;
        }
        client.shutdown(Shutdown::Write)?;
    }
    let received = reader.join().map_err(|_| io::Error::other("reader thread panicked"))??;
    if received != connections * bytes {
        return Err(io::Error::other(format!("bulk: sent {} bytes, received {received}", connections * bytes)));
    }
    Ok(received)
}

/// `n` connections to `listener` that walk the full TCP state machine the same
/// way every time: connect, accept, the client closes first, then (once its FIN
/// has arrived) the server side.
pub fn close_cycles(listener: &TcpListener, n: usize) -> io::Result<()> {
    for _ in 0..n {
        let client = TcpStream::connect(listener.local_addr()?)?;
        let (server, _) = listener.accept()?;
        drop(client);
        std::thread::sleep(Duration::from_millis(5));
        drop(server);
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// A listener on 127.0.0.1 with a kernel-chosen port.
pub fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind(loopback(0)).expect("bind loopback");
    let port = l.local_addr().expect("listener address").port();
    (l, port)
}

/// `n` connect / send "ping" / close cycles; the client closes first, the
/// server reads EOF and closes after, so every connection walks the same
/// states. Waits 100 ms at the end for the last FIN/ACK exchanges.
pub fn ping_cycles(l: &TcpListener, n: usize) {
    let port = l.local_addr().expect("listener address").port();
    for _ in 0..n {
        let mut c = TcpStream::connect(loopback(port)).expect("connect");
        let (mut s, _) = l.accept().expect("accept");
        c.write_all(b"ping").expect("send");
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).expect("receive");
        drop(c);
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).expect("read to end");
        drop(s);
    }
    std::thread::sleep(Duration::from_millis(100));
}
