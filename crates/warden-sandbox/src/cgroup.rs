//! cgroup limits for a whole action: cgroup v2 (`pids.max`, `memory.max`) where the host has a
//! writable v2 hierarchy, else the v1 `pids` controller for the process limit when the caller is
//! root (the kernel exempts the global root uid from RLIMIT_NPROC). rlimits apply in every case.

use std::path::{Path, PathBuf};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// Is /sys/fs/cgroup a cgroup v2 hierarchy offering the `pids` and `memory` controllers?
pub(crate) fn v2_available() -> bool {
    if crate::sys::fs_type(Path::new(CGROUP_ROOT)) != Some(CGROUP2_SUPER_MAGIC) {
        return false;
    }
    let controllers = std::fs::read_to_string(Path::new(CGROUP_ROOT).join("cgroup.controllers"))
        .unwrap_or_default();
    let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
    has("pids") && has("memory")
}

/// Does this process sit in a cgroup v1 `pids` hierarchy mounted at /sys/fs/cgroup/pids (what
/// [`ActionCgroup::create_v1_pids`] needs to bound root's process count)?
pub(crate) fn v1_pids_available() -> bool {
    let in_pids = std::fs::read_to_string("/proc/self/cgroup").is_ok_and(|own| {
        own.lines().any(|l| {
            l.split(':')
                .nth(1)
                .is_some_and(|ctrl| ctrl.split(',').any(|c| c == "pids"))
        })
    });
    in_pids
        && Path::new(CGROUP_ROOT)
            .join("pids")
            .join("cgroup.procs")
            .exists()
}

/// A cgroup created for one action; removed on drop.
#[derive(Debug)]
pub(crate) struct ActionCgroup {
    pub(crate) dir: PathBuf,
}

impl ActionCgroup {
    /// Create `/sys/fs/cgroup/<our cgroup>/warden-<pid>-<n>` with the given limits.
    pub(crate) fn create(limits: &crate::Limits) -> std::io::Result<Self> {
        let own = std::fs::read_to_string("/proc/self/cgroup")?;
        let rel = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .unwrap_or("/")
            .trim_start_matches('/')
            .to_owned();
        let parent = Path::new(CGROUP_ROOT).join(rel);
        // Enabling controllers for children may fail if the parent has processes (no internal
        // processes rule); then use the hierarchy root's delegation, which must already allow it.
        let _ = std::fs::write(parent.join("cgroup.subtree_control"), "+pids +memory");
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = parent.join(format!("warden-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir)?;
        let cg = Self { dir };
        if let Some(p) = limits.processes {
            std::fs::write(cg.dir.join("pids.max"), p.to_string())?;
        }
        if let Some(m) = limits.memory_bytes {
            std::fs::write(cg.dir.join("memory.max"), m.to_string())?;
        }
        Ok(cg)
    }

    /// A v1 `pids` cgroup below the caller's own, for the process limit.
    pub(crate) fn create_v1_pids(processes: u64) -> std::io::Result<Self> {
        let own = std::fs::read_to_string("/proc/self/cgroup")?;
        let rel = own
            .lines()
            .find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, ctrl, path) = (parts.next()?, parts.next()?, parts.next()?);
                ctrl.split(',')
                    .any(|c| c == "pids")
                    .then(|| path.to_owned())
            })
            .ok_or_else(|| std::io::Error::other("no v1 pids controller"))?;
        let parent = Path::new(CGROUP_ROOT)
            .join("pids")
            .join(rel.trim_start_matches('/'));
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = parent.join(format!("warden-{}-v1-{n}", std::process::id()));
        std::fs::create_dir(&dir)?;
        let cg = Self { dir };
        std::fs::write(cg.dir.join("pids.max"), processes.to_string())?;
        Ok(cg)
    }

    pub(crate) fn procs_file(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }
}

impl Drop for ActionCgroup {
    fn drop(&mut self) {
        // The PID namespace is torn down when its init exits; allow the kernel a moment.
        for _ in 0..20 {
            if std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}
