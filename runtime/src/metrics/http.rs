//! The smallest HTTP/1.1 server `/metrics` needs: GET of two paths, one
//! response per connection (`Connection: close`), each connection on its own
//! thread so two scrapes run side by side and a slow client holds up no one.
//!
//! Hand-written rather than a crate: Prometheus, kubelet probes and curl
//! need nothing more, and the small servers on crates.io (tiny_http and
//! friends) bring several more crates and a thread pool to the binary and
//! its start-up for the same two routes. No TLS: put a proxy in front, as
//! node exporters usually are.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A parsed request: what the handler needs of it.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub accept: Option<String>,
}

pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response { status, content_type: "text/plain; charset=utf-8", body: body.into() }
    }
}

/// More connections than this at once are answered 503 at once: a scrape
/// storm must not turn into a thread storm.
const MAX_CONNECTIONS: usize = 16;
/// The longest request head read; anything longer is not a scraper.
const MAX_HEAD: u64 = 16 * 1024;

/// Listens on `addr` and answers each request with `handle` on a thread of
/// its own. Returns the address bound (port 0 picks a free one).
pub fn serve<H>(addr: &str, handle: H) -> io::Result<SocketAddr>
where
    H: Fn(&Request) -> Response + Send + Sync + 'static,
{
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    let handle = Arc::new(handle);
    let busy = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new().name("ft-metrics".into()).spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            if busy.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                busy.fetch_sub(1, Ordering::SeqCst);
                let _ = respond(&stream, &Response::text(503, "too many concurrent requests\n"));
                continue;
            }
            let (handle, done) = (Arc::clone(&handle), Arc::clone(&busy));
            let spawned = std::thread::Builder::new().name("ft-scrape".into()).spawn(move || {
                let _ = connection(stream, &*handle);
                done.fetch_sub(1, Ordering::SeqCst);
            });
            if spawned.is_err() {
                // The closure (and its count) is gone with the failed spawn.
                busy.fetch_sub(1, Ordering::SeqCst);
            }
        }
    })?;
    Ok(local)
}

fn connection<H: Fn(&Request) -> Response>(stream: TcpStream, handle: &H) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let response = match read_request(&stream) {
        Ok(req) if req.method != "GET" && req.method != "HEAD" => Response::text(405, "only GET\n"),
        Ok(req) => {
            let mut r = handle(&req);
            if req.method == "HEAD" {
                r.body.clear();
            }
            r
        }
        Err(_) => Response::text(400, "bad request\n"),
    };
    respond(&stream, &response)
}

fn read_request(stream: &TcpStream) -> io::Result<Request> {
    let mut reader = BufReader::new(stream.take(MAX_HEAD));
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut words = line.split_whitespace();
    let (Some(method), Some(target)) = (words.next(), words.next()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "no request line"));
    };
    let path = target.split('?').next().unwrap_or("/").to_string();
    let mut req = Request { method: method.to_string(), path, accept: None };
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            return Ok(req);
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("accept") {
                req.accept = Some(value.trim().to_string());
            }
        }
    }
}

fn respond(mut stream: &TcpStream, r: &Response) -> io::Result<()> {
    let reason = match r.status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        r.status,
        r.content_type,
        r.body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(r.body.as_bytes())?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(addr: SocketAddr, request: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn answers_get_with_the_handler_and_passes_accept() {
        let addr = serve("127.0.0.1:0", |r: &Request| match r.path.as_str() {
            "/metrics" => Response::text(200, format!("accept={}\n", r.accept.clone().unwrap_or_default())),
            _ => Response::text(404, "no\n"),
        })
        .unwrap();
        let ok = get(addr, "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: text/plain\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.ends_with("\r\n\r\naccept=text/plain\n"), "{ok}");
        assert!(get(addr, "GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        assert!(get(addr, "POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
        assert!(get(addr, "\r\n").starts_with("HTTP/1.1 400"));
    }
}
