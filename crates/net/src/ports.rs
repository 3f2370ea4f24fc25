//! Free loopback ports for stations started on one machine (the demo, the tests).
//!
//! A port is bound and released, then the station binds it again: another process could
//! take it meanwhile, which then fails loudly when the station binds. Two precautions make
//! that rare. The ports are picked below the kernel's range of ephemeral ports (32768 and
//! up on Linux): a port the system hands out for `bind(0)` lies in that range, and any
//! outgoing connection on the machine may take it before the station binds it (the service
//! tests, many stations at once, met that). And one process never hands out the same port
//! twice, so tests picking ports at the same time in one test binary do not collide (the
//! dealing tests met that: two stations of two tests listed on one port).

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};

/// The lowest port tried.
const FIRST: u32 = 20_000;
/// How many ports above [`FIRST`] are tried (ending below 32768).
const SPAN: u32 = 12_000;

/// Ports this process handed out already.
fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static SET: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    SET.get_or_init(|| Mutex::new(HashSet::new()))
}

/// `n` distinct loopback ports that were free a moment ago and that this process has not
/// handed out before; an error when that many cannot be found.
pub fn free_loopback_ports(n: usize) -> Result<Vec<u16>, String> {
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    // Never zero (xorshift would stay at zero).
    let mut state = (clock ^ (u64::from(std::process::id()) << 32)) | 1;
    let mut given = handed_out()
        .lock()
        .map_err(|_| "the port list was poisoned by a panic".to_string())?;
    let mut held: Vec<TcpListener> = Vec::with_capacity(n);
    for _ in 0..(n * 200) {
        if held.len() == n {
            break;
        }
        // xorshift64: where to try next.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let port = (FIRST + (state % u64::from(SPAN)) as u32) as u16;
        if given.contains(&port) {
            continue;
        }
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
            given.insert(port);
            held.push(l);
        }
    }
    if held.len() < n {
        return Err(format!(
            "no {n} free loopback ports between {FIRST} and {}",
            FIRST + SPAN
        ));
    }
    held.iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<std::io::Result<_>>()
        .map_err(|e| format!("no free loopback port: {e}"))
}

/// One port of [`free_loopback_ports`].
pub fn free_loopback_port() -> Result<u16, String> {
    Ok(free_loopback_ports(1)?[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_below_the_ephemeral_range_and_never_repeat() {
        let mut all = HashSet::new();
        for _ in 0..50 {
            for p in free_loopback_ports(6).unwrap() {
                assert!((20_000..32_000).contains(&p), "{p}");
                assert!(all.insert(p), "port {p} handed out twice");
            }
        }
    }
}
