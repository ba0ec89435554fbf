//! A temporary nftables table that drops a random share of the TCP packets to
//! one port: the way to get real retransmits on the host kernel, which has no
//! netem. The table is deleted when the guard drops, also when a test fails.

use std::process::Command;

/// An installed drop rule; dropping it deletes the whole table.
pub struct RandomDrop {
    table: String,
}

impl RandomDrop {
    /// Drops one in `one_in` TCP packets whose destination port is `port`, on
    /// input (loopback traffic passes the input hook once per packet).
    pub fn install(table: &str, port: u16, one_in: u32) -> Result<RandomDrop, String> {
        // A table left behind by a killed run would make `add table` a no-op
        // and stack a second rule; start from nothing.
        let _ = nft(&["delete", "table", "inet", table]);
        let guard = RandomDrop { table: table.to_string() };
        nft(&["add", "table", "inet", table])?;
        nft(&["add", "chain", "inet", table, "in", "{ type filter hook input priority 0; }"])?;
        let rule = format!("tcp dport {port} numgen random mod {one_in} == 0 drop");
        let mut args = vec!["add", "rule", "inet", table, "in"];
        args.extend(rule.split(' '));
        nft(&args)?;
        Ok(guard)
    }
}

impl Drop for RandomDrop {
    fn drop(&mut self) {
        if let Err(e) = nft(&["delete", "table", "inet", &self.table]) {
            eprintln!("warning: could not delete nftables table {}: {e}", self.table);
        }
    }
}

fn nft(args: &[&str]) -> Result<(), String> {
    let out = Command::new("nft").args(args).output().map_err(|e| format!("cannot run nft: {e} (run scripts/setup)"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("nft {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}
