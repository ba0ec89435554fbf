use super::*;

struct Fake {
    tps: Vec<(String, String)>,
}

impl Fake {
    fn new() -> Fake {
        let tps = [("tcp", "tcp_retransmit_skb"), ("tcp", "tcp_send_reset"), ("sock", "inet_sock_set_state")];
        Fake { tps: tps.iter().map(|(c, n)| (c.to_string(), n.to_string())).collect() }
    }
}

impl Vocabulary for Fake {
    fn tracepoints(&self) -> &[(String, String)] {
        &self.tps
    }
    fn functions(&self, prefix: &str) -> Vec<String> {
        keep(prefix, ["tcp_sendmsg", "tcp_v4_connect", "udp_sendmsg"].map(String::from))
    }
    fn structs(&self, prefix: &str) -> Vec<String> {
        keep(prefix, ["sock", "sock_common", "sk_buff"].map(String::from))
    }
    fn members(&self, struct_name: &str, path: &[&str]) -> Vec<String> {
        match (struct_name, path) {
            ("sock", []) => vec!["__sk_common".into(), "sk_rcvbuf".into(), "sk_sndbuf".into()],
            ("sock", ["__sk_common"]) => vec!["skc_daddr".into(), "skc_dport".into()],
            _ => Vec::new(),
        }
    }
    fn tracepoint_fields(&self, category: &str, name: &str) -> Vec<String> {
        match (category, name) {
            ("sock", "inet_sock_set_state") => vec!["oldstate".into(), "newstate".into(), "sport".into()],
            _ => Vec::new(),
        }
    }
    fn interfaces(&self) -> Vec<String> {
        vec!["lo".into(), "eth0".into()]
    }
}

fn words(line: &str) -> (usize, Vec<String>) {
    words_with(line, &[])
}

fn words_with(line: &str, maps: &[&str]) -> (usize, Vec<String>) {
    let maps: Vec<String> = maps.iter().map(|m| m.to_string()).collect();
    match complete(line, line.len(), &Fake::new(), &maps) {
        Completion::Words(start, w) => (start, w),
        Completion::File => panic!("file completion for {line:?}"),
    }
}

#[test]
fn providers_at_the_start_of_an_entry() {
    assert_eq!(words("tr"), (0, vec!["tracepoint:".to_string()]));
    let (_, all) = words("");
    assert!(all.contains(&"kprobe:".to_string()) && all.contains(&"print(".to_string()));
    // After a finished probe, a new one can start.
    assert_eq!(words("BEGIN { } E"), (10, vec!["END".to_string()]));
}

#[test]
fn tracepoint_categories_then_names() {
    assert_eq!(words("tracepoint:t"), (0, vec!["tracepoint:tcp:".to_string()]));
    assert_eq!(
        words("tracepoint:tcp:tcp_"),
        (0, vec!["tracepoint:tcp:tcp_retransmit_skb".to_string(), "tracepoint:tcp:tcp_send_reset".to_string()])
    );
    assert_eq!(words("t:sock:i"), (0, vec!["t:sock:inet_sock_set_state".to_string()]));
}

#[test]
fn kernel_functions_and_interfaces() {
    assert_eq!(words("kprobe:tcp_s"), (0, vec!["kprobe:tcp_sendmsg".to_string()]));
    assert_eq!(words("kprobe:t"), (0, Vec::new()), "one letter is too short a prefix");
    assert_eq!(words("tc:l"), (0, vec!["tc:lo:egress".to_string(), "tc:lo:ingress".to_string()]));
}

#[test]
fn every_alias_completes_like_its_provider() {
    // `rt:` completed nothing before the provider table.
    assert_eq!(words("rt:tcp_r"), (0, vec!["rt:tcp_retransmit_skb".to_string()]));
    assert_eq!(words("kretfunc:tcp_s"), (0, vec!["kretfunc:tcp_sendmsg".to_string()]));
    assert_eq!(words("i:h"), (0, vec!["i:hz:".to_string()]));
    // rawtracepoint: offers tracepoint names but not the syscall events,
    // which are no raw tracepoints.
    let fake = Fake { tps: vec![("syscalls".into(), "sys_enter_read".into()), ("sock".into(), "sock_rcvqueue_full".into())] };
    let Completion::Words(_, w) = complete("rawtracepoint:s", 15, &fake, &[]) else { panic!("file completion") };
    assert_eq!(w, ["rawtracepoint:sock_rcvqueue_full"]);
    // `args.` in a probe written with an alias is a tracepoint's fields too.
    let line = "t:sock:inet_sock_set_state { @[args.new";
    assert_eq!(words(line), (line.len() - 3, vec!["newstate".to_string()]));
}

#[test]
fn struct_names_after_the_keyword() {
    let line = "kprobe:tcp_sendmsg { $sk = (struct so";
    assert_eq!(words(line), (line.len() - 2, vec!["sock".to_string(), "sock_common".to_string()]));
}

#[test]
fn members_after_arrow_when_the_variable_type_is_known() {
    let line = "kprobe:tcp_sendmsg { $sk = (struct sock *)arg0; @[$sk->sk_";
    assert_eq!(words(line), (line.len() - 3, vec!["sk_rcvbuf".to_string(), "sk_sndbuf".to_string()]));
    let line = "kprobe:tcp_sendmsg { $sk = (struct sock *)arg0; @[$sk->__sk_common.";
    assert_eq!(words(line), (line.len(), vec!["skc_daddr".to_string(), "skc_dport".to_string()]));
    let line = "kprobe:tcp_sendmsg { $x = arg0; $x->";
    assert_eq!(words(line), (line.len(), Vec::new()), "unknown type: nothing to offer");
}

#[test]
fn tracepoint_args_fields() {
    let line = "tracepoint:sock:inet_sock_set_state { @[args.new";
    assert_eq!(words(line), (line.len() - 3, vec!["newstate".to_string()]));
    let line = "tracepoint:sock:inet_sock_set_state /args->sport == 80/ { @[args->";
    assert_eq!(words(line).1, vec!["newstate".to_string(), "oldstate".to_string(), "sport".to_string()]);
}

#[test]
fn maps_variables_and_builtins() {
    assert_eq!(words_with("print(@fl", &["flows", "states"]), (6, vec!["@flows".to_string()]));
    assert_eq!(words_with("t:a:b { @new = 1; @n", &["flows"]).1, vec!["@new".to_string()]);
    assert_eq!(words("t:a:b { $count = 1; $c").1, vec!["$count".to_string()]);
    let (start, w) = words("t:a:b { @[co");
    assert_eq!(start, 10);
    assert!(w.contains(&"comm".to_string()) && w.contains(&"count(".to_string()), "{w:?}");
    assert!(w.iter().all(|c| c.starts_with("co")));
}

#[test]
fn commands_and_their_arguments() {
    assert_eq!(words(".pr"), (0, vec![".probes".to_string()]));
    assert_eq!(words_with(".watch @s", &["flows", "states"]), (7, vec!["@states".to_string()]));
    assert_eq!(words(".detach a"), (8, vec!["all".to_string()]));
    assert_eq!(complete(".save /tm", 9, &Fake::new(), &[]), Completion::File);
}
