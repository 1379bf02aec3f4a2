//! A private PostgreSQL cluster for integration tests: initdb into a temporary directory (as the
//! `postgres` user when run as root, since initdb refuses root), started on a free loopback port
//! with fsync off, stopped on drop. Needs the server binaries (scripts/setup-approvals.sh).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A private PostgreSQL cluster on a loopback port, stopped on drop.
pub struct Pg {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

fn as_postgres(bin: &Path, tool: &str) -> Command {
    // initdb refuses to run as root: switch to the `postgres` user when we are root.
    if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs `c`, which must succeed; `what` names it when it does not.
fn succeed(c: &mut Command, what: &str) {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Pg {
    pub fn start() -> Pg {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL not installed: run scripts/setup-approvals.sh")
            .map(|e| e.unwrap().path())
            .collect();
        versions.sort();
        let bin = versions.pop().expect("no PostgreSQL version").join("bin");
        let dir = tempfile::tempdir().unwrap();
        if running_as_root() {
            assert!(
                Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(dir.path())
                    .status()
                    .unwrap()
                    .success()
            );
        }
        let data = dir.path().join("data");
        succeed(
            as_postgres(&bin, "initdb")
                .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
                .arg(&data),
            "initdb",
        );
        let port = free_port();
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.path().display()
        );
        succeed(
            as_postgres(&bin, "pg_ctl")
                .args(["-w", "-D"])
                .arg(&data)
                .arg("-l")
                .arg(dir.path().join("log"))
                .args(["-o", &opts, "start"]),
            "pg_ctl start",
        );
        Pg { dir, bin, port }
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin, "pg_ctl")
            .args(["-m", "immediate", "-D"])
            .arg(self.dir.path().join("data"))
            .arg("stop")
            .output();
    }
}
