//! Network interfaces of the current network namespace, and resolving a
//! `tc:IFACE:…` name or glob against them once, at start.

use flowtrace_kernel::glob::{closest, glob_match, is_glob};
use std::ffi::CStr;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub index: u32,
    pub name: String,
}

/// Every interface (`if_nameindex(3)`), sorted by index.
pub fn interfaces() -> std::io::Result<Vec<Interface>> {
    // SAFETY: if_nameindex returns a heap array terminated by a zero entry,
    // or NULL on failure; we read it up to the terminator and free it once.
    unsafe {
        let list = libc::if_nameindex();
        if list.is_null() {
            return Err(std::io::Error::last_os_error());
        }
        let mut out = Vec::new();
        let mut at = list;
        while (*at).if_index != 0 && !(*at).if_name.is_null() {
            let name = CStr::from_ptr((*at).if_name).to_string_lossy().into_owned();
            out.push(Interface { index: (*at).if_index, name });
            at = at.add(1);
        }
        libc::if_freenameindex(list);
        out.sort_by_key(|i| i.index);
        Ok(out)
    }
}

/// The interfaces `pattern` names. An unknown name or a glob matching
/// nothing is an error whose text lists the interfaces that exist (and the
/// closest name, for a typo).
pub fn resolve(pattern: &str, all: &[Interface]) -> Result<Vec<Interface>, (String, String)> {
    let found: Vec<Interface> = all.iter().filter(|i| glob_match(pattern, &i.name)).cloned().collect();
    if !found.is_empty() {
        return Ok(found);
    }
    let names: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
    let reason = if is_glob(pattern) {
        format!("no network interface matches '{pattern}'")
    } else {
        format!("there is no network interface '{pattern}' in this network namespace")
    };
    let mut hint = format!("interfaces here: {}", names.join(", "));
    if let Some(best) = closest(pattern, names.iter().copied(), 1).first() {
        hint = format!("did you mean '{best}'? {hint}");
    }
    Err((reason, hint))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> Vec<Interface> {
        ["lo", "eth0", "veth1a2b", "veth9", "lxc0"]
            .iter()
            .enumerate()
            .map(|(i, n)| Interface { index: i as u32 + 1, name: n.to_string() })
            .collect()
    }

    #[test]
    fn names_and_globs_resolve() {
        let all = list();
        assert_eq!(resolve("eth0", &all).unwrap(), vec![all[1].clone()]);
        let veths: Vec<String> = resolve("veth*", &all).unwrap().into_iter().map(|i| i.name).collect();
        assert_eq!(veths, ["veth1a2b", "veth9"]);
        assert_eq!(resolve("*", &all).unwrap().len(), 5);
    }

    #[test]
    fn unknown_interfaces_list_what_exists() {
        let (reason, hint) = resolve("eth1", &list()).unwrap_err();
        assert_eq!(reason, "there is no network interface 'eth1' in this network namespace");
        assert!(hint.starts_with("did you mean 'eth0'?"), "{hint}");
        assert!(hint.contains("lo, eth0, veth1a2b, veth9, lxc0"), "{hint}");
        let (reason, _) = resolve("cali*", &list()).unwrap_err();
        assert_eq!(reason, "no network interface matches 'cali*'");
    }

    #[test]
    fn this_host_has_loopback() {
        let all = interfaces().unwrap();
        assert!(all.iter().any(|i| i.name == "lo" && i.index == 1), "{all:?}");
    }
}
