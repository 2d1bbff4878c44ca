//! Packet faults: delay, jitter, loss, duplication, reordering,
//! corruption and bandwidth limits on chosen links.
//!
//! A fault is a [`PacketSpec`] (parsed from
//! `delay=50ms,jitter=10ms,loss=5%,rate=1mbit,...`) aimed at [`Links`].
//! [`plan`] turns faults into commands, without touching anything (so it
//! is tested without root); [`RunNet::set_packet`](super::RunNet::set_packet)
//! runs them.
//!
//! # How a fault is made
//!
//! On the egress of each sending node's `eth0`: a root HTB qdisc whose
//! unclassified traffic goes out unshaped (HTB's direct queue, as no
//! default class is named), one class per fault, and u32 filters on the
//! IPv4 destination sending only the aimed links' packets to that class.
//! ARP is never classified, so it is never delayed or lost. The class's
//! leaf qdisc does the work:
//!
//! - with `sch_netem` in the kernel ([`netem_supported`]): `netem` with
//!   every parameter of the spec, the bandwidth as netem's `rate`;
//! - without it: `tbf` for the bandwidth; loss by an `nft` bridge-family
//!   table in the switch namespace (`numgen random mod 10000 < N drop` on
//!   the aimed source/destination pairs, so 0.01% steps); delay, jitter,
//!   duplication, reordering and corruption are refused with
//!   [`NetError::Unsupported`].
//!
//! What a fault hits:
//!
//! - [`Links::Node`] / [`Links::Nodes`]: everything each listed node sends,
//!   to any node or to the harness (as `tc qdisc add dev eth0 root netem`
//!   on a machine does); what it receives is untouched.
//! - [`Links::Between`]: traffic between the groups, in both directions;
//!   traffic within a group, and with the harness, is untouched.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{cmd, NetError};

/// The nftables table (bridge family, in the switch namespace) that makes
/// loss without netem.
pub const NFT_TABLE: &str = "skeptic_packet";

/// netem's queue limit in packets (its default, 1000, drops packets of a
/// busy link under a delay of tens of milliseconds).
const NETEM_LIMIT: u32 = 100_000;

/// The rate of an HTB class that only classifies: far above what a veth
/// carries, so it never shapes.
const UNSHAPED: &str = "rate 100gbit ceil 100gbit burst 1048576 cburst 1048576 quantum 60000";

/// How long a packet may wait in a `tbf` bandwidth limit before it is
/// dropped.
const TBF_LATENCY: &str = "200ms";

/// Which links a packet fault hits; nodes are 0-based.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Links {
    /// Everything one node sends.
    Node(usize),
    /// Everything each of these nodes sends (a minority, say).
    Nodes(Vec<usize>),
    /// Only traffic between the two groups, both directions.
    Between(Vec<usize>, Vec<usize>),
}

impl Links {
    /// The directed links hit: `(from, Some(to))`, or `(from, None)` for
    /// everything `from` sends. Checks node indices against `nodes`.
    pub fn directed(&self, nodes: usize) -> Result<Vec<(usize, Option<usize>)>, NetError> {
        let check = |group: &[usize], what: &str| -> Result<BTreeSet<usize>, NetError> {
            if group.is_empty() {
                return Err(NetError::Invalid(format!(
                    "packet fault on {self}: {what} is empty"
                )));
            }
            if let Some(bad) = group.iter().find(|&&k| k >= nodes) {
                return Err(NetError::Invalid(format!(
                    "packet fault on {self}: no node index {bad} in a {nodes}-node run network (0-based)"
                )));
            }
            Ok(group.iter().copied().collect())
        };
        Ok(match self {
            Links::Node(k) => check(&[*k], "the node list")?
                .into_iter()
                .map(|k| (k, None))
                .collect(),
            Links::Nodes(ks) => check(ks, "the node list")?
                .into_iter()
                .map(|k| (k, None))
                .collect(),
            Links::Between(a, b) => {
                let (a, b) = (check(a, "the first group")?, check(b, "the second group")?);
                if let Some(both) = a.intersection(&b).next() {
                    return Err(NetError::Invalid(format!(
                        "packet fault on {self}: n{} is in both groups",
                        both + 1
                    )));
                }
                let there = a.iter().flat_map(|&x| b.iter().map(move |&y| (x, Some(y))));
                let back = b.iter().flat_map(|&y| a.iter().map(move |&x| (y, Some(x))));
                there.chain(back).collect()
            }
        })
    }
}

impl fmt::Display for Links {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |ks: &[usize]| {
            ks.iter()
                .map(|k| format!("n{}", k + 1))
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            Links::Node(k) => write!(f, "n{}", k + 1),
            Links::Nodes(ks) => write!(f, "{}", list(ks)),
            Links::Between(a, b) => write!(f, "{} <-> {}", list(a), list(b)),
        }
    }
}

/// The shape of delay jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Distribution {
    /// Normal.
    Normal,
    /// Pareto.
    Pareto,
    /// A mix of normal and Pareto.
    ParetoNormal,
    /// Uniform (netem's own shape when none is named).
    Uniform,
}

impl Distribution {
    const ALL: [Distribution; 4] = [
        Distribution::Normal,
        Distribution::Pareto,
        Distribution::ParetoNormal,
        Distribution::Uniform,
    ];

    /// The name used in specs and by `tc`.
    pub fn as_str(self) -> &'static str {
        match self {
            Distribution::Normal => "normal",
            Distribution::Pareto => "pareto",
            Distribution::ParetoNormal => "paretonormal",
            Distribution::Uniform => "uniform",
        }
    }
}

/// A percentage with four decimals (parts per million), e.g. `0.1%`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Percent(u32);

impl Percent {
    /// 100%.
    pub const ALL: Percent = Percent(1_000_000);

    /// From parts per million (capped at 100%).
    pub fn from_ppm(ppm: u32) -> Percent {
        Percent(ppm.min(1_000_000))
    }

    /// Parts per million.
    pub fn ppm(self) -> u32 {
        self.0
    }

    /// Whether it is 0%.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / 10_000, self.0 % 10_000);
        if frac == 0 {
            write!(f, "{whole}%")
        } else {
            write!(f, "{whole}.{}%", format!("{frac:04}").trim_end_matches('0'))
        }
    }
}

/// A bandwidth in bits per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rate(u64);

impl Rate {
    /// From bits per second.
    pub fn from_bits_per_s(bits: u64) -> Rate {
        Rate(bits)
    }

    /// Bits per second.
    pub fn bits_per_s(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, scale) in [
            ("tbit", 1_000_000_000_000),
            ("gbit", 1_000_000_000),
            ("mbit", 1_000_000),
            ("kbit", 1_000),
        ] {
            if self.0 >= scale && self.0.is_multiple_of(scale) {
                return write!(f, "{}{unit}", self.0 / scale);
            }
        }
        write!(f, "{}bit", self.0)
    }
}

/// One packet fault. Zero fields are off. Parsed from and shown as
/// `delay=50ms,jitter=10ms,distribution=normal,loss=5%,duplicate=1%,reorder=10%,corrupt=0.1%,rate=1mbit`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PacketSpec {
    /// Added delay.
    pub delay: Duration,
    /// Random variation of the delay (needs `delay`).
    pub jitter: Duration,
    /// The jitter's shape (needs `jitter`); netem's uniform when `None`.
    pub distribution: Option<Distribution>,
    /// Packets lost.
    pub loss: Percent,
    /// Packets sent twice.
    pub duplicate: Percent,
    /// Packets sent at once, ahead of delayed ones (needs `delay`).
    pub reorder: Percent,
    /// Packets with a flipped bit.
    pub corrupt: Percent,
    /// Bandwidth limit.
    pub rate: Option<Rate>,
}

const KEYS: &str = "delay, jitter, distribution, loss, duplicate, reorder, corrupt, rate";

impl PacketSpec {
    /// The percentages that are set, by the name netem and the spec share.
    fn percents(&self) -> impl Iterator<Item = (&'static str, Percent)> {
        [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
            ("corrupt", self.corrupt),
        ]
        .into_iter()
        .filter(|(_, p)| !p.is_zero())
    }

    /// Whether the spec needs `sch_netem` (anything but loss and rate).
    pub fn needs_netem(&self) -> bool {
        !self.delay.is_zero()
            || !self.jitter.is_zero()
            || self.distribution.is_some()
            || !self.duplicate.is_zero()
            || !self.reorder.is_zero()
            || !self.corrupt.is_zero()
    }

    /// Whether every field is off.
    pub fn is_noop(&self) -> bool {
        !self.needs_netem() && self.loss.is_zero() && self.rate.is_none()
    }

    /// The `netem` parameters for this spec (after `netem`), bandwidth
    /// included.
    pub fn netem_args(&self) -> String {
        let mut s = format!("limit {NETEM_LIMIT}");
        if !self.delay.is_zero() {
            let _ = write!(s, " delay {}", tc_time(self.delay));
            if !self.jitter.is_zero() {
                let _ = write!(s, " {}", tc_time(self.jitter));
                // netem's jitter is uniform unless a table is named, and
                // there is no table named uniform.
                if let Some(d) = self.distribution.filter(|d| *d != Distribution::Uniform) {
                    let _ = write!(s, " distribution {}", d.as_str());
                }
            }
        }
        for (name, p) in self.percents() {
            let _ = write!(s, " {name} {p}");
        }
        if let Some(r) = self.rate {
            let _ = write!(s, " rate {}bit", r.bits_per_s());
        }
        s
    }

    fn check(&self, spec: &str) -> Result<(), NetError> {
        let bad = |reason: &str| {
            Err(NetError::BadSpec {
                spec: spec.to_string(),
                reason: reason.to_string(),
            })
        };
        if !self.jitter.is_zero() && self.delay.is_zero() {
            return bad("jitter needs a delay (e.g. delay=50ms,jitter=10ms)");
        }
        if self.distribution.is_some() && self.jitter.is_zero() {
            return bad("distribution shapes the jitter: give jitter too (e.g. delay=50ms,jitter=10ms,distribution=normal)");
        }
        if !self.reorder.is_zero() && self.delay.is_zero() {
            return bad("reorder needs a delay: reordered packets are the ones sent without it (e.g. delay=10ms,reorder=25%)");
        }
        Ok(())
    }
}

impl FromStr for PacketSpec {
    type Err = NetError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let bad = |reason: String| NetError::BadSpec {
            spec: spec.to_string(),
            reason,
        };
        if spec.trim().is_empty() {
            return Err(bad(format!(
                "empty; give one or more key=value of {KEYS}, comma-separated"
            )));
        }
        let mut out = PacketSpec::default();
        let mut seen = BTreeSet::new();
        for item in spec.split(',').map(str::trim) {
            let (key, value) = item
                .split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .ok_or_else(|| bad(format!("`{item}` is not key=value (keys: {KEYS})")))?;
            if !seen.insert(key) {
                return Err(bad(format!("`{key}` is given twice")));
            }
            let value_error = |expected: &str| bad(format!("{key}=`{value}`: expected {expected}"));
            match key {
                "delay" => {
                    out.delay = parse_duration(value).ok_or_else(|| value_error(DURATION_FORMS))?
                }
                "jitter" => {
                    out.jitter = parse_duration(value).ok_or_else(|| value_error(DURATION_FORMS))?
                }
                "distribution" => {
                    out.distribution = Some(
                        Distribution::ALL
                            .into_iter()
                            .find(|d| d.as_str() == value)
                            .ok_or_else(|| {
                                value_error("normal, pareto, paretonormal or uniform")
                            })?,
                    )
                }
                "loss" => {
                    out.loss = parse_percent(value).ok_or_else(|| value_error(PERCENT_FORMS))?
                }
                "duplicate" => {
                    out.duplicate =
                        parse_percent(value).ok_or_else(|| value_error(PERCENT_FORMS))?
                }
                "reorder" => {
                    out.reorder = parse_percent(value).ok_or_else(|| value_error(PERCENT_FORMS))?
                }
                "corrupt" => {
                    out.corrupt = parse_percent(value).ok_or_else(|| value_error(PERCENT_FORMS))?
                }
                "rate" => {
                    out.rate = Some(parse_rate(value).ok_or_else(|| value_error(RATE_FORMS))?)
                }
                other => return Err(bad(format!("unknown key `{other}` (keys: {KEYS})"))),
            }
        }
        out.check(spec)?;
        Ok(out)
    }
}

impl fmt::Display for PacketSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.delay.is_zero() {
            parts.push(format!("delay={}", tc_time(self.delay)));
        }
        if !self.jitter.is_zero() {
            parts.push(format!("jitter={}", tc_time(self.jitter)));
        }
        if let Some(d) = self.distribution {
            parts.push(format!("distribution={}", d.as_str()));
        }
        for (name, p) in self.percents() {
            parts.push(format!("{name}={p}"));
        }
        if let Some(r) = self.rate {
            parts.push(format!("rate={r}"));
        }
        if parts.is_empty() {
            // A spec with everything off still has to parse back.
            parts.push("loss=0%".into());
        }
        f.write_str(&parts.join(","))
    }
}

impl Serialize for PacketSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PacketSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

const DURATION_FORMS: &str = "a duration with a unit: 500us, 50ms, 1.5s";
const PERCENT_FORMS: &str = "a percentage from 0 to 100 with up to 4 decimals: 5%, 0.1%";
const RATE_FORMS: &str =
    "a bandwidth with a unit: 500kbit, 1mbit, 1gbit (bits per second) or 100kbps, 1mbps (bytes per second)";

/// `digits[.digits]` times `scale` over 10^decimals, exactly; `None` if
/// not a number, too precise for `scale`, or too big.
fn parse_decimal(s: &str, scale: u64) -> Option<u64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let int: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut value = int.checked_mul(scale)?;
    let mut unit = scale;
    for digit in frac.bytes() {
        if !unit.is_multiple_of(10) {
            return None;
        }
        unit /= 10;
        value = value.checked_add(u64::from(digit - b'0') * unit)?;
    }
    Some(value)
}

fn split_unit(s: &str) -> (&str, &str) {
    let at = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    s.split_at(at)
}

/// `500us`, `50ms`, `1.5s`; microsecond resolution.
fn parse_duration(s: &str) -> Option<Duration> {
    let (number, unit) = split_unit(s);
    let micros_per = match unit {
        "us" => 1,
        "ms" => 1_000,
        "s" => 1_000_000,
        _ => return None,
    };
    parse_decimal(number, micros_per).map(Duration::from_micros)
}

/// `5%`, `0.1%`, `5` (0 to 100, four decimals).
fn parse_percent(s: &str) -> Option<Percent> {
    let number = s.strip_suffix('%').unwrap_or(s);
    let ppm = parse_decimal(number, 10_000)?;
    (ppm <= 1_000_000).then_some(Percent(ppm as u32))
}

/// `1mbit`, `500kbit`, `2mbps`... (tc's units: `bit` is bits, `bps` bytes
/// per second, k/m/g/t powers of 1000). At least 8 bit/s.
fn parse_rate(s: &str) -> Option<Rate> {
    let (number, unit) = split_unit(s);
    let unit = unit.to_ascii_lowercase();
    let (prefix, bits_per) = if let Some(p) = unit.strip_suffix("bit") {
        (p, 1)
    } else if let Some(p) = unit.strip_suffix("bps") {
        (p, 8)
    } else {
        return None;
    };
    let scale: u64 = match prefix {
        "" => 1,
        "k" => 1_000,
        "m" => 1_000_000,
        "g" => 1_000_000_000,
        "t" => 1_000_000_000_000,
        _ => return None,
    };
    let bits = parse_decimal(number, scale.checked_mul(bits_per)?)?;
    (bits >= 8).then_some(Rate(bits))
}

/// A duration as tc reads it: whole milliseconds as `ms`, else `us`.
fn tc_time(d: Duration) -> String {
    let us = d.as_micros();
    if us.is_multiple_of(1000) {
        format!("{}ms", us / 1000)
    } else {
        format!("{us}us")
    }
}

/// What the kernel and tools can do, for [`plan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The kernel has `sch_netem`.
    pub netem: bool,
    /// The `nft` tool is installed (for loss without netem).
    pub nft: bool,
}

impl Capabilities {
    /// This machine's.
    pub fn detect() -> Capabilities {
        Capabilities {
            netem: netem_supported(),
            nft: cmd::tools().nft.is_some(),
        }
    }
}

/// The commands that put a set of packet faults in force.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Per node: `tc -batch` lines for its `eth0`, run in its namespace.
    pub tc: BTreeMap<usize, Vec<String>>,
    /// `nft -f` input for the switch namespace (loss without netem).
    pub bridge_nft: Option<String>,
}

/// Renders `faults` on a run whose node `k` has address `addrs[k]`: the
/// `tc` lines per node and the `nft` table for the switch. Refuses, before
/// anything is touched, a node out of range, two faults aimed at the same
/// directed link ([`NetError::Invalid`]) and what `caps` cannot make
/// ([`NetError::Unsupported`]).
pub fn plan(
    faults: &[(Links, PacketSpec)],
    addrs: &[Ipv4Addr],
    caps: Capabilities,
) -> Result<Plan, NetError> {
    if faults.len() > 0xff00 {
        return Err(NetError::Invalid(format!(
            "{} packet faults at once is too many",
            faults.len()
        )));
    }
    // Who sends where, per fault; and no directed link hit twice.
    let mut aimed: Vec<BTreeMap<usize, Option<BTreeSet<usize>>>> = Vec::new();
    let mut owner: BTreeMap<(usize, Option<usize>), usize> = BTreeMap::new();
    for (i, (links, spec)) in faults.iter().enumerate() {
        let mut from: BTreeMap<usize, Option<BTreeSet<usize>>> = BTreeMap::new();
        for (src, dst) in links.directed(addrs.len())? {
            let clash = match dst {
                None => owner
                    .range((src, None)..=(src, Some(usize::MAX)))
                    .next()
                    .map(|(_, &j)| j),
                Some(d) => owner
                    .get(&(src, None))
                    .or_else(|| owner.get(&(src, Some(d))))
                    .copied(),
            };
            if let Some(j) = clash.filter(|&j| j != i) {
                return Err(NetError::Invalid(format!(
                    "packet faults on {} and on {links} both hit traffic from n{}{}: give each link one fault",
                    faults[j].0,
                    src + 1,
                    dst.map_or(String::new(), |d| format!(" to n{}", d + 1))
                )));
            }
            owner.insert((src, dst), i);
            match dst {
                None => {
                    from.insert(src, None);
                }
                Some(d) => {
                    if let Some(set) = from.entry(src).or_insert_with(|| Some(BTreeSet::new())) {
                        set.insert(d);
                    }
                }
            }
        }
        check_supported(spec, caps)?;
        aimed.push(from);
    }

    let mut plan = Plan::default();
    let mut loss_rules = Vec::new();
    for (i, ((_, spec), from)) in faults.iter().zip(&aimed).enumerate() {
        let netem_leaf = caps.netem && !spec.is_noop();
        let tbf_leaf = !caps.netem && spec.rate.is_some();
        let class = format!("1:{:x}", i + 1);
        let handle = format!("{:x}:", i + 0x10);
        for (&src, dsts) in from {
            if netem_leaf || tbf_leaf {
                let lines = plan
                    .tc
                    .entry(src)
                    .or_insert_with(|| vec!["qdisc add dev eth0 root handle 1: htb".to_string()]);
                lines.push(format!(
                    "class add dev eth0 parent 1: classid {class} htb {UNSHAPED}"
                ));
                let leaf = if netem_leaf {
                    format!("netem {}", spec.netem_args())
                } else {
                    let rate = spec.rate.map_or(0, Rate::bits_per_s);
                    format!(
                        "tbf rate {rate}bit burst {} latency {TBF_LATENCY}",
                        tbf_burst_bytes(rate)
                    )
                };
                lines.push(format!(
                    "qdisc add dev eth0 parent {class} handle {handle} {leaf}"
                ));
                let prio = i + 1;
                match dsts {
                    None => lines.push(format!(
                        "filter add dev eth0 parent 1: protocol ip prio {prio} u32 match u32 0 0 flowid {class}"
                    )),
                    Some(dsts) => lines.extend(dsts.iter().map(|&d| {
                        format!(
                            "filter add dev eth0 parent 1: protocol ip prio {prio} u32 match ip dst {}/32 flowid {class}",
                            addrs[d]
                        )
                    })),
                }
            }
            if !caps.netem && !spec.loss.is_zero() {
                let dst = match dsts {
                    None => String::new(),
                    Some(ds) => format!(
                        " ip daddr {{ {} }}",
                        ds.iter()
                            .map(|&d| addrs[d].to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                // nft wants the bound below the modulus: 100% is a plain drop.
                let chance = match spec.loss {
                    Percent::ALL => String::new(),
                    p => format!(" numgen random mod 10000 < {}", p.ppm() / 100),
                };
                loss_rules.push(format!("ip saddr {}{dst}{chance} counter drop", addrs[src]));
            }
        }
    }
    if !loss_rules.is_empty() {
        let mut text = format!("table bridge {NFT_TABLE}\ndelete table bridge {NFT_TABLE}\n");
        let _ = writeln!(text, "table bridge {NFT_TABLE} {{\n\tchain forward {{\n\t\ttype filter hook forward priority 0; policy accept;");
        for rule in &loss_rules {
            let _ = writeln!(text, "\t\t{rule}");
        }
        text.push_str("\t}\n}\n");
        plan.bridge_nft = Some(text);
    }
    Ok(plan)
}

/// Whether this kernel and these tools can make `spec`: checked before a
/// run starts, so a fault that cannot be made is refused, not discovered
/// mid-run.
pub fn check_supported(spec: &PacketSpec, caps: Capabilities) -> Result<(), NetError> {
    if caps.netem {
        return Ok(());
    }
    if spec.needs_netem() {
        return Err(NetError::Unsupported {
            what: format!("packet fault `{spec}`"),
            why: "this kernel lacks sch_netem (CONFIG_NET_SCH_NETEM), which delay, jitter, distribution, \
                  duplicate, reorder and corrupt need; loss= and rate= work without it"
                .into(),
        });
    }
    if !spec.loss.is_zero() && !caps.nft {
        return Err(NetError::Unsupported {
            what: format!("packet fault `{spec}`"),
            why:
                "loss needs sch_netem (CONFIG_NET_SCH_NETEM) or the `nft` tool, and neither is here"
                    .into(),
        });
    }
    if !spec.loss.ppm().is_multiple_of(100) {
        return Err(NetError::Unsupported {
            what: format!("packet fault `{spec}`"),
            why: "without sch_netem (CONFIG_NET_SCH_NETEM) loss is made by nftables in steps of 0.01%".into(),
        });
    }
    Ok(())
}

/// tbf's bucket: 10 ms at the rate, at least two full frames, at most 1 MiB.
fn tbf_burst_bytes(bits_per_s: u64) -> u64 {
    (bits_per_s / 8 / 100).clamp(3028, 1 << 20)
}

/// Whether this kernel has `sch_netem`: tried once per process by adding
/// a netem qdisc to `lo` in a throwaway namespace (made with `unshare` on
/// a thread, so there is nothing to clean up).
pub fn netem_supported() -> bool {
    static NETEM: OnceLock<bool> = OnceLock::new();
    *NETEM.get_or_init(|| {
        let Ok(tc) = cmd::tool("tc") else { return false };
        let found = super::netns::in_fresh_namespace(move || {
            cmd::run(tc, &["qdisc", "add", "dev", "lo", "root", "handle", "1:", "netem", "delay", "1ms"], None)
        });
        match found {
            Ok(Ok(_)) => true,
            Ok(Err(e)) => {
                tracing::info!(error = %e, "net: no sch_netem; packet faults limited to loss and rate");
                false
            }
            Err(e) => {
                tracing::info!(error = %e, "net: cannot probe for sch_netem");
                false
            }
        }
    })
}

/// What [`apply`] left in force, so the next change can undo it.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// Nodes whose `eth0` has a root qdisc of ours.
    tc_nodes: BTreeSet<usize>,
    /// Whether the switch has the loss table.
    bridge: bool,
}

/// Replaces the faults in force by `plan`'s. Namespaces: nodes', switch's.
pub(crate) fn apply(
    state: &mut Applied,
    plan: &Plan,
    nodes: &[String],
    switch: &str,
) -> Result<(), NetError> {
    clear_tc(state, nodes)?;
    let tc = cmd::tool("tc")?;
    for (&k, lines) in &plan.tc {
        // Recorded first: a half-made qdisc is removed by the next clear.
        state.tc_nodes.insert(k);
        let mut input = lines.join("\n");
        input.push('\n');
        cmd::run(tc, &["-n", &nodes[k], "-b", "-"], Some(&input))?;
    }
    match &plan.bridge_nft {
        Some(text) => {
            state.bridge = true;
            nft_in(switch, text)?;
        }
        None => clear_bridge(state, switch)?,
    }
    Ok(())
}

/// Removes every packet fault in force.
pub(crate) fn clear(state: &mut Applied, nodes: &[String], switch: &str) -> Result<(), NetError> {
    let tc = clear_tc(state, nodes);
    let bridge = clear_bridge(state, switch);
    tc.and(bridge)
}

fn clear_tc(state: &mut Applied, nodes: &[String]) -> Result<(), NetError> {
    if state.tc_nodes.is_empty() {
        return Ok(());
    }
    let tc = cmd::tool("tc")?;
    let mut first_error = None;
    for k in std::mem::take(&mut state.tc_nodes) {
        let gone = [
            "Cannot delete qdisc with handle of zero",
            "Cannot find specified qdisc",
        ];
        if let Err(e) = cmd::run_delete(
            tc,
            &["-n", &nodes[k], "qdisc", "del", "dev", "eth0", "root"],
            &gone,
        ) {
            state.tc_nodes.insert(k);
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn clear_bridge(state: &mut Applied, switch: &str) -> Result<(), NetError> {
    if state.bridge {
        nft_in(
            switch,
            &format!("table bridge {NFT_TABLE}\ndelete table bridge {NFT_TABLE}\n"),
        )?;
        state.bridge = false;
    }
    Ok(())
}

/// Whether the kernel shows a packet fault of ours: an HTB root on a
/// node's `eth0` or the loss table in the switch namespace.
pub(crate) fn in_force(nodes: &[String], switch: &str) -> Result<bool, NetError> {
    // Without tc there can be no qdisc of ours.
    for ns in nodes.iter().filter(|_| cmd::tools().tc.is_some()) {
        let tc = cmd::tool("tc")?;
        let text = cmd::run(
            tc,
            &["-n", ns, "qdisc", "show", "dev", "eth0", "root"],
            None,
        )?;
        if text.lines().any(|l| l.starts_with("qdisc htb 1: root")) {
            return Ok(true);
        }
    }
    if cmd::tools().nft.is_none() {
        return Ok(false);
    }
    let ip = cmd::tool("ip")?;
    let nft = cmd::tool("nft")?.to_string_lossy().into_owned();
    let text = cmd::run(ip, &["netns", "exec", switch, &nft, "list", "tables"], None)?;
    Ok(text
        .lines()
        .any(|l| l.trim() == format!("table bridge {NFT_TABLE}")))
}

fn nft_in(ns: &str, text: &str) -> Result<(), NetError> {
    let ip = cmd::tool("ip")?;
    let nft = cmd::tool("nft")?.to_string_lossy().into_owned();
    cmd::run(ip, &["netns", "exec", ns, &nft, "-f", "-"], Some(text)).map(drop)
}

/// The counters of one qdisc or class, from `tc -s`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TcStats {
    /// `qdisc` or `class`.
    pub object: String,
    /// `htb`, `tbf`, `netem`...
    pub kind: String,
    /// Its handle or class id (`1:`, `1:1`).
    pub id: String,
    /// Bytes sent.
    pub sent_bytes: u64,
    /// Packets sent.
    pub sent_packets: u64,
    /// Packets dropped.
    pub dropped: u64,
    /// Times a packet had to wait for its turn (the shaper at work).
    pub overlimits: u64,
}

/// The qdiscs and classes on node `node`'s `eth0` with their counters:
/// evidence that a packet fault took effect (a bandwidth limit shows
/// `overlimits`, and the aimed class counts only aimed traffic).
pub fn tc_stats(net: &super::RunNet, node: usize) -> Result<Vec<TcStats>, NetError> {
    if node >= net.nodes() {
        return Err(NetError::Invalid(format!(
            "no node index {node} in a {}-node run network (0-based)",
            net.nodes()
        )));
    }
    let tc = cmd::tool("tc")?;
    let ns = net.namespace(node);
    let mut text = cmd::run(tc, &["-s", "-n", ns, "qdisc", "show", "dev", "eth0"], None)?;
    text.push_str(&cmd::run(
        tc,
        &["-s", "-n", ns, "class", "show", "dev", "eth0"],
        None,
    )?);
    Ok(parse_tc_stats(&text))
}

/// Packets dropped so far by the loss table in the switch (loss without
/// netem); 0 when there is none.
pub fn loss_dropped(net: &super::RunNet) -> Result<u64, NetError> {
    let ip = cmd::tool("ip")?;
    let nft = cmd::tool("nft")?.to_string_lossy().into_owned();
    let args = [
        "netns",
        "exec",
        net.switch_namespace(),
        &nft,
        "list",
        "table",
        "bridge",
        NFT_TABLE,
    ];
    match cmd::run(ip, &args, None) {
        Ok(text) => Ok(super::firewall::sum_nft_counters(&text)),
        Err(NetError::Command { stderr, .. }) if stderr.contains("No such file or directory") => {
            Ok(0)
        }
        Err(e) => Err(e),
    }
}

/// Parses `tc -s qdisc show` / `tc -s class show` output.
pub(crate) fn parse_tc_stats(text: &str) -> Vec<TcStats> {
    let mut out: Vec<TcStats> = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [object @ ("qdisc" | "class"), kind, id, ..] if !line.starts_with(' ') => {
                out.push(TcStats {
                    object: object.to_string(),
                    kind: kind.to_string(),
                    id: id.to_string(),
                    ..TcStats::default()
                })
            }
            ["Sent", bytes, "bytes", packets, "pkt", rest @ ..] => {
                let Some(last) = out.last_mut() else { continue };
                last.sent_bytes = bytes.parse().unwrap_or(0);
                last.sent_packets = packets.parse().unwrap_or(0);
                let number = |after: &str| {
                    rest.iter()
                        .position(|w| w.trim_start_matches('(') == after)
                        .and_then(|i| rest.get(i + 1))
                        .and_then(|w| w.trim_end_matches([',', ')']).parse().ok())
                        .unwrap_or(0)
                };
                last.dropped = number("dropped");
                last.overlimits = number("overlimits");
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> PacketSpec {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn bad(s: &str) -> String {
        match s.parse::<PacketSpec>() {
            Err(e @ NetError::BadSpec { .. }) => e.to_string(),
            other => panic!("{s}: expected a BadSpec, got {other:?}"),
        }
    }

    #[test]
    fn every_key_parses_and_round_trips() {
        let full = "delay=50ms,jitter=10ms,distribution=normal,loss=5%,duplicate=1%,reorder=10%,corrupt=0.1%,rate=1mbit";
        let s = spec(full);
        assert_eq!(s.delay, Duration::from_millis(50));
        assert_eq!(s.jitter, Duration::from_millis(10));
        assert_eq!(s.distribution, Some(Distribution::Normal));
        assert_eq!(
            (
                s.loss.ppm(),
                s.duplicate.ppm(),
                s.reorder.ppm(),
                s.corrupt.ppm()
            ),
            (50_000, 10_000, 100_000, 1_000)
        );
        assert_eq!(s.rate, Some(Rate(1_000_000)));
        assert_eq!(s.to_string(), full);
        assert_eq!(spec(&s.to_string()), s);
        // Order and spaces are free; the display is canonical.
        assert_eq!(
            spec(" rate=1mbit , loss=5 ").to_string(),
            "loss=5%,rate=1mbit"
        );
        assert_eq!(spec("loss=0%").to_string(), "loss=0%");
        assert!(spec("loss=0%").is_noop());
    }

    #[test]
    fn values_in_every_accepted_form() {
        let table: &[(&str, &str)] = &[
            ("delay=500us", "delay=500us"),
            ("delay=1.5s", "delay=1500ms"),
            ("delay=0.25ms", "delay=250us"),
            ("loss=100%", "loss=100%"),
            ("loss=0.0001%", "loss=0.0001%"),
            ("loss=12.5%", "loss=12.5%"),
            ("rate=500kbit", "rate=500kbit"),
            ("rate=1mbps", "rate=8mbit"),
            ("rate=1.5Mbit", "rate=1500kbit"),
            ("rate=2gbit", "rate=2gbit"),
            ("rate=100bit", "rate=100bit"),
            (
                "delay=10ms,jitter=1ms,distribution=uniform",
                "delay=10ms,jitter=1ms,distribution=uniform",
            ),
            (
                "delay=10ms,jitter=1ms,distribution=paretonormal",
                "delay=10ms,jitter=1ms,distribution=paretonormal",
            ),
        ];
        for (input, shown) in table {
            assert_eq!(spec(input).to_string(), *shown, "{input}");
        }
    }

    #[test]
    fn errors_name_the_bad_key_or_value_and_the_accepted_forms() {
        let table: &[(&str, &[&str])] = &[
            ("", &["empty", "delay"]),
            ("delay", &["`delay` is not key=value"]),
            ("latency=5ms", &["unknown key `latency`", "delay, jitter"]),
            ("delay=50", &["delay=`50`", "500us, 50ms"]),
            ("delay=5min", &["delay=`5min`"]),
            ("delay=0.5us", &["delay=`0.5us`"]),
            ("loss=101%", &["loss=`101%`", "0 to 100"]),
            ("loss=0.00001%", &["loss=`0.00001%`", "4 decimals"]),
            ("loss=-1%", &["loss=`-1%`"]),
            ("loss=five", &["loss=`five`"]),
            ("rate=1000", &["rate=`1000`", "1mbit"]),
            ("rate=1xbit", &["rate=`1xbit`"]),
            ("rate=0bit", &["rate=`0bit`"]),
            (
                "distribution=gauss,delay=1ms,jitter=1ms",
                &["distribution=`gauss`", "pareto"],
            ),
            ("loss=1%,loss=2%", &["`loss` is given twice"]),
            ("jitter=5ms", &["jitter needs a delay"]),
            ("delay=5ms,distribution=normal", &["give jitter too"]),
            ("reorder=5%", &["reorder needs a delay"]),
        ];
        for (input, wanted) in table {
            let msg = bad(input);
            for w in *wanted {
                assert!(msg.contains(w), "{input:?}: `{msg}` lacks `{w}`");
            }
        }
    }

    #[test]
    fn netem_arguments() {
        assert_eq!(
            spec("delay=50ms,jitter=10ms,distribution=normal,loss=5%,duplicate=1%,reorder=10%,corrupt=0.1%,rate=1mbit").netem_args(),
            "limit 100000 delay 50ms 10ms distribution normal loss 5% duplicate 1% reorder 10% corrupt 0.1% rate 1000000bit"
        );
        assert_eq!(
            spec("delay=1ms,jitter=500us,distribution=uniform").netem_args(),
            "limit 100000 delay 1ms 500us"
        );
        assert_eq!(spec("loss=100%").netem_args(), "limit 100000 loss 100%");
    }

    const ADDRS: [Ipv4Addr; 3] = [
        Ipv4Addr::new(198, 18, 9, 1),
        Ipv4Addr::new(198, 18, 9, 2),
        Ipv4Addr::new(198, 18, 9, 3),
    ];
    const NETEM: Capabilities = Capabilities {
        netem: true,
        nft: true,
    };
    const NO_NETEM: Capabilities = Capabilities {
        netem: false,
        nft: true,
    };

    #[test]
    fn between_with_netem_filters_by_destination_on_both_sides() {
        let faults = [(
            Links::Between(vec![0], vec![1, 2]),
            spec("delay=50ms,loss=5%"),
        )];
        let p = plan(&faults, &ADDRS, NETEM).unwrap();
        assert_eq!(p.bridge_nft, None);
        assert_eq!(
            p.tc[&0],
            [
                "qdisc add dev eth0 root handle 1: htb",
                "class add dev eth0 parent 1: classid 1:1 htb rate 100gbit ceil 100gbit burst 1048576 cburst 1048576 quantum 60000",
                "qdisc add dev eth0 parent 1:1 handle 10: netem limit 100000 delay 50ms loss 5%",
                "filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst 198.18.9.2/32 flowid 1:1",
                "filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst 198.18.9.3/32 flowid 1:1",
            ]
        );
        for k in [1, 2] {
            assert_eq!(p.tc[&k].len(), 4, "{:?}", p.tc[&k]);
            assert_eq!(
                p.tc[&k][3],
                "filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst 198.18.9.1/32 flowid 1:1"
            );
        }
    }

    #[test]
    fn without_netem_loss_goes_to_the_bridge_and_rate_to_tbf() {
        let faults = [
            (Links::Between(vec![0], vec![1, 2]), spec("loss=100%")),
            (Links::Node(1), spec("rate=1mbit")),
        ];
        // Node 1 sends to 0 under fault 1 and to everyone under fault 2: refused.
        assert!(matches!(
            plan(&faults, &ADDRS, NO_NETEM),
            Err(NetError::Invalid(_))
        ));

        let faults = [
            (Links::Between(vec![0], vec![1]), spec("loss=12.5%")),
            (Links::Node(2), spec("rate=1mbit,loss=1%")),
        ];
        let p = plan(&faults, &ADDRS, NO_NETEM).unwrap();
        assert_eq!(
            p.bridge_nft.as_deref(),
            Some(
                "table bridge skeptic_packet\n\
                 delete table bridge skeptic_packet\n\
                 table bridge skeptic_packet {\n\
                 \tchain forward {\n\
                 \t\ttype filter hook forward priority 0; policy accept;\n\
                 \t\tip saddr 198.18.9.1 ip daddr { 198.18.9.2 } numgen random mod 10000 < 1250 counter drop\n\
                 \t\tip saddr 198.18.9.2 ip daddr { 198.18.9.1 } numgen random mod 10000 < 1250 counter drop\n\
                 \t\tip saddr 198.18.9.3 numgen random mod 10000 < 100 counter drop\n\
                 \t}\n\
                 }\n"
            )
        );
        assert_eq!(p.tc.keys().copied().collect::<Vec<_>>(), [2]);
        let all = plan(&[(Links::Node(0), spec("loss=100%"))], &ADDRS, NO_NETEM).unwrap();
        assert!(all
            .bridge_nft
            .unwrap()
            .contains("\t\tip saddr 198.18.9.1 counter drop\n"));
        assert_eq!(
            p.tc[&2][1..],
            [
                "class add dev eth0 parent 1: classid 1:2 htb rate 100gbit ceil 100gbit burst 1048576 cburst 1048576 quantum 60000",
                "qdisc add dev eth0 parent 1:2 handle 11: tbf rate 1000000bit burst 3028 latency 200ms",
                "filter add dev eth0 parent 1: protocol ip prio 2 u32 match u32 0 0 flowid 1:2",
            ]
        );
    }

    #[test]
    fn unsupported_faults_are_refused_without_netem() {
        for s in [
            "delay=50ms",
            "delay=5ms,jitter=1ms",
            "duplicate=1%",
            "corrupt=0.1%",
            "delay=5ms,reorder=5%",
        ] {
            match plan(&[(Links::Node(0), spec(s))], &ADDRS, NO_NETEM) {
                Err(e @ NetError::Unsupported { .. }) => {
                    assert!(e.to_string().contains("CONFIG_NET_SCH_NETEM"), "{e}")
                }
                other => panic!("{s}: {other:?}"),
            }
            plan(&[(Links::Node(0), spec(s))], &ADDRS, NETEM).unwrap();
        }
        let fine = plan(&[(Links::Node(0), spec("loss=0.005%"))], &ADDRS, NO_NETEM);
        assert!(
            matches!(fine, Err(NetError::Unsupported { .. })),
            "{fine:?}"
        );
        let no_tools = Capabilities {
            netem: false,
            nft: false,
        };
        assert!(matches!(
            plan(&[(Links::Node(0), spec("loss=5%"))], &ADDRS, no_tools),
            Err(NetError::Unsupported { .. })
        ));
        plan(&[(Links::Node(0), spec("rate=1mbit"))], &ADDRS, no_tools).unwrap();
    }

    #[test]
    fn links_are_checked() {
        for links in [
            Links::Node(3),
            Links::Nodes(vec![]),
            Links::Nodes(vec![0, 7]),
            Links::Between(vec![0], vec![]),
            Links::Between(vec![0, 1], vec![1, 2]),
        ] {
            assert!(
                matches!(
                    plan(&[(links.clone(), spec("loss=1%"))], &ADDRS, NETEM),
                    Err(NetError::Invalid(_))
                ),
                "{links}"
            );
        }
        let two = [
            (Links::Nodes(vec![0, 1]), spec("loss=1%")),
            (Links::Between(vec![2], vec![0]), spec("loss=2%")),
        ];
        let msg = plan(&two, &ADDRS, NETEM).unwrap_err().to_string();
        assert!(msg.contains("from n1"), "{msg}");
        // Disjoint links may carry different faults.
        let ok = [
            (Links::Between(vec![0], vec![1]), spec("loss=1%")),
            (Links::Between(vec![0], vec![2]), spec("loss=2%")),
        ];
        let p = plan(&ok, &ADDRS, NETEM).unwrap();
        assert_eq!(
            p.tc[&0].iter().filter(|l| l.starts_with("class")).count(),
            2
        );
        assert_eq!(
            Links::Between(vec![0], vec![1, 2]).to_string(),
            "n1 <-> n2,n3"
        );
        assert!(plan(&[], &ADDRS, NETEM).unwrap() == Plan::default());
    }

    #[test]
    fn tc_counters_are_parsed() {
        let text = "\
qdisc htb 1: root refcnt 2 r2q 10 default 0 direct_packets_stat 12 direct_qlen 1000
 Sent 4000 bytes 12 pkt (dropped 0, overlimits 0 requeues 0)
 backlog 0b 0p requeues 0
qdisc tbf 10: parent 1:1 rate 1Mbit burst 3028b lat 200ms
 Sent 30000 bytes 21 pkt (dropped 179, overlimits 40 requeues 0)
class htb 1:1 root leaf 10: prio 0 rate 100Gbit ceil 100Gbit burst 1025000b cburst 1025000b
 Sent 280000 bytes 200 pkt (dropped 0, overlimits 0 requeues 0)
";
        let s = parse_tc_stats(text);
        assert_eq!(s.len(), 3);
        assert_eq!(
            (
                s[0].object.as_str(),
                s[0].kind.as_str(),
                s[0].id.as_str(),
                s[0].sent_packets
            ),
            ("qdisc", "htb", "1:", 12)
        );
        assert_eq!(
            (
                s[1].kind.as_str(),
                s[1].dropped,
                s[1].overlimits,
                s[1].sent_bytes
            ),
            ("tbf", 179, 40, 30000)
        );
        assert_eq!(
            (s[2].object.as_str(), s[2].id.as_str(), s[2].sent_packets),
            ("class", "1:1", 200)
        );
    }

    #[test]
    fn specs_serialize_as_their_text() {
        let s = spec("loss=5%,rate=1mbit");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"loss=5%,rate=1mbit\"");
        assert_eq!(serde_json::from_str::<PacketSpec>(&json).unwrap(), s);
        assert!(serde_json::from_str::<PacketSpec>("\"loss=200%\"").is_err());
        let links = serde_json::to_string(&Links::Between(vec![0], vec![1])).unwrap();
        assert_eq!(links, r#"{"between":[[0],[1]]}"#);
    }
}
