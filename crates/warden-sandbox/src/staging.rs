//! New paths outside the workspace that a granted decision named (`mkdir /srv/new`, `git clone
//! URL ../other`, `echo x > /srv/out.txt` before `out.txt` exists). A path cannot be bound
//! writable before it exists, and a stand-in made for it first changes what the command does
//! (`mkdir` fails, `cp -r` copies into it, `mv` cannot replace a mount point) and stays behind when
//! the command does not create it. So the directory that will hold the new path is covered for
//! the run by an overlay whose upper layer is a private host directory; after the run the named
//! paths alone are moved from it to the host, and anything else the command wrote in that
//! directory is discarded and named in a warning. The host's directory itself is never writable.

use crate::home::HomeView;
use crate::mounts::under;
use crate::sys;
use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// One directory of the sandbox's view covered by an overlay for the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Layer {
    /// The directory (canonical host path, as the sandbox shows it).
    pub(crate) dir: PathBuf,
    /// The private host directory holding the overlay's `upper/` and `work/`.
    pub(crate) root: PathBuf,
    /// The named paths, relative to `dir`, moved to the host after the run.
    pub(crate) named: Vec<PathBuf>,
}

impl Layer {
    fn upper(&self) -> PathBuf {
        self.root.join("upper")
    }

    fn work(&self) -> PathBuf {
        self.root.join("work")
    }
}

/// The layers that create the `missing` paths (absolute, nonexistent on the host). Paths in a
/// directory that is writable anyway (`open`: the workspace, the writable paths) need none; a
/// directory hidden in the sandbox (inside a hidden home) is created in the nearest one it
/// shows.
pub(crate) fn plan(
    missing: &[PathBuf],
    open: &[&Path],
    homes: &[HomeView],
) -> Result<Vec<Layer>, String> {
    let mut wanted: Vec<(PathBuf, PathBuf)> = Vec::new();
    for p in missing {
        let (existing, rest) = nearest_existing(p)?;
        if open.iter().any(|o| existing.starts_with(o)) {
            continue;
        }
        let dir = shown(&existing, homes);
        if dir.parent().is_none() {
            return Err(format!(
                "cannot create {}: a new entry of / cannot be granted",
                p.display()
            ));
        }
        wanted.push((dir, existing.join(rest)));
    }
    // One overlay per directory; one inside another's shares the outer one (component order
    // puts a directory before those inside it).
    wanted.sort();
    let base = layers_base();
    let mut layers: Vec<Layer> = Vec::new();
    for (dir, full) in wanted {
        let at = match layers.iter().position(|l| dir.starts_with(&l.dir)) {
            Some(i) => i,
            None => match new_layer(dir, &base) {
                Ok(l) => {
                    layers.push(l);
                    layers.len() - 1
                }
                Err(e) => {
                    layers.iter().for_each(remove_layer);
                    return Err(e);
                }
            },
        };
        let layer = &mut layers[at];
        // `full` is inside `dir`, which is inside the layer's directory.
        let rel = full.strip_prefix(&layer.dir).unwrap_or(&full).to_path_buf();
        if !layer.named.contains(&rel) {
            layer.named.push(rel);
        }
    }
    Ok(layers)
}

/// Whether the missing path `p` can be granted as a new path: plain and absolute, its nearest
/// existing ancestor a directory other than `/` (what [`plan`] then covers).
pub fn can_create(p: &Path) -> bool {
    nearest_existing(p).is_ok_and(|(dir, _)| dir.parent().is_some())
}

/// Where an approved action's new outside paths would be staged (the overlays' upper layers,
/// see [`layers_base`]), and why they cannot be there (`Err`): a directory that is itself on an
/// overlay, or whose file system keeps no user extended attributes (an overlay mounted in a
/// user namespace keeps its own in `user.overlay.*`, so its mount fails there). Tried for real
/// on a fresh private directory, removed again. For `warden doctor`.
pub fn staging_check() -> (PathBuf, Result<(), String>) {
    let Some(base) = layers_dir() else {
        return (
            std::env::temp_dir(),
            Err(
                "it is on an overlay file system (as are /dev/shm and $XDG_RUNTIME_DIR, or they \
                 are missing), which cannot hold another overlay's upper layer"
                    .into(),
            ),
        );
    };
    let result = new_layer(base.clone(), &base).and_then(|layer| {
        let tried = sys::set_xattr(&layer.upper(), c"user.warden.probe", b"1");
        remove_layer(&layer);
        tried.map_err(|e| match e.raw_os_error() {
            Some(libc::EOPNOTSUPP) => "its file system keeps no user extended attributes, which \
                                       an overlay mounted in a user namespace needs"
                .to_owned(),
            _ => format!("a user extended attribute cannot be set there: {e}"),
        })
    });
    (base, result)
}

/// The nearest existing ancestor of `p` (a directory, canonical) and the components below it.
fn nearest_existing(p: &Path) -> Result<(PathBuf, PathBuf), String> {
    let plain = p.is_absolute()
        && p.components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if !plain {
        return Err(format!(
            "writable path {} is not a plain absolute path",
            p.display()
        ));
    }
    let mut rest = Vec::new();
    let mut at = p;
    while std::fs::symlink_metadata(at).is_err() {
        rest.push(at.file_name().unwrap_or_default());
        at = at.parent().unwrap_or(Path::new("/"));
    }
    if !at.is_dir() {
        return Err(format!(
            "cannot create {}: {} is not a directory",
            p.display(),
            at.display()
        ));
    }
    let dir = std::fs::canonicalize(at).map_err(|e| format!("{}: {e}", at.display()))?;
    Ok((dir, rest.iter().rev().collect()))
}

/// `dir`, or its nearest ancestor the sandbox shows when `dir` is hidden in a home (a home
/// shows only its visible entries and the mount points of later binds, and their parents).
fn shown(dir: &Path, homes: &[HomeView]) -> PathBuf {
    let mut at = dir.to_path_buf();
    while let Some(h) = homes.iter().find(|h| at.starts_with(&h.dir) && at != h.dir) {
        let seen = h
            .visible
            .iter()
            .map(|(location, _)| location)
            .chain(&h.mountpoints)
            .any(|l| at.starts_with(l) || l.starts_with(&at));
        if seen {
            break;
        }
        at.pop();
    }
    at
}

/// `statfs` type of an overlay file system, which cannot hold another overlay's upper layer.
const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;

/// Where layers' private directories go: the temporary directory, unless it is itself on an
/// overlay (a container's root), then a memory file system of this user's.
fn layers_base() -> PathBuf {
    layers_dir().unwrap_or_else(std::env::temp_dir)
}

/// The first of the temporary directory, `/dev/shm` and `$XDG_RUNTIME_DIR` that is a directory
/// on a file system other than an overlay; `None` when none is.
fn layers_dir() -> Option<PathBuf> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    std::iter::once(std::env::temp_dir())
        .chain([PathBuf::from("/dev/shm")])
        .chain(runtime)
        .find(|d| d.is_dir() && sys::fs_type(d).is_some_and(|t| t != OVERLAYFS_SUPER_MAGIC))
}

/// A fresh private directory in `base` (see [`layers_base`]) for one layer over `dir` (0700; a
/// name already there, kept from an earlier run, is skipped, never reused).
fn new_layer(dir: PathBuf, base: &Path) -> Result<Layer, String> {
    use std::os::unix::fs::DirBuilderExt;
    static N: AtomicU32 = AtomicU32::new(0);
    let mut b = std::fs::DirBuilder::new();
    b.mode(0o700);
    let root = loop {
        let root = base.join(format!(
            "warden-new.{}.{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        match b.create(&root) {
            Ok(()) => break root,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create {}: {e}", root.display())),
        }
    };
    let layer = Layer {
        dir,
        root,
        named: Vec::new(),
    };
    // The overlay's options are a comma-separated list with `:` between lower layers.
    let unsafe_for_options = [&layer.dir, &layer.root]
        .iter()
        .find(|p| {
            p.to_str()
                .is_none_or(|s| s.contains([',', ':', '\\', '\n']))
        })
        .map(|p| p.display().to_string());
    let made = [layer.upper(), layer.work()].iter().try_for_each(|d| {
        b.create(d)
            .map_err(|e| format!("cannot create {}: {e}", d.display()))
    });
    match (unsafe_for_options, made) {
        (None, Ok(())) => Ok(layer),
        (Some(p), _) => {
            remove_layer(&layer);
            Err(format!(
                "cannot create a new path in {}: {p} holds a character the overlay options \
                 cannot carry (',', ':', '\\')",
                layer.dir.display()
            ))
        }
        (None, Err(e)) => {
            remove_layer(&layer);
            Err(e)
        }
    }
}

/// Covers each layer's directory with its overlay (PID 1, once the rest of the view is built).
/// The lower layer is the directory as the view shows it; an overlay shows only that one
/// filesystem, so the mounts below it (the workspace, a home's visible entries, masked secrets)
/// are cloned first, with their attributes, and put back on top.
pub(crate) fn mount(layers: &[Layer]) -> Result<(), String> {
    if layers.is_empty() {
        return Ok(());
    }
    let table = std::fs::read_to_string("/oldroot/proc/self/mountinfo")
        .map_err(|e| format!("read the mount table: {e}"))?;
    let points = mount_points(&table);
    for l in layers {
        let t = under("/newroot", &l.dir);
        let mut trees = Vec::new();
        for m in top_mounts_below(&points, &t) {
            match sys::clone_tree(&m) {
                Ok(tree) => trees.push((m, tree)),
                // Under a later mount that hides it: nothing to put back.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(format!("clone the mounts at {}: {e}", m.display())),
            }
        }
        let data = format!(
            "lowerdir={},upperdir={},workdir={},userxattr",
            t.display(),
            under("/oldroot", &l.upper()).display(),
            under("/oldroot", &l.work()).display()
        );
        sys::mount(
            Some("overlay"),
            &t,
            Some("overlay"),
            libc::MS_NOSUID | libc::MS_NODEV,
            Some(&data),
        )
        .map_err(|e| {
            format!(
                "cannot cover {} for the new paths granted in it (overlay with its upper layer \
                 in {}): {e}",
                l.dir.display(),
                l.root.display()
            )
        })?;
        for (m, tree) in &trees {
            sys::move_mount_to(tree, m)
                .map_err(|e| format!("put back the mounts at {}: {e}", m.display()))?;
        }
    }
    Ok(())
}

/// The mount points of a `/proc/PID/mountinfo` text (field 5, octal escapes undone).
fn mount_points(table: &str) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|field| {
            let b = field.as_bytes();
            let mut out = Vec::with_capacity(b.len());
            let mut i = 0;
            while i < b.len() {
                let octal = b
                    .get(i + 1..i + 4)
                    .filter(|d| d.iter().all(u8::is_ascii_digit));
                match (b[i], octal) {
                    (b'\\', Some(d)) => {
                        out.push(d.iter().fold(0u8, |n, x| n.wrapping_mul(8) + (x - b'0')));
                        i += 4;
                    }
                    (c, _) => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            PathBuf::from(std::ffi::OsString::from_vec(out))
        })
        .collect()
}

/// The mount points strictly below `dir` that are not below another one of them (a recursive
/// clone of those brings the rest), each once.
fn top_mounts_below(points: &[PathBuf], dir: &Path) -> Vec<PathBuf> {
    let below: Vec<&PathBuf> = points
        .iter()
        .filter(|m| m.starts_with(dir) && m.as_path() != dir)
        .collect();
    let mut top: Vec<PathBuf> = below
        .iter()
        .filter(|m| !below.iter().any(|o| m.starts_with(o) && m != &o))
        .map(|m| m.to_path_buf())
        .collect();
    top.sort();
    top.dedup();
    top
}

/// After the run: moves the named paths the command created to the host, discards the rest of
/// each upper layer, and says what was not kept. Returns the `warning: ` notes.
pub(crate) fn finish(layers: &[Layer]) -> Vec<String> {
    let mut notes = Vec::new();
    for l in layers {
        let upper = l.upper();
        let mut keep = false;
        let mut named = l.named.clone();
        named.sort();
        for (i, rel) in named.iter().enumerate() {
            // Moved with a named directory above it.
            if named[..i].iter().any(|n| rel.starts_with(n)) {
                continue;
            }
            let from = upper.join(rel);
            if std::fs::symlink_metadata(&from).is_err() || is_whiteout(&from) {
                continue;
            }
            if let Err(e) = move_out(&l.dir, &upper, rel) {
                keep = true;
                notes.push(format!(
                    "warning: {} was not created on the host ({e}); what the command made \
                     there is kept in {}",
                    l.dir.join(rel).display(),
                    from.display()
                ));
            }
        }
        let discarded = discarded(&upper, &named);
        if !discarded.is_empty() {
            let shown: Vec<String> = discarded
                .iter()
                .take(5)
                .map(|p| l.dir.join(p).display().to_string())
                .collect();
            let more = discarded.len().saturating_sub(shown.len());
            notes.push(format!(
                "warning: the command wrote {} path(s) outside the workspace it was not \
                 granted; not kept: {}{}",
                discarded.len(),
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        if !keep {
            remove_layer(l);
        }
    }
    notes
}

/// Moves `upper/rel` to `dir/rel` (whose nearest parents may be missing on the host), refusing
/// to replace anything that appeared there meanwhile.
fn move_out(dir: &Path, upper: &Path, rel: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let to = dir.join(rel);
    if std::fs::symlink_metadata(&to).is_ok() {
        return Err(format!(
            "{} appeared on the host during the run",
            to.display()
        ));
    }
    // Parents the command created on the way (`mkdir -p`, `git clone URL a/b`), with the
    // modes it gave them.
    let mut made = PathBuf::new();
    for c in rel.parent().into_iter().flat_map(Path::components) {
        made.push(c);
        let host = dir.join(&made);
        if std::fs::symlink_metadata(&host).is_err() {
            let mode =
                std::fs::metadata(upper.join(&made)).map_or(0o755, |m| m.permissions().mode());
            std::fs::create_dir(&host).map_err(|e| format!("create {}: {e}", host.display()))?;
            let _ = std::fs::set_permissions(&host, PermissionsExt::from_mode(mode & 0o7777));
        }
    }
    let from = upper.join(rel);
    match std::fs::rename(&from, &to) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            copy_tree(&from, &to).map_err(|e| format!("copy to {}: {e}", to.display()))?;
        }
        Err(e) => return Err(e.to_string()),
    }
    scrub(&to);
    Ok(())
}

/// Copies `from` (a file, directory or symbolic link) to the new path `to`, with permissions.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(from)?;
    if meta.is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(from)?, to)
    } else if meta.is_dir() {
        std::fs::create_dir(to)?;
        for e in std::fs::read_dir(from)? {
            let e = e?;
            if !is_whiteout(&e.path()) {
                copy_tree(&e.path(), &to.join(e.file_name()))?;
            }
        }
        std::fs::set_permissions(to, meta.permissions())
    } else if meta.is_file() {
        std::fs::copy(from, to).map(|_| ())
    } else {
        // Devices, sockets and FIFOs are not carried (nodev: the command could not use a
        // device it made anyway).
        Ok(())
    }
}

/// Removes what the overlay leaves in a moved tree (whiteouts, its `user.overlay.*`
/// attributes) and the set-user-ID and set-group-ID bits of files: a sandbox run as root would
/// otherwise plant a set-user-ID root program on the host (nosuid holds only inside).
fn scrub(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if is_whiteout(path) {
        let _ = std::fs::remove_file(path);
        return;
    }
    sys::remove_overlay_xattrs(path);
    let mode = meta.permissions().mode();
    if meta.is_file() && mode & 0o6000 != 0 {
        let _ = std::fs::set_permissions(path, PermissionsExt::from_mode(mode & 0o1777));
    }
    if meta.is_dir()
        && let Ok(entries) = std::fs::read_dir(path)
    {
        for e in entries.flatten() {
            scrub(&e.path());
        }
    }
}

/// An overlay whiteout: a character device 0/0.
fn is_whiteout(p: &Path) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == 0)
}

/// What the upper layer holds besides the named paths and the directories leading to them.
fn discarded(upper: &Path, named: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(upper.join(&rel)) else {
            continue;
        };
        let mut names: Vec<_> = entries.flatten().map(|e| rel.join(e.file_name())).collect();
        names.sort();
        for p in names {
            if named.iter().any(|n| p.starts_with(n)) {
                continue;
            }
            if named.iter().any(|n| n.starts_with(&p)) {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Removes the private directories of layers whose sandbox never started.
pub(crate) fn discard(layers: &[Layer]) {
    layers.iter().for_each(remove_layer);
}

/// Removes a layer's private directory (the overlay's work directory is left without
/// permissions by the kernel).
fn remove_layer(l: &Layer) {
    let _ = std::fs::set_permissions(
        l.work().join("work"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    );
    let _ = std::fs::remove_dir_all(&l.root);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_read_with_their_escapes() {
        let table = "36 35 98:0 / /newroot/srv rw - ext4 /dev/vda rw\n\
                     37 36 98:0 / /newroot/srv/my\\040data rw - ext4 /dev/vdb rw\n";
        assert_eq!(
            mount_points(table),
            [
                PathBuf::from("/newroot/srv"),
                PathBuf::from("/newroot/srv/my data")
            ]
        );
    }

    #[test]
    fn only_the_topmost_mounts_below_are_cloned() {
        let points: Vec<PathBuf> = [
            "/newroot/srv",
            "/newroot/srv/a",
            "/newroot/srv/a/b",
            "/newroot/srv/c",
            "/newroot/srv/c",
            "/newroot/srvx",
            "/newroot",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(
            top_mounts_below(&points, Path::new("/newroot/srv")),
            [
                PathBuf::from("/newroot/srv/a"),
                PathBuf::from("/newroot/srv/c")
            ]
        );
    }

    #[test]
    fn a_hidden_home_directory_is_created_in_the_nearest_one_shown() {
        let home = HomeView {
            dir: "/home/u".into(),
            mode: 0o755,
            visible: vec![("/home/u/.config/git".into(), "/home/u/.config/git".into())],
            mountpoints: vec!["/home/u/src/proj".into()],
        };
        let homes = [home];
        for (dir, at) in [
            ("/home/u", "/home/u"),
            ("/home/u/src", "/home/u/src"),
            ("/home/u/src/proj", "/home/u/src/proj"),
            ("/home/u/hidden/deeper", "/home/u"),
            ("/home/u/.config", "/home/u/.config"),
            ("/home/u/.config/git/sub", "/home/u/.config/git/sub"),
            ("/home/u/.config/other", "/home/u/.config"),
            ("/srv", "/srv"),
        ] {
            assert_eq!(shown(Path::new(dir), &homes), Path::new(at), "{dir}");
        }
    }

    /// The command's paths below the named ones are moved with them; what else it wrote is
    /// listed; the directories leading to a named path are neither.
    #[test]
    fn what_is_not_named_is_listed_as_discarded() {
        let t = tempfile::tempdir().unwrap();
        let u = t.path();
        for d in ["a/b/named", "a/c", "d"] {
            std::fs::create_dir_all(u.join(d)).unwrap();
        }
        std::fs::write(u.join("a/b/named/f"), "").unwrap();
        std::fs::write(u.join("a/b/x"), "").unwrap();
        std::fs::write(u.join("e"), "").unwrap();
        let named = [PathBuf::from("a/b/named")];
        assert_eq!(
            discarded(u, &named),
            ["a/b/x", "a/c", "d", "e"].map(PathBuf::from)
        );
    }

    /// Across filesystems the tree is copied: files with their modes, directories, links.
    #[test]
    fn a_copied_tree_keeps_files_modes_and_links() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let from = t.path().join("from");
        std::fs::create_dir_all(from.join("bin")).unwrap();
        std::fs::write(from.join("bin/run"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(from.join("bin/run"), PermissionsExt::from_mode(0o750)).unwrap();
        std::os::unix::fs::symlink("bin/run", from.join("link")).unwrap();
        let to = t.path().join("to");
        copy_tree(&from, &to).unwrap();
        assert_eq!(
            std::fs::read_to_string(to.join("bin/run")).unwrap(),
            "#!/bin/sh\n"
        );
        let mode = std::fs::metadata(to.join("bin/run"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o750);
        assert_eq!(
            std::fs::read_link(to.join("link")).unwrap(),
            Path::new("bin/run")
        );
    }
}
