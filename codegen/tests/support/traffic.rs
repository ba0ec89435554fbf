//! Deterministic loopback TCP traffic for tracepoint tests.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

/// A listener on 127.0.0.1 with a kernel-chosen port.
pub fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// `n` connect / send / close cycles; the client closes first, the server
/// reads EOF and closes after, so every connection walks the same states.
pub fn cycles(l: &TcpListener, n: usize) {
    let port = l.local_addr().unwrap().port();
    for _ in 0..n {
        let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let (mut s, _) = l.accept().expect("accept");
        c.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).unwrap();
        drop(c);
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        drop(s);
    }
    // Let the last FIN/ACK exchanges finish.
    std::thread::sleep(std::time::Duration::from_millis(100));
}
