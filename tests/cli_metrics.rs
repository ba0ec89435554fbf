//! `--metrics` errors a user can cause, reported before anything loads (no
//! root needed: the exporter binds before the first BPF object is made).

use std::net::TcpListener;
use std::process::Command;

fn flowtrace(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_flowtrace")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_busy_port_is_an_error_before_anything_attaches() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let (code, err) = flowtrace(&["--metrics", &addr, "-e", "interval:s:1 { @x = count(); }"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("listening on {addr} for --metrics")) && err.contains("in use"), "{err}");
    assert!(!err.contains("Attaching"), "{err}");
}

#[test]
fn a_bad_address_or_series_bound_is_refused_by_the_command_line() {
    let (code, err) = flowtrace(&["--metrics", "9464", "-e", "interval:s:1 { @x = count(); }"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("'9464' is not an address to listen on: HOST:PORT or :PORT"), "{err}");
    let (code, err) = flowtrace(&["--metrics", ":0", "--metrics-max-series", "0", "-e", "interval:s:1 { @x = count(); }"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("a map shows 1 to"), "{err}");
}
