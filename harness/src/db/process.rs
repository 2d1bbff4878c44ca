//! One child process the harness owns: started in its own process group
//! with its output appended to a log file, signalled as a group, and always
//! killed and reaped when dropped (also on panic and early return).
//!
//! A child also dies with the harness, even when the harness gets SIGKILL
//! and runs no cleanup: it is started with `PR_SET_PDEATHSIG` (SIGKILL).
//! The kernel sends that signal when the *thread* that started the child
//! exits, so every child is started by one spawner thread that lives as
//! long as the process (tokio's blocking threads come and go).

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

/// A command for the spawner thread, and where its child goes.
type SpawnRequest = (Command, mpsc::SyncSender<std::io::Result<Child>>);

/// The spawner thread's queue (started on first use, never stopped).
fn spawner() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("skeptic-spawner".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("the spawner thread starts");
        Mutex::new(tx)
    })
}

/// Spawns `command` from the spawner thread, its child set to die with
/// this process (SIGKILL when this process dies, however it dies).
pub fn spawn_tied(mut command: Command) -> std::io::Result<Child> {
    let parent = std::process::id();
    // SAFETY: the closure runs in the child between fork and exec and
    // calls only async-signal-safe functions (prctl, getppid, _exit).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The harness may have died before the prctl took effect.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let (reply_tx, reply_rx) = mpsc::sync_channel(1);
    spawner()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((command, reply_tx))
        .map_err(|_| std::io::Error::other("the spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| std::io::Error::other("the spawner thread is gone"))?
}

/// A managed child process that can be started again after it is killed.
#[derive(Debug)]
pub struct ManagedProcess {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

/// Sends a signal to a whole process group.
fn signal_group(pgid: u32, signal: libc::c_int) -> std::io::Result<()> {
    let pgid =
        libc::pid_t::try_from(pgid).map_err(|_| std::io::Error::other("pid out of range"))?;
    // SAFETY: kill(2) has no memory effects; a negative pid names the group
    // the child leads (it was started with process_group(0)).
    let rc = unsafe { libc::kill(-pgid, signal) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

impl ManagedProcess {
    /// A process that is not started yet.
    pub fn new(
        name: impl Into<String>,
        program: &Path,
        args: Vec<String>,
        log: PathBuf,
    ) -> ManagedProcess {
        ManagedProcess {
            name: name.into(),
            program: program.to_path_buf(),
            args,
            envs: Vec::new(),
            log,
            child: None,
        }
    }

    /// The same process with these environment variables set (libfaketime's
    /// `LD_PRELOAD` and control file, for instance).
    pub fn with_envs(mut self, envs: Vec<(String, String)>) -> ManagedProcess {
        self.envs = envs;
        self
    }

    /// The process's name in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Starts it (a no-op while it runs). Output is appended to the log, so
    /// every incarnation's lines are kept.
    pub fn start(&mut self) -> std::io::Result<u32> {
        if self.is_running() {
            if let Some(c) = &self.child {
                return Ok(c.id());
            }
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        let child = spawn_tied(command)?;
        let pid = child.id();
        self.child = Some(child);
        Ok(pid)
    }

    /// Its pid while it runs.
    pub fn pid(&mut self) -> Option<u32> {
        if self.is_running() {
            self.child.as_ref().map(Child::id)
        } else {
            None
        }
    }

    /// Whether it has been started and has not exited.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGKILL to its group, then reap. A no-op when it is not running.
    pub fn kill(&mut self) -> std::io::Result<()> {
        if let Some(mut c) = self.child.take() {
            if matches!(c.try_wait(), Ok(None)) {
                // The group may be gone already; the direct kill below
                // covers the leader either way.
                let _ = signal_group(c.id(), libc::SIGKILL);
                let _ = c.kill();
            }
            c.wait()?;
        }
        Ok(())
    }

    /// SIGSTOP to its group.
    pub fn pause(&mut self) -> std::io::Result<()> {
        match self.pid() {
            Some(pid) => signal_group(pid, libc::SIGSTOP),
            None => Err(std::io::Error::other(format!(
                "{} is not running",
                self.name
            ))),
        }
    }

    /// SIGCONT to its group.
    pub fn resume(&mut self) -> std::io::Result<()> {
        match self.pid() {
            Some(pid) => signal_group(pid, libc::SIGCONT),
            None => Err(std::io::Error::other(format!(
                "{} is not running",
                self.name
            ))),
        }
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// The scheduler state of a process from `/proc/<pid>/stat` (`R`, `S`, `T`
/// for stopped, `Z`...), or `None` if it is gone. Used to verify pauses.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces; the state
    // follows the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.trim_start().chars().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_resume_and_kill_take_effect() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut p = ManagedProcess::new(
            "sleeper",
            Path::new("/bin/sleep"),
            vec!["30".into()],
            dir.path().join("sleep.log"),
        );
        let pid = p.start().expect("start");
        assert!(p.is_running());
        p.pause().expect("pause");
        // SIGSTOP is delivered asynchronously; poll the state (bounded).
        let stopped = (0..200).any(|_| {
            let s = proc_state(pid);
            if s != Some('T') {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            s == Some('T')
        });
        assert!(stopped, "state {:?}", proc_state(pid));
        p.resume().expect("resume");
        let running = (0..200).any(|_| {
            let s = proc_state(pid);
            if s == Some('T') {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            s != Some('T')
        });
        assert!(running);
        p.kill().expect("kill");
        assert!(!p.is_running());
        assert_eq!(proc_state(pid), None, "killed and reaped");
        // It can be started again.
        let pid2 = p.start().expect("restart");
        assert_ne!(pid, pid2);
        drop(p);
        assert_eq!(proc_state(pid2), None, "dropped means killed and reaped");
    }
}
