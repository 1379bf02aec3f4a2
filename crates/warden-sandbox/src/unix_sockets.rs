//! The named Unix sockets bound on the host when a sandbox starts, read from the kernel's table
//! (`/proc/net/unix`), so that each is masked inside the sandbox: Landlock (up to ABI 7) does not
//! restrict `connect(2)` to a named socket, and a daemon's socket outside the directories the
//! sandbox replaces (`/run`, `/tmp`, …) — an LXD, Nix or editor socket, another tool's agent
//! socket — would otherwise be reachable from inside. Sockets bound after the start are not in
//! the table; abstract sockets are cut off by the network namespace.

use std::path::{Path, PathBuf};

/// At most this many sockets are masked (each is one mount); more are noted as not enforced.
pub(crate) const MAX_MASKED: usize = 1024;

/// The absolute paths of the sockets in a `/proc/net/unix` table (`Num RefCount Protocol Flags
/// Type St Inode Path`), once each, in table order.
pub(crate) fn bound_paths(table: &str) -> Vec<PathBuf> {
    let mut seen = std::collections::HashSet::new();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let path = fields.get(7..).filter(|p| !p.is_empty())?.join(" ");
            path.starts_with('/').then_some(path)
        })
        .filter(|p| seen.insert(p.clone()))
        .map(PathBuf::from)
        .collect()
}

/// The sockets bound on the host now (this process's network namespace) that `skip` does not
/// leave out, and a note when there were more than [`MAX_MASKED`] of those or the table could
/// not be read.
pub(crate) fn on_host(skip: impl Fn(&Path) -> bool) -> (Vec<PathBuf>, Option<String>) {
    match std::fs::read_to_string("/proc/net/unix") {
        Ok(table) => {
            let mut paths = bound_paths(&table);
            paths.retain(|p| !skip(p));
            let note = (paths.len() > MAX_MASKED).then(|| {
                format!(
                    "not enforced: masking the host's named Unix sockets beyond the first \
                     {MAX_MASKED} of {}",
                    paths.len()
                )
            });
            paths.truncate(MAX_MASKED);
            (paths, note)
        }
        Err(e) => (
            Vec::new(),
            Some(format!(
                "not enforced: masking the host's named Unix sockets (/proc/net/unix: {e})"
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_the_named_sockets_once_each() {
        let table = "Num       RefCount Protocol Flags    Type St Inode Path\n\
             0000000000000000: 00000002 00000000 00010000 0001 01 20375 /var/snap/lxd/common/lxd/unix.socket\n\
             0000000000000000: 00000003 00000000 00000000 0001 03 21000\n\
             0000000000000000: 00000002 00000000 00010000 0001 01 20376 @/tmp/.X11-unix/X0\n\
             0000000000000000: 00000002 00000000 00000000 0002 01 20377 /run/systemd/journal/socket\n\
             0000000000000000: 00000002 00000000 00010000 0001 01 20378 /home/u/my dir/agent.sock\n\
             0000000000000000: 00000002 00000000 00010000 0001 01 20379 /var/snap/lxd/common/lxd/unix.socket\n\
             0000000000000000: 00000002 00000000 00010000 0001 01 20380 relative.sock\n";
        assert_eq!(
            bound_paths(table),
            [
                PathBuf::from("/var/snap/lxd/common/lxd/unix.socket"),
                PathBuf::from("/run/systemd/journal/socket"),
                PathBuf::from("/home/u/my dir/agent.sock"),
            ]
        );
        assert!(bound_paths("").is_empty());
    }

    #[test]
    fn this_machine_s_table_reads() {
        let listener = std::os::unix::net::UnixListener::bind(
            tempfile::tempdir().unwrap().keep().join("probe.sock"),
        )
        .unwrap();
        let path = listener.local_addr().unwrap();
        let path = path.as_pathname().unwrap().to_path_buf();
        let (paths, note) = on_host(|_| false);
        assert!(note.is_none(), "{note:?}");
        assert!(paths.contains(&path), "{path:?} not in {paths:?}");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
