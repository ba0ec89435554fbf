//! A flowtrace process started by a test.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout};

/// Reads `child`'s first line, which must be bpftrace's `Attaching N
/// probes...` (printed once everything is attached, so events from now on
/// are seen); otherwise panics with what it printed on both streams. `what`
/// says which run it was. Returns the rest of stdout and that line.
pub fn attached(child: &mut Child, what: &str) -> (BufReader<ChildStdout>, String) {
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut head = String::new();
    stdout.read_line(&mut head).expect("reading flowtrace's stdout");
    if !head.starts_with("Attaching") {
        let mut err = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            let _ = stderr.read_to_string(&mut err);
        }
        panic!("flowtrace did not attach ({what}): stdout {head:?}, stderr {err}");
    }
    (stdout, head)
}

/// Runs `command` to its end with stdout and stderr captured (read while it
/// runs, so a chatty run cannot fill a pipe and stall), killing it and
/// panicking with `what()` if it is still running after `limit`.
pub fn output_within(command: &mut std::process::Command, limit: std::time::Duration, what: impl Fn() -> String) -> std::process::Output {
    use std::process::Stdio;
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("starting flowtrace");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout is piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr is piped")));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for flowtrace") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{}", what());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    std::process::Output { status, stdout: stdout.join().expect("stdout reader"), stderr: stderr.join().expect("stderr reader") }
}
