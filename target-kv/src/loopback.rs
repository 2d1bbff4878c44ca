//! Addresses for a local cluster: each cluster gets a loopback host of its
//! own (`127.a.b.c`), with ports the OS says are free on it.
//!
//! Why not `127.0.0.1:0`, dropped and handed to the child: between the
//! probe and the child's `bind`, any outgoing connection on the machine may
//! take the port as its ephemeral source port (outgoing loopback
//! connections leave from 127.0.0.1), and another test picking ports at
//! the same moment may get it too. A node that cannot bind exits, and the
//! cluster silently runs one node short. On a host of its own a cluster
//! shares ports with nobody.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};

/// `count` distinct free addresses on one loopback host chosen at random
/// for this call (falling back to 127.0.0.1 where only that is
/// configured). The ports are probed together, so they are distinct.
pub fn spare_addrs(count: usize) -> std::io::Result<Vec<SocketAddr>> {
    let host = random_host();
    match probe(host, count) {
        Ok(addrs) => Ok(addrs),
        // Some systems only answer on 127.0.0.1 (e.g. macOS by default).
        Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => {
            probe(Ipv4Addr::LOCALHOST, count)
        }
        Err(e) => Err(e),
    }
}

fn probe(host: Ipv4Addr, count: usize) -> std::io::Result<Vec<SocketAddr>> {
    // All listeners stay open until every port is known: no repeats.
    let listeners = (0..count)
        .map(|_| TcpListener::bind(SocketAddr::new(IpAddr::V4(host), 0)))
        .collect::<std::io::Result<Vec<_>>>()?;
    listeners.iter().map(TcpListener::local_addr).collect()
}

/// A host in 127.1.0.1 to 127.254.255.254: away from 127.0.0.x, which other
/// programs use, and never a network or broadcast-looking address.
fn random_host() -> Ipv4Addr {
    // RandomState is seeded from the OS per process and varies per
    // instance: enough to keep concurrent clusters apart.
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    let r = h.finish();
    let a = 1 + (r % 254) as u8;
    let b = ((r >> 8) % 256) as u8;
    let c = 1 + ((r >> 16) % 254) as u8;
    Ipv4Addr::new(127, a, b, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_distinct_loopback_ports_on_one_host() {
        let addrs = spare_addrs(6).expect("addresses");
        assert_eq!(addrs.len(), 6);
        let host = addrs[0].ip();
        assert!(host.is_loopback(), "{host}");
        assert!(addrs.iter().all(|a| a.ip() == host && a.port() != 0));
        let ports: std::collections::BTreeSet<u16> = addrs.iter().map(|a| a.port()).collect();
        assert_eq!(ports.len(), 6, "{addrs:?}");
        // Each is free: it can be bound now.
        for a in &addrs {
            TcpListener::bind(a).expect("free");
        }
    }

    #[test]
    fn clusters_get_hosts_of_their_own() {
        let hosts: std::collections::BTreeSet<IpAddr> = (0..20)
            .map(|_| spare_addrs(1).expect("an address")[0].ip())
            .collect();
        assert!(hosts.len() > 1, "every call got {hosts:?}");
        assert!(!hosts.contains(&IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1))));
    }
}
