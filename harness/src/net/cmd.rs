//! Running the kernel's tools (`ip`, `tc`, `nft`, `iptables-restore`):
//! finding them once, running them synchronously, and reporting a failure
//! with a command line that can be pasted into a shell.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::NetError;

/// Where the tools are; `None` when not installed.
#[derive(Debug, Clone)]
pub(crate) struct Tools {
    pub ip: Option<PathBuf>,
    pub tc: Option<PathBuf>,
    pub nft: Option<PathBuf>,
    pub iptables_restore: Option<PathBuf>,
}

/// The tools, looked up once on `PATH` and in the sbin directories (which
/// a non-login root shell may lack on its `PATH`).
pub(crate) fn tools() -> &'static Tools {
    static TOOLS: OnceLock<Tools> = OnceLock::new();
    TOOLS.get_or_init(|| Tools {
        ip: find("ip"),
        tc: find("tc"),
        nft: find("nft"),
        iptables_restore: find("iptables-restore"),
    })
}

fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The path of a tool, or an error naming the package to install.
pub(crate) fn tool(name: &'static str) -> Result<&'static Path, NetError> {
    let t = tools();
    let (found, package) = match name {
        "ip" => (&t.ip, "iproute2"),
        "tc" => (&t.tc, "iproute2"),
        "nft" => (&t.nft, "nftables"),
        "iptables-restore" => (&t.iptables_restore, "iptables"),
        _ => (&None, "?"),
    };
    found.as_deref().ok_or_else(|| NetError::Unsupported {
        what: format!("`{name}`"),
        why: format!("it is not installed (install {package})"),
    })
}

/// Runs `program args`, feeding `input` on stdin when given; returns
/// stdout. A failure carries the command line (with the input as a
/// here-document) and stderr.
pub(crate) fn run(program: &Path, args: &[&str], input: Option<&str>) -> Result<String, NetError> {
    let line = command_line(program, args, input);
    tracing::debug!(command = %line, "net: running");
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|source| NetError::Spawn {
        command: line.clone(),
        source,
    })?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        // A tool that exits early closes its stdin; its exit status then
        // tells what went wrong, so a write error here is not the story.
        let _ = stdin.write_all(text.as_bytes());
    }
    let out = child.wait_with_output().map_err(|source| NetError::Spawn {
        command: line.clone(),
        source,
    })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(NetError::Command {
            command: line,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Like [`run`], but a failure whose stderr contains one of `gone` (the
/// tool's way of saying "no such thing") counts as success: for deletes
/// that must be idempotent. Returns whether the thing was there.
pub(crate) fn run_delete(program: &Path, args: &[&str], gone: &[&str]) -> Result<bool, NetError> {
    match run(program, args, None) {
        Ok(_) => Ok(true),
        Err(NetError::Command { stderr, .. }) if gone.iter().any(|g| stderr.contains(g)) => {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// `program args` quoted for a POSIX shell, with `<<'EOF' … EOF` when the
/// command reads `input`.
pub(crate) fn command_line(program: &Path, args: &[&str], input: Option<&str>) -> String {
    let name = program
        .file_name()
        .map_or_else(|| program.to_string_lossy(), |n| n.to_string_lossy());
    let mut line = quote(&name);
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    if let Some(text) = input {
        line.push_str(" <<'EOF'\n");
        line.push_str(text);
        if !text.ends_with('\n') {
            line.push('\n');
        }
        line.push_str("EOF");
    }
    line
}

fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_are_shell_quoted_with_input_as_heredoc() {
        let p = Path::new("/usr/sbin/nft");
        assert_eq!(command_line(p, &["-f", "-"], None), "nft -f -");
        assert_eq!(
            command_line(Path::new("ip"), &["netns", "exec", "a b", "it's"], None),
            r"ip netns exec 'a b' 'it'\''s'"
        );
        assert_eq!(
            command_line(p, &["-f", "-"], Some("flush ruleset")),
            "nft -f - <<'EOF'\nflush ruleset\nEOF"
        );
    }

    #[test]
    fn failures_carry_command_and_stderr() {
        let sh = Path::new("/bin/sh");
        let err = run(sh, &["-c", "echo oops >&2; exit 3"], None).unwrap_err();
        match err {
            NetError::Command {
                command,
                status,
                stderr,
            } => {
                assert!(command.starts_with("sh -c"), "{command}");
                assert!(status.contains('3'), "{status}");
                assert_eq!(stderr, "oops");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(run(sh, &["-c", "cat"], Some("hi")).unwrap(), "hi");
        assert!(!run_delete(
            sh,
            &["-c", "echo 'Cannot find device' >&2; exit 1"],
            &["Cannot find"]
        )
        .unwrap());
        assert!(run_delete(sh, &["-c", "echo other >&2; exit 1"], &["Cannot find"]).is_err());
        assert!(matches!(
            run(Path::new("/nonexistent/tool"), &[], None),
            Err(NetError::Spawn { .. })
        ));
    }
}
