//! Partitions: in each receiving node's namespace, a filter table that
//! drops packets from the cut sources on input.
//!
//! The rule text is built by a pure function ([`render`]) and applied in
//! one transaction per namespace: `nft -f` with a table that is created,
//! deleted and defined again in the same file, or `iptables-restore`
//! replacing the whole `filter` table (the namespace is the run's own, so
//! nothing else lives there).

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::{cmd, NetError};

/// The nftables table a node's partition rules live in (`inet` family).
pub const NFT_TABLE: &str = "skeptic_partition";

/// The tool partitions are made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// `nft -f`: a table `inet skeptic_partition` with an input chain.
    Nft,
    /// `iptables-restore`: the `filter` table's `INPUT` chain (for machines
    /// with iptables and without the `nft` tool).
    Iptables,
}

impl Backend {
    /// `nft` when installed, else `iptables-restore`.
    pub fn detect() -> Result<Backend, NetError> {
        let t = cmd::tools();
        if t.nft.is_some() {
            Ok(Backend::Nft)
        } else if t.iptables_restore.is_some() {
            Ok(Backend::Iptables)
        } else {
            Err(NetError::Unsupported {
                what: "partitions".into(),
                why: "neither `nft` (nftables) nor `iptables-restore` is installed".into(),
            })
        }
    }

    /// `nft` or `iptables`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Nft => "nft",
            Backend::Iptables => "iptables",
        }
    }

    /// The tool's path, or why it is missing.
    pub(crate) fn tool(self) -> Result<&'static std::path::Path, NetError> {
        match self {
            Backend::Nft => cmd::tool("nft"),
            Backend::Iptables => cmd::tool("iptables-restore"),
        }
    }
}

/// The input of `nft -f` (or `iptables-restore`) that makes `sources` the
/// complete set of addresses whose packets a namespace drops on input. No
/// sources: the table is removed (nft) or left without rules (iptables).
pub fn render(backend: Backend, sources: &[Ipv4Addr]) -> String {
    let mut text = String::new();
    match backend {
        Backend::Nft => {
            // Declaring then deleting the table makes the delete work
            // whether or not it existed; all of it is one transaction.
            let _ = writeln!(
                text,
                "table inet {NFT_TABLE}\ndelete table inet {NFT_TABLE}"
            );
            if !sources.is_empty() {
                let set = sources
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                let _ = write!(
                    text,
                    "table inet {NFT_TABLE} {{\n\
                     \tchain input {{\n\
                     \t\ttype filter hook input priority 0; policy accept;\n\
                     \t\tip saddr {{ {set} }} counter drop\n\
                     \t}}\n\
                     }}\n"
                );
            }
        }
        Backend::Iptables => {
            text.push_str(
                "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n",
            );
            for a in sources {
                let _ = writeln!(text, "-A INPUT -s {a}/32 -j DROP");
            }
            text.push_str("COMMIT\n");
        }
    }
    text
}

/// Applies [`render`]`(backend, sources)` inside namespace `ns`.
pub(crate) fn apply(backend: Backend, ns: &str, sources: &[Ipv4Addr]) -> Result<(), NetError> {
    let ip = cmd::tool("ip")?;
    let tool = backend.tool()?.to_string_lossy().into_owned();
    let text = render(backend, sources);
    let args: Vec<&str> = match backend {
        Backend::Nft => vec!["netns", "exec", ns, &tool, "-f", "-"],
        // -w: wait for the xtables lock, which is shared by all namespaces.
        Backend::Iptables => vec!["netns", "exec", ns, &tool, "-w"],
    };
    cmd::run(ip, &args, Some(&text)).map(drop)
}

/// Packets dropped so far by partition rules in namespace `ns` (the
/// rules' counters; reset whenever the node's set of cut sources
/// changes). Evidence that a partition took effect.
pub fn dropped_packets(backend: Backend, ns: &str) -> Result<u64, NetError> {
    let ip = cmd::tool("ip")?;
    let tool = backend.tool()?.to_string_lossy().into_owned();
    match backend {
        Backend::Nft => {
            let nft = tool.as_str();
            match cmd::run(
                ip,
                &["netns", "exec", ns, nft, "list", "table", "inet", NFT_TABLE],
                None,
            ) {
                Ok(text) => Ok(sum_nft_counters(&text)),
                Err(NetError::Command { stderr, .. })
                    if stderr.contains("No such file or directory") =>
                {
                    Ok(0)
                }
                Err(e) => Err(e),
            }
        }
        Backend::Iptables => {
            let save = tool.replace("iptables-restore", "iptables-save");
            let text = cmd::run(
                ip,
                &["netns", "exec", ns, &save, "-c", "-t", "filter"],
                None,
            )?;
            Ok(sum_iptables_drops(&text))
        }
    }
}

/// The sum of `counter packets N` in `nft list` output.
pub(crate) fn sum_nft_counters(text: &str) -> u64 {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(3)
        .filter(|w| w[0] == "counter" && w[1] == "packets")
        .filter_map(|w| w[2].parse::<u64>().ok())
        .sum()
}

/// The sum of the packet counters of `-j DROP` rules in `iptables-save -c`
/// output (`[packets:bytes] -A INPUT ... -j DROP`).
fn sum_iptables_drops(text: &str) -> u64 {
    text.lines()
        .filter(|l| l.ends_with("-j DROP"))
        .filter_map(|l| l.strip_prefix('[')?.split(':').next()?.parse::<u64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 3, 1);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 3, 2);

    #[test]
    fn nft_rules_replace_the_table_in_one_file() {
        assert_eq!(
            render(Backend::Nft, &[A, B]),
            "table inet skeptic_partition\n\
             delete table inet skeptic_partition\n\
             table inet skeptic_partition {\n\
             \tchain input {\n\
             \t\ttype filter hook input priority 0; policy accept;\n\
             \t\tip saddr { 198.18.3.1, 198.18.3.2 } counter drop\n\
             \t}\n\
             }\n"
        );
        assert_eq!(
            render(Backend::Nft, &[]),
            "table inet skeptic_partition\ndelete table inet skeptic_partition\n"
        );
    }

    #[test]
    fn iptables_rules_replace_the_filter_table() {
        assert_eq!(
            render(Backend::Iptables, &[A]),
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -s 198.18.3.1/32 -j DROP\nCOMMIT\n"
        );
        assert!(!render(Backend::Iptables, &[]).contains("-A "));
    }

    #[test]
    fn counters_are_summed() {
        let nft = "table inet skeptic_partition {\n chain input {\n ip saddr { 1.2.3.4 } counter packets 7 bytes 300 drop\n ip saddr 1.2.3.5 counter packets 5 bytes 20 drop\n }\n}";
        assert_eq!(sum_nft_counters(nft), 12);
        let ipt = "*filter\n:INPUT ACCEPT [9:100]\n[3:120] -A INPUT -s 198.18.3.1/32 -j DROP\n[4:1] -A INPUT -s 198.18.3.2/32 -j DROP\nCOMMIT";
        assert_eq!(sum_iptables_drops(ipt), 7);
    }
}
