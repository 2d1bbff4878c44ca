//! Which run holds which subnet: one file per run in `/run/skeptic/net/`
//! (named by the run id, holding the owner's pid and the subnet), written
//! and read under an `flock` on `/run/skeptic/net/.lock`, and the choice
//! of a free /24 in 198.18.0.0/15.
//!
//! `/run` is a tmpfs: the registry, like the namespaces it describes, does
//! not survive a reboot.

use std::fmt;
use std::fs::{self, File};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::NetError;

/// The directory of the registry.
pub(crate) const DIR: &str = "/run/skeptic/net";

/// One /24 of 198.18.0.0/15, by index: 0 is 198.18.0.0/24, 511 is
/// 198.19.255.0/24.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Subnet(u16);

impl Subnet {
    /// How many /24s the range holds.
    pub const COUNT: u16 = 512;

    /// The subnet of that index, if in range.
    pub fn from_index(i: u16) -> Option<Subnet> {
        (i < Self::COUNT).then_some(Subnet(i))
    }

    /// Host `host` of the subnet (1..=254 are usable).
    pub fn addr(self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(198, 18 + (self.0 >> 8) as u8, (self.0 & 0xff) as u8, host)
    }

    /// Whether the subnet and the prefix `net/len` share any address.
    pub fn overlaps(self, net: Ipv4Addr, len: u8) -> bool {
        let shorter = len.min(24);
        let mask = if shorter == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(shorter))
        };
        (u32::from(self.addr(0)) & mask) == (u32::from(net) & mask)
    }

    /// Parses `198.18.X.0/24`.
    pub fn parse(s: &str) -> Option<Subnet> {
        let (addr, len) = s.split_once('/')?;
        let addr: Ipv4Addr = addr.parse().ok()?;
        let [a, b, c, d] = addr.octets();
        if len != "24" || a != 198 || !(18..=19).contains(&b) || d != 0 {
            return None;
        }
        Subnet::from_index((u16::from(b - 18) << 8) | u16::from(c))
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/24", self.addr(0))
    }
}

/// The first subnet, starting at `hint` and wrapping, that overlaps no
/// prefix in `used` and is not in `taken`.
pub(crate) fn choose_subnet(
    hint: u16,
    taken: &[Subnet],
    used: &[(Ipv4Addr, u8)],
) -> Option<Subnet> {
    (0..Subnet::COUNT)
        .map(|i| Subnet((hint % Subnet::COUNT + i) % Subnet::COUNT))
        .find(|s| !taken.contains(s) && !used.iter().any(|&(net, len)| s.overlaps(net, len)))
}

/// Parses the IPv4 prefixes out of `ip -4 -o addr show` and
/// `ip -4 route show table all` output: every address and every route
/// destination but the default route.
pub(crate) fn parse_prefixes(text: &str) -> Vec<(Ipv4Addr, u8)> {
    const ROUTE_TYPES: &[&str] = &[
        "unicast",
        "local",
        "broadcast",
        "multicast",
        "anycast",
        "blackhole",
        "unreachable",
        "prohibit",
        "throw",
        "nat",
    ];
    let mut out = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        // `ip -o addr`: "4: eth0    inet 192.0.2.2/24 brd ..."
        if let Some(i) = words.iter().position(|w| *w == "inet") {
            if let Some(p) = words.get(i + 1).and_then(|w| parse_prefix(w)) {
                out.push(p);
            }
            continue;
        }
        // `ip route`: "[type] dest ...", dest being `default` or a prefix.
        let mut it = words.iter().copied();
        let mut first = it.next();
        if first.is_some_and(|w| ROUTE_TYPES.contains(&w)) {
            first = it.next();
        }
        if let Some(p) = first.and_then(parse_prefix) {
            if p.1 > 0 {
                out.push(p);
            }
        }
    }
    out
}

fn parse_prefix(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, l.parse::<u8>().ok().filter(|l| *l <= 32)?),
        None => (s, 32),
    };
    Some((addr.parse().ok()?, len))
}

/// A run's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub id: String,
    pub pid: u32,
    /// The owner's start time (clock ticks since boot), to tell a reused pid.
    pub start: Option<u64>,
    pub subnet: Option<Subnet>,
    pub nodes: usize,
}

impl Entry {
    fn render(&self) -> String {
        let mut s = format!("id={}\npid={}\n", self.id, self.pid);
        if let Some(start) = self.start {
            s.push_str(&format!("start={start}\n"));
        }
        if let Some(subnet) = self.subnet {
            s.push_str(&format!("subnet={subnet}\n"));
        }
        s.push_str(&format!("nodes={}\n", self.nodes));
        s
    }

    fn parse(id: &str, text: &str) -> Entry {
        let mut e = Entry {
            id: id.to_string(),
            pid: 0,
            start: None,
            subnet: None,
            nodes: 0,
        };
        for line in text.lines() {
            match line.split_once('=') {
                Some(("pid", v)) => e.pid = v.trim().parse().unwrap_or(0),
                Some(("start", v)) => e.start = v.trim().parse().ok(),
                Some(("subnet", v)) => e.subnet = Subnet::parse(v.trim()),
                Some(("nodes", v)) => e.nodes = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
        e
    }

    /// Whether the process that made the run still runs.
    pub fn owner_alive(&self) -> bool {
        self.pid != 0
            && process_start(self.pid).is_some_and(|s| self.start.is_none_or(|want| want == s))
    }
}

/// The path of a run's record.
pub(crate) fn path(id: &str) -> PathBuf {
    Path::new(DIR).join(id)
}

/// An exclusive `flock` on the registry, held until dropped.
pub(crate) struct Lock {
    _file: File,
}

/// Takes the registry lock, waiting for it; makes the directory if needed.
pub(crate) fn lock() -> Result<Lock, NetError> {
    fs::create_dir_all(DIR).map_err(|source| NetError::Io {
        what: format!("creating {DIR}"),
        source,
    })?;
    let lock_path = Path::new(DIR).join(".lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| NetError::Io {
            what: format!("opening {}", lock_path.display()),
            source,
        })?;
    loop {
        // SAFETY: the fd is open for the lifetime of `file`.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(Lock { _file: file });
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(NetError::Io {
                what: format!("locking {}", lock_path.display()),
                source: err,
            });
        }
    }
}

/// Every run's record (unreadable files are skipped with a warning).
pub(crate) fn entries() -> Vec<Entry> {
    let Ok(dir) = fs::read_dir(DIR) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in dir.flatten() {
        let name = item.file_name().to_string_lossy().into_owned();
        if super::netns::validate_run_id(&name).is_err() {
            continue;
        }
        match fs::read_to_string(item.path()) {
            Ok(text) => out.push(Entry::parse(&name, &text)),
            Err(e) => {
                tracing::warn!(path = %item.path().display(), error = %e, "net: unreadable registry file")
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Writes this process's record of run `id`.
pub(crate) fn write(id: &str, subnet: Subnet, nodes: usize) -> Result<(), NetError> {
    let pid = std::process::id();
    let entry = Entry {
        id: id.to_string(),
        pid,
        start: process_start(pid),
        subnet: Some(subnet),
        nodes,
    };
    let p = path(id);
    fs::write(&p, entry.render()).map_err(|source| NetError::Io {
        what: format!("writing {}", p.display()),
        source,
    })
}

/// Removes run `id`'s record; a missing one is fine.
pub(crate) fn remove(id: &str) -> Result<(), NetError> {
    let p = path(id);
    match fs::remove_file(&p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(NetError::Io {
            what: format!("removing {}", p.display()),
            source,
        }),
    }
}

/// A process's start time in clock ticks since boot (field 22 of
/// `/proc/PID/stat`), or `None` if there is no such process.
pub(crate) fn process_start(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields
    // are counted after its last ')'. Field 3 is the first after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(22 - 3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_cover_the_benchmarking_range() {
        assert_eq!(Subnet(0).to_string(), "198.18.0.0/24");
        assert_eq!(Subnet(511).to_string(), "198.19.255.0/24");
        assert_eq!(Subnet(300).addr(254), Ipv4Addr::new(198, 19, 44, 254));
        assert_eq!(Subnet::from_index(512), None);
        for i in [0, 1, 255, 256, 511] {
            assert_eq!(Subnet::parse(&Subnet(i).to_string()), Some(Subnet(i)));
        }
        for bad in [
            "198.20.0.0/24",
            "198.18.0.1/24",
            "198.18.0.0/16",
            "10.0.0.0/24",
            "x",
        ] {
            assert_eq!(Subnet::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn overlap_is_by_the_shorter_prefix() {
        let s = Subnet(5); // 198.18.5.0/24
        assert!(s.overlaps(Ipv4Addr::new(198, 18, 5, 77), 32));
        assert!(s.overlaps(Ipv4Addr::new(198, 18, 5, 128), 25));
        assert!(s.overlaps(Ipv4Addr::new(198, 18, 0, 0), 15));
        assert!(s.overlaps(Ipv4Addr::new(0, 0, 0, 0), 0));
        assert!(!s.overlaps(Ipv4Addr::new(198, 18, 6, 0), 24));
        assert!(!s.overlaps(Ipv4Addr::new(192, 0, 2, 2), 24));
    }

    #[test]
    fn choice_skips_taken_and_host_used_subnets_and_wraps() {
        let used = [(Ipv4Addr::new(198, 18, 0, 0), 23)]; // indices 0 and 1
        assert_eq!(choose_subnet(0, &[], &used), Some(Subnet(2)));
        assert_eq!(choose_subnet(0, &[Subnet(2)], &used), Some(Subnet(3)));
        assert_eq!(choose_subnet(511, &[Subnet(511)], &used), Some(Subnet(2)));
        assert_eq!(
            choose_subnet(0, &[], &[(Ipv4Addr::new(198, 18, 0, 0), 15)]),
            None
        );
    }

    #[test]
    fn prefixes_come_from_addresses_and_routes_but_not_default() {
        let text = "\
4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\\       valid_lft forever
default via 192.0.2.1 dev eth0
198.18.7.0/24 dev sk-abc-h proto kernel scope link src 198.18.7.254
local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1
broadcast 192.0.2.255 dev eth0 table local proto kernel scope link
unreachable 198.19.0.0/16
";
        assert_eq!(
            parse_prefixes(text),
            vec![
                (Ipv4Addr::new(192, 0, 2, 2), 24),
                (Ipv4Addr::new(198, 18, 7, 0), 24),
                (Ipv4Addr::new(127, 0, 0, 1), 32),
                (Ipv4Addr::new(192, 0, 2, 255), 32),
                (Ipv4Addr::new(198, 19, 0, 0), 16),
            ]
        );
    }

    #[test]
    fn entries_round_trip_and_own_process_is_alive() {
        let me = std::process::id();
        let e = Entry {
            id: "ab1".into(),
            pid: me,
            start: process_start(me),
            subnet: Some(Subnet(9)),
            nodes: 3,
        };
        assert_eq!(Entry::parse("ab1", &e.render()), e);
        assert!(e.owner_alive());
        let reused = Entry {
            start: e.start.map(|s| s + 1),
            ..e.clone()
        };
        assert!(
            !reused.owner_alive(),
            "a pid with another start time is another process"
        );
        assert!(!Entry { pid: 0, ..e }.owner_alive());
    }
}
