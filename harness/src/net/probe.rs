//! Probes: does a packet get from here to there? Made by threads that
//! `setns` into the namespaces (no external programs), so they see the
//! network exactly as the nodes do.
//!
//! - [`delivered`]: one-way UDP delivery between two namespaces. A
//!   listener in the receiver's namespace waits for a datagram carrying a
//!   fresh random nonce from the sender's address; the sender repeats it
//!   until it arrives or time is up. Nothing needs to come back, so a
//!   one-way partition shows as one way.
//! - [`reach`] / [`reaches`]: a TCP connect from inside a node to any
//!   address, telling "no route" from "answered" from "silence".

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::netns::{Endpoint, RunNet};
use super::NetError;

/// Whether a UDP datagram sent inside node `from`'s namespace to node
/// `to`'s address arrives in `to`'s namespace within `wait`.
pub fn delivered(net: &RunNet, from: usize, to: usize, wait: Duration) -> Result<bool, NetError> {
    delivered_between(net, Endpoint::Node(from), Endpoint::Node(to), wait)
}

/// [`delivered`] between any two endpoints, the harness included. Returns
/// as soon as a datagram arrives; a `false` takes the whole `wait`.
pub fn delivered_between(
    net: &RunNet,
    from: Endpoint,
    to: Endpoint,
    wait: Duration,
) -> Result<bool, NetError> {
    if from == to {
        return Err(NetError::Invalid(format!(
            "a delivery probe from {from} to itself proves nothing"
        )));
    }
    let (from_addr, to_addr) = (net.addr(from), net.addr(to));
    let nonce = nonce();
    let deadline = Instant::now() + wait;
    let (port_tx, port_rx) = mpsc::channel::<u16>();

    let listener = net.spawn_in(to, move || -> std::io::Result<bool> {
        let sock = UdpSocket::bind((to_addr, 0))?;
        let _ = port_tx.send(sock.local_addr()?.port());
        let mut buf = [0u8; 64];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
            match sock.recv_from(&mut buf) {
                // Only our nonce from the sender's address counts: a stray
                // datagram (an old probe's, anyone's) cannot fool it.
                Ok((n, src)) if buf[..n] == nonce && src.ip() == from_addr => return Ok(true),
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(e),
            }
        }
    })?;
    let port = match port_rx.recv() {
        Ok(port) => port,
        // The listener ended before binding: its error says why.
        Err(_) => {
            return Err(listener_result(listener.join(), to)
                .err()
                .unwrap_or_else(|| {
                    NetError::Invalid(format!(
                        "the probe listener in {to}'s namespace ended without a port"
                    ))
                }))
        }
    };

    // The sender repeats until the listener is done: dropping `stop`
    // wakes it at once.
    let (stop, stopped) = mpsc::channel::<()>();
    let sender = net.spawn_in(from, move || -> std::io::Result<u32> {
        let sock = UdpSocket::bind((from_addr, 0))?;
        let every = (wait / 10).clamp(Duration::from_millis(5), Duration::from_millis(100));
        let mut sent = 0;
        while Instant::now() < deadline {
            // A send may fail (no neighbour yet, a firewall reject): the
            // probe is about arrival, so it just tries again.
            if sock.send_to(&nonce, (to_addr, port)).is_ok() {
                sent += 1;
            }
            if stopped.recv_timeout(every) != Err(mpsc::RecvTimeoutError::Timeout) {
                break;
            }
        }
        Ok(sent)
    })?;
    let arrived = listener_result(listener.join(), to);
    drop(stop);
    let sent = match sender.join() {
        Ok(Ok(Ok(sent))) => sent,
        Ok(Ok(Err(e))) => {
            return Err(NetError::Io {
                what: format!("probe sender in {from}'s namespace"),
                source: e,
            })
        }
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            return Err(NetError::Invalid(format!(
                "the probe sender in {from}'s namespace panicked"
            )))
        }
    };
    let arrived = arrived?;
    tracing::trace!(run = net.run_id(), %from, %to, arrived, sent, "net: delivery probe");
    Ok(arrived)
}

type Joined<T> = std::thread::Result<Result<std::io::Result<T>, NetError>>;

fn listener_result(joined: Joined<bool>, to: Endpoint) -> Result<bool, NetError> {
    match joined {
        Ok(Ok(Ok(arrived))) => Ok(arrived),
        Ok(Ok(Err(e))) => Err(NetError::Io {
            what: format!("probe listener in {to}'s namespace"),
            source: e,
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(NetError::Invalid(format!(
            "the probe listener in {to}'s namespace panicked"
        ))),
    }
}

/// [`delivered`] for every ordered pair of nodes at once (so the whole
/// matrix takes about `wait`): `m[from][to]`, the diagonal `true`.
pub fn delivery_matrix(net: &RunNet, wait: Duration) -> Result<Vec<Vec<bool>>, NetError> {
    let n = net.nodes();
    let results: Vec<((usize, usize), Result<bool, NetError>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .flat_map(|a| (0..n).filter(move |&b| b != a).map(move |b| (a, b)))
            .map(|(a, b)| ((a, b), s.spawn(move || delivered(net, a, b, wait))))
            .collect();
        handles
            .into_iter()
            .map(|(pair, h)| {
                let r = h
                    .join()
                    .unwrap_or_else(|_| Err(NetError::Invalid("a delivery probe panicked".into())));
                (pair, r)
            })
            .collect()
    });
    let mut m = vec![vec![true; n]; n];
    for ((a, b), r) in results {
        m[a][b] = r?;
    }
    Ok(m)
}

/// What a TCP connect from inside a node got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Connected: something listens there.
    Connected,
    /// Refused: a host answered (with a reset), nothing listens.
    Refused,
    /// No route, or the neighbour did not answer ARP: the packet went
    /// nowhere. Holds the error.
    Unreachable(String),
    /// No answer within the wait.
    TimedOut,
}

/// Tries a TCP connect to `addr` from inside node `from`'s namespace,
/// giving up after `wait`.
pub fn reach(
    net: &RunNet,
    from: usize,
    addr: SocketAddr,
    wait: Duration,
) -> Result<Reach, NetError> {
    let wait = wait.max(Duration::from_millis(1));
    net.run_in(
        Endpoint::Node(from),
        move || match TcpStream::connect_timeout(&addr, wait) {
            Ok(_) => Reach::Connected,
            Err(e) => match e.kind() {
                ErrorKind::ConnectionRefused => Reach::Refused,
                ErrorKind::TimedOut | ErrorKind::WouldBlock => Reach::TimedOut,
                _ => Reach::Unreachable(e.to_string()),
            },
        },
    )
}

/// Whether a TCP connect to `addr` from inside node `from` gets an answer
/// from a host ([`Reach::Connected`] or [`Reach::Refused`]); no route
/// (`ENETUNREACH`), no neighbour, or silence is `false`.
pub fn reaches(
    net: &RunNet,
    from: usize,
    addr: SocketAddr,
    wait: Duration,
) -> Result<bool, NetError> {
    Ok(matches!(
        reach(net, from, addr, wait)?,
        Reach::Connected | Reach::Refused
    ))
}

/// 16 random bytes.
fn nonce() -> [u8; 16] {
    let mut b = [0u8; 16];
    // SAFETY: the buffer is valid for its length.
    let got = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if got != b.len() as isize {
        // Not secret, only fresh: time and a counter will do.
        static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        b[..8].copy_from_slice(&(t as u64).to_le_bytes());
        b[8..].copy_from_slice(&COUNT.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    }
    b
}
