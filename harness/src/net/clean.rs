//! Leftovers of runs that did not tear down (a `kill -9` of the harness):
//! finding them by name and removing them.
//!
//! Only names of exactly our shapes count (see [`netns`](super::netns)):
//! namespaces `skeptic-<id>-n<k>` and `skeptic-<id>-sw`, links
//! `sk-<id>-{h,hb,br,v<k>}` in the harness's namespace, registry files
//! `/run/skeptic/net/<id>`, with `<id>` a valid run id. Links inside a
//! run's namespaces go with the namespace.

use std::fmt;
use std::path::Path;

use super::netns::{validate_run_id, LINK_PREFIX, NAMESPACE_PREFIX};
use super::registry::{self, Entry};
use super::{cmd, NetError};

/// What kind of thing a leftover is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LeftoverKind {
    /// An interface in the harness's namespace (removed first: deleting a
    /// veth deletes its peer).
    Link,
    /// A network namespace in `/run/netns`.
    Namespace,
    /// A registry file in `/run/skeptic/net` (removed last).
    Registry,
}

/// Who made a leftover's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// The process that made it runs (the run may be live).
    Alive(u32),
    /// The process that made it is gone.
    Dead(u32),
    /// No registry file says (a run half torn down, or not ours to know).
    Unknown,
}

/// One namespace, link or registry file of a run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Leftover {
    /// The run id in its name.
    pub run_id: String,
    /// What it is.
    pub kind: LeftoverKind,
    /// The namespace or link name, or the registry file's path.
    pub name: String,
    /// Whether the run's owner is alive.
    pub owner: Owner,
}

impl Leftover {
    /// Whether no live process owns it: safe to remove without `--force`.
    pub fn is_stale(&self) -> bool {
        !matches!(self.owner, Owner::Alive(_))
    }
}

impl fmt::Display for Leftover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            LeftoverKind::Link => "link",
            LeftoverKind::Namespace => "namespace",
            LeftoverKind::Registry => "registry file",
        };
        let owner = match self.owner {
            Owner::Alive(pid) => format!("owner pid {pid} alive"),
            Owner::Dead(pid) => format!("owner pid {pid} gone"),
            Owner::Unknown => "owner unknown".into(),
        };
        write!(f, "{kind} {} (run {}, {owner})", self.name, self.run_id)
    }
}

/// The run id in a namespace name of ours (`skeptic-<id>-n<k>`,
/// `skeptic-<id>-sw`), or `None` if the name is not ours.
pub fn namespace_run_id(name: &str) -> Option<&str> {
    let (id, suffix) = name.strip_prefix(NAMESPACE_PREFIX)?.split_once('-')?;
    let ours = suffix == "sw" || suffix.strip_prefix('n').is_some_and(is_index);
    (ours && validate_run_id(id).is_ok()).then_some(id)
}

/// The run id in a link name of ours (`sk-<id>-h`, `-hb`, `-br`,
/// `-v<k>`), or `None` if the name is not ours.
pub fn link_run_id(name: &str) -> Option<&str> {
    let (id, suffix) = name.strip_prefix(LINK_PREFIX)?.split_once('-')?;
    let ours =
        matches!(suffix, "h" | "hb" | "br") || suffix.strip_prefix('v').is_some_and(is_index);
    (ours && validate_run_id(id).is_ok()).then_some(id)
}

/// `1` to `999` without leading zeros: node numbers in names are 1-based.
fn is_index(s: &str) -> bool {
    !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0')
}

fn dir_names(dir: &str) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(items) => items
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The namespaces and links of ours that exist now, with their run ids.
fn all_names() -> Vec<(String, LeftoverKind, String)> {
    let mut out = Vec::new();
    for name in dir_names("/run/netns") {
        if let Some(id) = namespace_run_id(&name) {
            out.push((id.to_string(), LeftoverKind::Namespace, name));
        }
    }
    // /sys/class/net lists the links of the namespace /sys was mounted in:
    // the harness's (`ip netns exec` remounts it, we do not).
    for name in dir_names("/sys/class/net") {
        if let Some(id) = link_run_id(&name) {
            out.push((id.to_string(), LeftoverKind::Link, name));
        }
    }
    out
}

/// The namespaces and links of run `id` that exist now.
pub(crate) fn names(id: &str) -> Vec<(LeftoverKind, String)> {
    all_names()
        .into_iter()
        .filter(|(i, _, _)| i == id)
        .map(|(_, k, n)| (k, n))
        .collect()
}

/// Every namespace, link and registry file of ours on this machine, live
/// runs' included (see [`Leftover::is_stale`]), sorted by run and in the
/// order [`remove`] takes them.
pub fn leftovers() -> Vec<Leftover> {
    let entries = registry::entries();
    let owner = |id: &str| match entries.iter().find(|e| e.id == id) {
        Some(e @ Entry { pid, .. }) if e.owner_alive() => Owner::Alive(*pid),
        Some(Entry { pid, .. }) => Owner::Dead(*pid),
        None => Owner::Unknown,
    };
    let mut out: Vec<Leftover> = all_names()
        .into_iter()
        .map(|(id, kind, name)| Leftover {
            owner: owner(&id),
            run_id: id,
            kind,
            name,
        })
        .collect();
    for e in &entries {
        out.push(Leftover {
            run_id: e.id.clone(),
            kind: LeftoverKind::Registry,
            name: registry::path(&e.id).to_string_lossy().into_owned(),
            owner: owner(&e.id),
        });
    }
    out.sort_by(|a, b| (&a.run_id, a.kind, &a.name).cmp(&(&b.run_id, b.kind, &b.name)));
    out
}

/// [`leftovers`] listed under the registry lock, so that no run is being
/// made meanwhile (a run half made would show as owner unknown, and look
/// stale): what [`remove`] may take. With `force`, live runs' too.
pub fn removable(force: bool) -> Result<(Vec<Leftover>, Vec<Leftover>), NetError> {
    let _lock = registry::lock()?;
    Ok(leftovers().into_iter().partition(|l| force || l.is_stale()))
}

/// [`leftovers`] whose owner is gone or unknown.
pub fn stale_leftovers() -> Vec<Leftover> {
    leftovers().into_iter().filter(Leftover::is_stale).collect()
}

/// Removes `items` (links first, then namespaces, then registry files),
/// under the registry lock so no run is being made meanwhile. Something
/// already gone is fine. If any item is not of our shapes (a name skeptic
/// does not make, a path outside the registry) nothing is removed. Tries
/// every item; returns how many it removed, or the first error.
pub fn remove(items: &[Leftover]) -> Result<usize, NetError> {
    for item in items {
        let ours = match item.kind {
            LeftoverKind::Link => link_run_id(&item.name) == Some(&item.run_id),
            LeftoverKind::Namespace => namespace_run_id(&item.name) == Some(&item.run_id),
            LeftoverKind::Registry => {
                validate_run_id(&item.run_id).is_ok()
                    && Path::new(&item.name) == registry::path(&item.run_id)
            }
        };
        if !ours {
            return Err(NetError::Invalid(format!(
                "refusing to remove {item}: not a name skeptic makes"
            )));
        }
    }
    let ip = cmd::tool("ip")?;
    let _lock = registry::lock()?;
    let mut sorted: Vec<&Leftover> = items.iter().collect();
    sorted.sort_by_key(|l| l.kind);
    let mut removed = 0;
    let mut first_error = None;
    for item in sorted {
        let result = match item.kind {
            LeftoverKind::Link => {
                cmd::run_delete(ip, &["link", "delete", &item.name], &["Cannot find device"])
            }
            LeftoverKind::Namespace => cmd::run_delete(
                ip,
                &["netns", "delete", &item.name],
                &["No such file or directory"],
            ),
            LeftoverKind::Registry => {
                let existed = registry::path(&item.run_id).exists();
                registry::remove(&item.run_id).map(|()| existed)
            }
        };
        match result {
            Ok(true) => {
                tracing::info!(%item, "net: removed leftover");
                removed += 1;
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(%item, error = %e, "net: could not remove leftover");
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(removed), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_namespace_names_match() {
        assert_eq!(namespace_run_id("skeptic-ab12-n1"), Some("ab12"));
        assert_eq!(namespace_run_id("skeptic-ab12-n253"), Some("ab12"));
        assert_eq!(namespace_run_id("skeptic-x-sw"), Some("x"));
        for not_ours in [
            "skeptic-ab12",
            "skeptic-ab12-n",
            "skeptic-ab12-n01",
            "skeptic-ab12-n0",
            "skeptic-ab12-nx",
            "skeptic-ab12-n1000",
            "skeptic-abcdefg-n0",
            "skeptic-AB-n0",
            "skeptic--n0",
            "skeptic-ab-sw2",
            "skeptical-ab-n0",
            "ns-ab-n0",
            "cni-1234",
        ] {
            assert_eq!(namespace_run_id(not_ours), None, "{not_ours}");
        }
    }

    #[test]
    fn only_our_link_names_match() {
        for (name, id) in [
            ("sk-ab12-h", "ab12"),
            ("sk-ab12-hb", "ab12"),
            ("sk-a-br", "a"),
            ("sk-abcdef-v253", "abcdef"),
        ] {
            assert_eq!(link_run_id(name), Some(id), "{name}");
        }
        for not_ours in [
            "sk-ab12",
            "sk-ab12-x",
            "sk-ab12-v",
            "sk-ab12-vx",
            "sk-ab12-v0",
            "skab12h",
            "sk--h",
            "eth0",
            "docker0",
            "sk-Ab-h",
            "veth1234",
        ] {
            assert_eq!(link_run_id(not_ours), None, "{not_ours}");
        }
    }

    #[test]
    fn staleness_follows_the_owner() {
        let l = |owner| Leftover {
            run_id: "a".into(),
            kind: LeftoverKind::Namespace,
            name: "skeptic-a-n1".into(),
            owner,
        };
        assert!(!l(Owner::Alive(1)).is_stale());
        assert!(l(Owner::Dead(1)).is_stale());
        assert!(l(Owner::Unknown).is_stale());
        assert_eq!(
            l(Owner::Dead(7)).to_string(),
            "namespace skeptic-a-n1 (run a, owner pid 7 gone)"
        );
    }

    #[test]
    fn foreign_names_are_refused() {
        let foreign = Leftover {
            run_id: "a".into(),
            kind: LeftoverKind::Link,
            name: "eth0".into(),
            owner: Owner::Unknown,
        };
        let wrong_path = Leftover {
            run_id: "a".into(),
            kind: LeftoverKind::Registry,
            name: "/etc/passwd".into(),
            owner: Owner::Unknown,
        };
        let mismatched = Leftover {
            run_id: "b".into(),
            kind: LeftoverKind::Namespace,
            name: "skeptic-a-n1".into(),
            owner: Owner::Unknown,
        };
        for item in [foreign, wrong_path, mismatched] {
            match remove(std::slice::from_ref(&item)) {
                Err(NetError::Invalid(msg)) => assert!(msg.contains("refusing"), "{msg}"),
                other => panic!("{item}: {other:?}"),
            }
        }
    }
}
