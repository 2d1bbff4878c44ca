//! [`RunNet`]: one run's namespaces, bridge, veths and addresses; running
//! programs and threads inside them; and removing it all again.
//!
//! Names (all carry the run id, see [`clean`](super::clean)):
//!
//! | what | name | where |
//! |---|---|---|
//! | node k's namespace | `skeptic-<id>-n<k+1>` | `/run/netns/` |
//! | the switch namespace | `skeptic-<id>-sw` | `/run/netns/` |
//! | the bridge | `sk-<id>-br` | switch namespace |
//! | node k's port (peer: `eth0` in node k) | `sk-<id>-v<k+1>` | switch namespace |
//! | the harness's veth, with the host address | `sk-<id>-h` | root namespace |
//! | its peer, a bridge port | `sk-<id>-hb` | switch namespace |
//!
//! Node `k` is 0-based in the API and `n<k+1>` in names, logs and errors,
//! as elsewhere in the harness (its address ends in `k+1` too). A run id
//! is 1 to 6 characters of `[a-z0-9]`, so the longest interface name,
//! `sk-abcdef-v253`, has 14 of the 15 characters Linux allows.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Instant;

use super::registry::{self, Subnet};
use super::{cmd, firewall, netns_available, packet, NetError};

/// The most nodes a run can have: a /24 holds 254 hosts, one is the
/// harness's.
pub const MAX_NODES: usize = 253;

/// The longest run id.
pub const RUN_ID_MAX_LEN: usize = 6;

/// The prefix of every namespace a run makes.
pub const NAMESPACE_PREFIX: &str = "skeptic-";

/// The prefix of every interface a run makes.
pub const LINK_PREFIX: &str = "sk-";

/// The last octet of the harness's address in the run's /24; node k has
/// `k + 1`.
const HOST_OCTET: u8 = 254;

/// Checks that `id` is 1 to 6 characters of `[a-z0-9]`.
pub fn validate_run_id(id: &str) -> Result<(), NetError> {
    let bad = |reason: &str| {
        Err(NetError::BadRunId {
            id: id.to_string(),
            reason: reason.to_string(),
        })
    };
    if id.is_empty() || id.len() > RUN_ID_MAX_LEN {
        return bad("a run id has 1 to 6 characters (interface names are limited to 15)");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return bad("a run id is made of a-z and 0-9 only");
    }
    Ok(())
}

/// A fresh random run id of 6 characters of `[a-z0-9]`.
pub fn random_run_id() -> String {
    let mut bytes = [0u8; 8];
    // SAFETY: the buffer is valid for its length.
    let got = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    let mut n = if got == bytes.len() as isize {
        u64::from_le_bytes(bytes)
    } else {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        (nanos as u64) ^ (u64::from(std::process::id()) << 32)
    };
    let mut id = String::with_capacity(RUN_ID_MAX_LEN);
    for _ in 0..RUN_ID_MAX_LEN {
        id.push(char::from(
            b"abcdefghijklmnopqrstuvwxyz0123456789"[(n % 36) as usize],
        ));
        n /= 36;
    }
    id
}

/// Node `k`'s (0-based) namespace: `skeptic-<id>-n<k+1>`.
pub fn node_namespace_name(id: &str, k: usize) -> String {
    format!("{NAMESPACE_PREFIX}{id}-n{}", k + 1)
}

/// The switch namespace holding the bridge: `skeptic-<id>-sw`.
pub fn switch_namespace_name(id: &str) -> String {
    format!("{NAMESPACE_PREFIX}{id}-sw")
}

/// The bridge: `sk-<id>-br`.
pub fn bridge_name(id: &str) -> String {
    format!("{LINK_PREFIX}{id}-br")
}

/// Node `k`'s (0-based) bridge port: `sk-<id>-v<k+1>`.
pub fn port_name(id: &str, k: usize) -> String {
    format!("{LINK_PREFIX}{id}-v{}", k + 1)
}

/// The harness's veth in the root namespace: `sk-<id>-h`.
pub fn host_link_name(id: &str) -> String {
    format!("{LINK_PREFIX}{id}-h")
}

/// Its peer, a port of the bridge: `sk-<id>-hb`.
pub fn host_peer_name(id: &str) -> String {
    format!("{LINK_PREFIX}{id}-hb")
}

/// One end of a probe or a thread: the harness (the namespace the
/// [`RunNet`] was made in) or a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// The harness, at [`RunNet::host_addr`].
    Host,
    /// Node `k` (0-based), at [`RunNet::node_addr`].
    Node(usize),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Host => f.write_str("host"),
            Endpoint::Node(k) => write!(f, "n{}", k + 1),
        }
    }
}

/// One run's private network: a namespace per node on a bridge of its
/// own, the harness on it too, and the faults in force.
///
/// Made by [`RunNet::create`]; removed by [`RunNet::teardown`] or on drop.
/// Stop the processes running in the namespaces first: a namespace with
/// processes in it outlives `ip netns delete`.
#[derive(Debug)]
pub struct RunNet {
    id: String,
    subnet: Subnet,
    namespaces: Vec<String>,
    switch: String,
    firewall: firewall::Backend,
    /// The harness's own network namespace, for threads at [`Endpoint::Host`].
    host_ns: File,
    /// Per receiving node, the sources whose packets it drops now.
    dropped_from: Vec<BTreeSet<usize>>,
    packet: packet::Applied,
    torn_down: bool,
}

impl RunNet {
    /// Makes the network of run `run_id` (see [`validate_run_id`]) with
    /// `nodes` nodes, partitions made with the firewall tool found
    /// ([`firewall::Backend::detect`]).
    ///
    /// Fails with [`NetError::RunIdInUse`] when a registry file or a
    /// namespace or link of that id exists, and
    /// [`NetError::Unsupported`] when [`netns_available`] says no. On
    /// failure, whatever was made is removed.
    pub fn create(run_id: &str, nodes: usize) -> Result<RunNet, NetError> {
        Self::create_with(run_id, nodes, firewall::Backend::detect()?)
    }

    /// [`RunNet::create`] with the partition backend given.
    pub fn create_with(
        run_id: &str,
        nodes: usize,
        backend: firewall::Backend,
    ) -> Result<RunNet, NetError> {
        validate_run_id(run_id)?;
        if nodes == 0 || nodes > MAX_NODES {
            return Err(NetError::Invalid(format!(
                "a run network has 1 to {MAX_NODES} nodes, not {nodes}"
            )));
        }
        netns_available().map_err(|why| NetError::Unsupported {
            what: "network namespaces".into(),
            why,
        })?;
        backend.tool()?;
        let ip = cmd::tool("ip")?;
        let started = Instant::now();
        let _lock = registry::lock()?;
        if registry::path(run_id).exists() {
            return Err(NetError::RunIdInUse {
                id: run_id.to_string(),
                detail: format!("{} exists", registry::path(run_id).display()),
            });
        }
        let existing: Vec<String> = super::clean::names(run_id)
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        if !existing.is_empty() {
            return Err(NetError::RunIdInUse {
                id: run_id.to_string(),
                detail: existing.join(", "),
            });
        }
        let host_ns = File::open("/proc/thread-self/ns/net").map_err(|source| NetError::Io {
            what: "opening /proc/thread-self/ns/net".into(),
            source,
        })?;
        let mut taken: Vec<Subnet> = registry::entries()
            .into_iter()
            .filter_map(|e| e.subnet)
            .collect();
        let hint = fnv(run_id) % Subnet::COUNT;
        // Other runs take their subnet under the lock we hold; anything
        // else on the machine might add an address at any moment, so the
        // choice is checked again once our own address is up.
        for attempt in 1..=3 {
            let used = host_prefixes(ip, None)?;
            let subnet = registry::choose_subnet(hint, &taken, &used).ok_or_else(|| {
                NetError::NoFreeSubnet {
                    detail: format!(
                        "{} runs registered in {}, the rest used by host addresses or routes",
                        taken.len(),
                        registry::DIR
                    ),
                }
            })?;
            registry::write(run_id, subnet, nodes)?;
            let mut net = RunNet {
                id: run_id.to_string(),
                subnet,
                namespaces: (0..nodes).map(|k| node_namespace_name(run_id, k)).collect(),
                switch: switch_namespace_name(run_id),
                firewall: backend,
                host_ns: host_ns.try_clone().map_err(|source| NetError::Io {
                    what: "duplicating a fd".into(),
                    source,
                })?,
                dropped_from: vec![BTreeSet::new(); nodes],
                packet: packet::Applied::default(),
                torn_down: false,
            };
            if let Err(e) = net.build(ip) {
                net.teardown();
                return Err(e);
            }
            let clash = host_prefixes(ip, Some(&host_link_name(run_id)))?
                .into_iter()
                .find(|&(a, len)| subnet.overlaps(a, len));
            if let Some((a, len)) = clash {
                tracing::warn!(run = run_id, %subnet, clash = %format!("{a}/{len}"), attempt, "net: subnet taken meanwhile, trying another");
                net.teardown();
                taken.push(subnet);
                continue;
            }
            tracing::info!(run = run_id, %subnet, nodes, backend = backend.name(), elapsed_ms = started.elapsed().as_millis() as u64, "net: run network up");
            return Ok(net);
        }
        Err(NetError::NoFreeSubnet {
            detail: "three subnets in a row were taken by other programs while we set up".into(),
        })
    }

    /// Makes the namespaces, links and addresses (the registry file is
    /// written already).
    fn build(&self, ip: &Path) -> Result<(), NetError> {
        let id = &self.id;
        let (h, hb, br) = (host_link_name(id), host_peer_name(id), bridge_name(id));
        // Without IPv6 in the kernel there is no link-local address to
        // suppress (and `addrgenmode` would fail).
        let v6 = Path::new("/proc/sys/net/ipv6").exists();
        let no_v6 = |link: &str| {
            if v6 {
                format!("link set {link} addrgenmode none\n")
            } else {
                String::new()
            }
        };

        let mut root = String::new();
        for ns in std::iter::once(&self.switch).chain(&self.namespaces) {
            let _ = writeln!(root, "netns add {ns}");
        }
        let _ = writeln!(
            root,
            "link add {h} type veth peer name {hb} netns {}",
            self.switch
        );
        root.push_str(&no_v6(&h));
        let _ = writeln!(root, "addr add {}/24 dev {h}", self.host_addr());
        let _ = writeln!(root, "link set {h} up");
        cmd::run(ip, &["-b", "-"], Some(&root))?;

        let mut switch = String::new();
        let _ = writeln!(switch, "link add {br} type bridge stp_state 0");
        switch.push_str(&no_v6(&br));
        let _ = writeln!(switch, "link set {br} up");
        switch.push_str(&no_v6(&hb));
        let _ = writeln!(switch, "link set {hb} master {br} up");
        for (k, ns) in self.namespaces.iter().enumerate() {
            let port = port_name(id, k);
            let _ = writeln!(
                switch,
                "link add {port} type veth peer name eth0 netns {ns}"
            );
            switch.push_str(&no_v6(&port));
            let _ = writeln!(switch, "link set {port} master {br} up");
        }
        cmd::run(ip, &["-n", &self.switch, "-b", "-"], Some(&switch))?;

        for (k, ns) in self.namespaces.iter().enumerate() {
            let mut node = String::from("link set lo up\n");
            node.push_str(&no_v6("eth0"));
            let _ = writeln!(node, "addr add {}/24 dev eth0", self.node_addr(k));
            node.push_str("link set eth0 up\n");
            cmd::run(ip, &["-n", ns, "-b", "-"], Some(&node))?;
        }
        Ok(())
    }

    /// The run id carried in every name.
    pub fn run_id(&self) -> &str {
        &self.id
    }

    /// How many nodes the network has.
    pub fn nodes(&self) -> usize {
        self.namespaces.len()
    }

    /// The run's subnet, e.g. `198.18.7.0/24`.
    pub fn subnet(&self) -> String {
        self.subnet.to_string()
    }

    /// Node `node`'s (0-based) address on its `eth0`.
    ///
    /// # Panics
    /// If `node >= self.nodes()`.
    pub fn node_addr(&self, node: usize) -> Ipv4Addr {
        assert!(
            node < self.nodes(),
            "node {node} of a {}-node run network",
            self.nodes()
        );
        self.subnet.addr(node as u8 + 1)
    }

    /// The harness's own address, on `sk-<id>-h` in its namespace.
    pub fn host_addr(&self) -> Ipv4Addr {
        self.subnet.addr(HOST_OCTET)
    }

    /// The address of an endpoint.
    ///
    /// # Panics
    /// If a node index is out of range.
    pub fn addr(&self, at: Endpoint) -> Ipv4Addr {
        match at {
            Endpoint::Host => self.host_addr(),
            Endpoint::Node(k) => self.node_addr(k),
        }
    }

    /// Node `node`'s namespace name (`skeptic-<id>-n<node+1>`).
    ///
    /// # Panics
    /// If `node >= self.nodes()`.
    pub fn namespace(&self, node: usize) -> &str {
        &self.namespaces[node]
    }

    /// The switch namespace, holding the bridge (`skeptic-<id>-sw`).
    pub fn switch_namespace(&self) -> &str {
        &self.switch
    }

    /// The harness's interface in its own namespace (`sk-<id>-h`).
    pub fn host_link(&self) -> String {
        host_link_name(&self.id)
    }

    /// How partitions are made in this run.
    pub fn firewall(&self) -> firewall::Backend {
        self.firewall
    }

    /// Turns `program args` into `ip netns exec NS program args`, which
    /// runs it inside node `node`'s namespace. `ip` `setns`es and then
    /// `exec`s, so the pid of the spawned child is the program's:
    /// `SIGSTOP`/`SIGKILL` of the pid or its process group reach it, and
    /// `PR_SET_PDEATHSIG` set before the exec survives it.
    ///
    /// # Panics
    /// If `node >= self.nodes()`.
    pub fn wrap(&self, node: usize, program: &Path, args: &[String]) -> (PathBuf, Vec<String>) {
        let ip = cmd::tools()
            .ip
            .clone()
            .unwrap_or_else(|| PathBuf::from("ip"));
        let mut all = vec![
            "netns".to_string(),
            "exec".to_string(),
            self.namespaces[node].clone(),
        ];
        all.push(program.to_string_lossy().into_owned());
        all.extend(args.iter().cloned());
        (ip, all)
    }

    /// Makes `drops` the complete set of cut directed links: packets from
    /// `from` to `to` are dropped for each `(from, to)` in it, by a rule
    /// in `to`'s input chain matching `from`'s address. Traffic with the
    /// harness is never cut. Each namespace whose set changes is updated
    /// in one transaction (`nft -f` or `iptables-restore`); namespaces
    /// whose set is unchanged are not touched. An empty set heals.
    pub fn set_drops(&mut self, drops: &BTreeSet<(usize, usize)>) -> Result<(), NetError> {
        let n = self.nodes();
        for &(from, to) in drops {
            if from >= n || to >= n || from == to {
                return Err(NetError::Invalid(format!(
                    "cannot drop {from} → {to} in a {n}-node run network (node indices are 0-based, below {n}, and distinct)"
                )));
            }
        }
        for to in 0..n {
            let want: BTreeSet<usize> = drops
                .iter()
                .filter(|&&(_, t)| t == to)
                .map(|&(f, _)| f)
                .collect();
            if want == self.dropped_from[to] {
                continue;
            }
            let sources: Vec<Ipv4Addr> = want.iter().map(|&f| self.node_addr(f)).collect();
            firewall::apply(self.firewall, &self.namespaces[to], &sources)?;
            tracing::debug!(run = %self.id, node = to, from = ?want, "net: drops set");
            self.dropped_from[to] = want;
        }
        Ok(())
    }

    /// The directed links cut now, as last set by [`RunNet::set_drops`].
    pub fn drops(&self) -> BTreeSet<(usize, usize)> {
        self.dropped_from
            .iter()
            .enumerate()
            .flat_map(|(to, froms)| froms.iter().map(move |&from| (from, to)))
            .collect()
    }

    /// Puts the packet faults `faults` in force, replacing the previous
    /// ones (see [`packet::plan`] for how each is made). Checked and
    /// refused as a whole before anything changes: a fault this kernel
    /// cannot make ([`NetError::Unsupported`]), a node out of range or two
    /// faults on the same link ([`NetError::Invalid`]).
    pub fn set_packet(
        &mut self,
        faults: &[(packet::Links, packet::PacketSpec)],
    ) -> Result<(), NetError> {
        let addrs: Vec<Ipv4Addr> = (0..self.nodes()).map(|k| self.node_addr(k)).collect();
        let plan = packet::plan(faults, &addrs, packet::Capabilities::detect())?;
        packet::apply(&mut self.packet, &plan, &self.namespaces, &self.switch)?;
        tracing::debug!(run = %self.id, faults = faults.len(), "net: packet faults set");
        Ok(())
    }

    /// Removes every packet fault.
    pub fn clear_packet(&mut self) -> Result<(), NetError> {
        packet::clear(&mut self.packet, &self.namespaces, &self.switch)
    }

    /// Whether any packet fault of ours is in force, as the kernel reports
    /// it (not as remembered): a root qdisc on some node's `eth0`, or the
    /// loss table in the switch.
    pub fn packet_in_force(&self) -> Result<bool, NetError> {
        packet::in_force(&self.namespaces, &self.switch)
    }

    /// Runs `f` on a new thread inside `at`'s network namespace and
    /// returns its result: sockets it makes live there. (`setns` affects
    /// only the calling thread, which then ends.)
    pub fn run_in<T, F>(&self, at: Endpoint, f: F) -> Result<T, NetError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let handle = self.spawn_in(at, f)?;
        handle
            .join()
            .map_err(|_| NetError::Invalid(format!("a thread inside {at}'s namespace panicked")))?
    }

    /// Starts `f` on a new thread inside `at`'s network namespace.
    pub(crate) fn spawn_in<T, F>(
        &self,
        at: Endpoint,
        f: F,
    ) -> Result<JoinHandle<Result<T, NetError>>, NetError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let target = match at {
            Endpoint::Host => self.host_ns.try_clone().map_err(|source| NetError::Io {
                what: "duplicating a fd".into(),
                source,
            })?,
            Endpoint::Node(k) => {
                let k = self.check_node(k)?;
                let path = format!("/run/netns/{}", self.namespaces[k]);
                File::open(&path).map_err(|source| NetError::Io {
                    what: format!("opening {path}"),
                    source,
                })?
            }
        };
        std::thread::Builder::new()
            .name(format!("net-{}-{at}", self.id))
            .spawn(move || {
                enter(&target).map_err(|source| NetError::Io {
                    what: format!("entering {at}'s namespace (setns)"),
                    source,
                })?;
                Ok(f())
            })
            .map_err(|source| NetError::Io {
                what: "spawning a thread".into(),
                source,
            })
    }

    fn check_node(&self, k: usize) -> Result<usize, NetError> {
        if k < self.nodes() {
            Ok(k)
        } else {
            Err(NetError::Invalid(format!(
                "no node index {k} in a {}-node run network (0-based)",
                self.nodes()
            )))
        }
    }

    /// Removes every namespace, link and rule of the run, and its registry
    /// file. Idempotent; also done on drop. Errors are logged (a run whose
    /// removal failed keeps its registry file, so `skeptic clean` finds it
    /// once this process is gone).
    pub fn teardown(&mut self) {
        if self.torn_down {
            return;
        }
        self.torn_down = true;
        let started = Instant::now();
        let Ok(ip) = cmd::tool("ip") else {
            tracing::error!(run = %self.id, "net: cannot tear down: `ip` is gone");
            return;
        };
        let mut clean = true;
        // Deleting one end of a veth deletes the other; deleting a
        // namespace deletes the links in it (once no process holds it).
        if let Err(e) = cmd::run_delete(
            ip,
            &["link", "delete", &self.host_link()],
            &["Cannot find device"],
        ) {
            tracing::error!(run = %self.id, error = %e, "net: teardown");
            clean = false;
        }
        for ns in self.namespaces.iter().chain(std::iter::once(&self.switch)) {
            if let Err(e) =
                cmd::run_delete(ip, &["netns", "delete", ns], &["No such file or directory"])
            {
                tracing::error!(run = %self.id, error = %e, "net: teardown");
                clean = false;
            }
        }
        if clean {
            if let Err(e) = registry::remove(&self.id) {
                tracing::error!(run = %self.id, error = %e, "net: teardown");
            }
        }
        tracing::info!(run = %self.id, elapsed_ms = started.elapsed().as_millis() as u64, clean, "net: run network removed");
    }
}

impl Drop for RunNet {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Moves the calling thread into the network namespace `ns` (an open
/// `/run/netns/NAME` or `/proc/…/ns/net`).
fn enter(ns: &File) -> std::io::Result<()> {
    // SAFETY: the fd is open; setns changes only this thread's namespace.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Runs `f` on a new thread in a fresh, empty network namespace that
/// vanishes when the thread ends (nothing named, nothing to clean up).
/// Commands spawned by `f` run in that namespace too.
pub(crate) fn in_fresh_namespace<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    std::thread::Builder::new()
        .name("net-probe".into())
        .spawn(move || {
            // SAFETY: unshare with CLONE_NEWNET affects only this thread.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(f())
        })?
        .join()
        .map_err(|_| std::io::Error::other("thread panicked"))?
}

/// Whether this process may make network namespaces.
pub(crate) fn can_unshare_net() -> std::io::Result<()> {
    in_fresh_namespace(|| ())
}

/// The IPv4 prefixes in use in the harness's namespace (addresses and
/// routes), leaving out lines that mention the link `skip`.
fn host_prefixes(ip: &Path, skip: Option<&str>) -> Result<Vec<(Ipv4Addr, u8)>, NetError> {
    let mut text = cmd::run(ip, &["-4", "-o", "addr", "show"], None)?;
    text.push_str(&cmd::run(
        ip,
        &["-4", "route", "show", "table", "all"],
        None,
    )?);
    let kept: String = text
        .lines()
        .filter(|line| skip.is_none_or(|s| !line.split_whitespace().any(|w| w == s)))
        .flat_map(|l| [l, "\n"])
        .collect();
    Ok(registry::parse_prefixes(&kept))
}

/// FNV-1a, to spread runs over the range.
fn fnv(s: &str) -> u16 {
    let h = s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (h ^ (h >> 16) ^ (h >> 32) ^ (h >> 48)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_short_lowercase_alphanumerics() {
        for ok in ["a", "abc123", "000000"] {
            validate_run_id(ok).unwrap();
        }
        for bad in ["", "abcdefg", "ABC", "a-b", "a_b", "é", "a b"] {
            assert!(
                matches!(validate_run_id(bad), Err(NetError::BadRunId { .. })),
                "{bad:?}"
            );
        }
        for _ in 0..20 {
            let id = random_run_id();
            validate_run_id(&id).unwrap();
        }
        assert_ne!(random_run_id(), random_run_id());
    }

    #[test]
    fn interface_names_fit_in_15_characters() {
        let id = "abcdef";
        let k = MAX_NODES - 1;
        for name in [
            bridge_name(id),
            port_name(id, k),
            host_link_name(id),
            host_peer_name(id),
        ] {
            assert!(name.len() <= 15, "{name} has {} characters", name.len());
            assert!(name.starts_with(LINK_PREFIX) && name.contains(id));
        }
        assert_eq!(port_name(id, k), "sk-abcdef-v253");
        assert_eq!(node_namespace_name("ab1", 2), "skeptic-ab1-n3");
        assert_eq!(Endpoint::Node(0).to_string(), "n1");
        assert_eq!(switch_namespace_name("ab1"), "skeptic-ab1-sw");
    }

    #[test]
    fn commands_from_a_fresh_namespace_run_in_it() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 || cmd::tools().tc.is_none() {
            eprintln!("skipping: needs root and tc");
            return;
        }
        let tc = cmd::tool("tc").unwrap();
        let show = || cmd::run(tc, &["qdisc", "show", "dev", "lo"], None).unwrap();
        let before = show();
        // What netem_supported does, with a qdisc every kernel has.
        let inside = in_fresh_namespace(move || {
            cmd::run(
                tc,
                &["qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb"],
                None,
            )?;
            cmd::run(tc, &["qdisc", "show", "dev", "lo"], None)
        })
        .unwrap()
        .unwrap();
        assert!(inside.contains("qdisc htb 1: root"), "{inside}");
        assert_eq!(show(), before, "the host's lo was touched");
    }

    #[test]
    fn the_hint_spreads_ids() {
        let hints: BTreeSet<u16> = ["a", "b", "c", "t1", "t2", "t3"]
            .iter()
            .map(|s| fnv(s) % Subnet::COUNT)
            .collect();
        assert!(hints.len() >= 5, "{hints:?}");
    }
}
