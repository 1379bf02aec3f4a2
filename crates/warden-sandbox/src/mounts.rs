//! The sandbox's filesystem view, built by PID 1 in the new mount namespace: a tmpfs base,
//! pivot_root onto it, a read-only, nosuid, nodev recursive bind of the host root, private
//! tmpfs over /tmp, /var/tmp, /run and /dev/shm, a minimal /dev, the home directory empty but
//! for the listed toolchains and configuration (see `home.rs`), the workspace (and extra
//! writable paths) bound writable, repository metadata bound read-only again, secrets covered by
//! empty, unreadable mounts, directories that get a granted new path covered by an overlay (see
//! `staging.rs`), a fresh procfs and sysfs for the new PID and network namespaces, and a
//! final pivot_root that detaches the host root entirely.

use crate::sys::{self, ATTR_NODEV, ATTR_NOSUID, ATTR_RDONLY};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Resolved host paths (canonical, existing) the mount setup works from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Plan {
    pub(crate) workspace: PathBuf,
    pub(crate) writable: Vec<PathBuf>,
    /// The git metadata: repository directories writable (and pinned), their control entries
    /// read-only, in order (see `git_metadata.rs`).
    pub(crate) git: Vec<crate::git_metadata::Mount>,
    pub(crate) readonly: Vec<PathBuf>,
    pub(crate) secrets: Vec<PathBuf>,
    /// Host directory holding (now or soon) the proxy's socket `proxy.sock`; bound at /run/warden.
    pub(crate) proxy_dir: Option<PathBuf>,
    /// Host PEM bundle mounted over the standard bundle files and at [`CA_BUNDLE_INSIDE`].
    #[serde(default)]
    pub(crate) ca_bundle: Option<PathBuf>,
    /// Home directories shown deny-by-default (see `home.rs`), built before the workspace.
    pub(crate) homes: Vec<crate::home::HomeView>,
    /// `kernel.pid_max` of the new PID namespace (Linux >= 6.14 namespaces it), bounding the
    /// number of tasks in the sandbox.
    pub(crate) pid_max: Option<u64>,
    /// Directories covered by an overlay for the new paths granted in them (see `staging.rs`).
    #[serde(default)]
    pub(crate) layers: Vec<crate::staging::Layer>,
}

/// The host directories (relative to `/`, with their modes) that the sandbox replaces with
/// private, empty tmpfs — where they are directories of their own (see [`replaced`]).
pub(crate) const PRIVATE_DIRS: [(&str, &str); 4] = [
    ("tmp", "1777"),
    ("var/tmp", "1777"),
    ("run", "0755"),
    ("dev/shm", "1777"),
];

/// Whether the directory `dir` (one of [`PRIVATE_DIRS`] under some root) is replaced: a link
/// is left as it is.
pub(crate) fn replaced(dir: &Path) -> bool {
    dir.is_dir() && !dir.is_symlink()
}

/// Where the proxy's socket directory appears inside the sandbox.
pub(crate) const PROXY_DIR_INSIDE: &str = "/run/warden";
/// Where the proxy socket appears inside the sandbox.
pub(crate) const PROXY_SOCKET_INSIDE: &str = "/run/warden/proxy.sock";
/// Where the trusted CA bundle appears inside the sandbox (the CA variables name it).
pub(crate) const CA_BUNDLE_INSIDE: &str = "/run/warden-ca.pem";

/// The system bundle files (those that exist and are not links) replaced by the sandbox's.
const SYSTEM_CA_BUNDLES: &[&str] = &[
    "etc/ssl/certs/ca-certificates.crt",
    "etc/pki/tls/certs/ca-bundle.crt",
    "etc/ssl/ca-bundle.pem",
    "etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "etc/ssl/cert.pem",
];

/// Binds the CA bundle read-only at [`CA_BUNDLE_INSIDE`] and over each system bundle file.
fn mount_ca_bundle(bundle: &Path, newroot: &Path) -> Result<(), String> {
    let src = under("/oldroot", bundle);
    let inside = under(&newroot.to_string_lossy(), Path::new(CA_BUNDLE_INSIDE));
    ctx(std::fs::write(&inside, b""), || {
        format!("create {}", inside.display())
    })?;
    let system = SYSTEM_CA_BUNDLES.iter().map(|p| newroot.join(p));
    for t in
        std::iter::once(inside.clone()).chain(system.filter(|t| t.is_file() && !t.is_symlink()))
    {
        bind(&src, &t)?;
        setattr(&t, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV, false)?;
    }
    Ok(())
}

/// A socket the supervisor may listen on to start the proxy on first use (see
/// [`crate::ProxyEndpoint`]); the relay connects to it once when `proxy.sock` is absent.
pub(crate) const WAKE_SOCKET_INSIDE: &str = "/run/warden/wake.sock";

pub(crate) fn under(root: &str, p: &Path) -> PathBuf {
    let rel = p.strip_prefix("/").unwrap_or(p);
    Path::new(root).join(rel)
}

fn ctx<T>(r: std::io::Result<T>, what: impl FnOnce() -> String) -> Result<T, String> {
    r.map_err(|e| format!("{}: {e}", what()))
}

pub(crate) fn tmpfs(target: &Path, flags: libc::c_ulong, data: &str) -> Result<(), String> {
    ctx(
        sys::mount(Some("tmpfs"), target, Some("tmpfs"), flags, Some(data)),
        || format!("mount tmpfs on {}", target.display()),
    )
}

pub(crate) fn bind(src: &Path, target: &Path) -> Result<(), String> {
    ctx(sys::bind(src, target), || {
        format!("bind {} on {}", src.display(), target.display())
    })
}

pub(crate) fn setattr(target: &Path, set: u64, recursive: bool) -> Result<(), String> {
    ctx(sys::setattr(target, set, recursive), || {
        format!("set mount attributes on {}", target.display())
    })
}

/// Make sure `target` exists as a mount point of the same kind as `src`.
pub(crate) fn ensure_mountpoint(src: &Path, target: &Path) -> Result<(), String> {
    if std::fs::symlink_metadata(target).is_ok() {
        return Ok(());
    }
    if src.is_dir() {
        ctx(std::fs::create_dir_all(target), || {
            format!("create {}", target.display())
        })
    } else {
        if let Some(parent) = target.parent() {
            ctx(std::fs::create_dir_all(parent), || {
                format!("create {}", parent.display())
            })?;
        }
        ctx(std::fs::write(target, b""), || {
            format!("create {}", target.display())
        })
    }
}

/// The part of the view that is the same for every sandbox (steps 1 to 4 below: the base,
/// the read-only host root, `/dev`, the private temporary directories), which PID 1 builds
/// while the supervisor still resolves the plan; [`build_on_base`] adds the rest.
pub(crate) fn build_base() -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    let ms = |f: libc::c_ulong| f;
    ctx(
        sys::mount(
            None,
            Path::new("/"),
            None,
            libc::MS_REC | libc::MS_PRIVATE,
            None,
        ),
        || "make / private".into(),
    )?;
    // 1. A tmpfs base; pivot onto it so the host root sits at /oldroot.
    let base = Path::new("/tmp");
    tmpfs(
        base,
        ms(libc::MS_NOSUID | libc::MS_NODEV),
        "mode=0755,size=1m",
    )?;
    ctx(std::env::set_current_dir(base), || {
        "chdir to the base".into()
    })?;
    for d in ["newroot", "oldroot"] {
        ctx(std::fs::create_dir(d), || format!("create /{d}"))?;
    }
    ctx(std::fs::write(".empty", b""), || {
        "create the empty file".into()
    })?;
    ctx(
        std::fs::set_permissions(
            ".empty",
            std::os::unix::fs::PermissionsExt::from_mode(0o000),
        ),
        || "chmod the empty file".into(),
    )?;
    ctx(
        sys::pivot_root(Path::new("."), Path::new("oldroot")),
        || "pivot_root to the base".into(),
    )?;
    ctx(std::env::set_current_dir("/"), || "chdir /".into())?;

    // 2. The host root, read-only, nosuid, nodev, recursively.
    let newroot = Path::new("/newroot");
    bind(Path::new("/oldroot"), newroot)?;
    setattr(newroot, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV, true)?;

    // 3. A minimal /dev.
    let dev = newroot.join("dev");
    if dev.is_dir() {
        tmpfs(
            &dev,
            ms(libc::MS_NOSUID | libc::MS_NOEXEC),
            "mode=0755,size=64k",
        )?;
        for n in ["null", "zero", "full", "random", "urandom", "tty"] {
            let src = Path::new("/oldroot/dev").join(n);
            if src.exists() {
                let t = dev.join(n);
                ctx(std::fs::write(&t, b""), || {
                    format!("create {}", t.display())
                })?;
                bind(&src, &t)?;
            }
        }
        for (link, to) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
            ("ptmx", "pts/ptmx"),
        ] {
            let _ = std::os::unix::fs::symlink(to, dev.join(link));
        }
        for d in ["pts", "shm"] {
            ctx(std::fs::create_dir(dev.join(d)), || {
                format!("create /dev/{d}")
            })?;
        }
        if let Err(e) = sys::mount(
            Some("devpts"),
            &dev.join("pts"),
            Some("devpts"),
            libc::MS_NOSUID | libc::MS_NOEXEC,
            Some("newinstance,ptmxmode=0666,mode=0620"),
        ) {
            notes.push(format!("no private /dev/pts: {e}"));
        }
    }
    // 4. Private temporary directories.
    for (d, mode) in PRIVATE_DIRS {
        let t = newroot.join(d);
        if replaced(&t) {
            tmpfs(
                &t,
                ms(libc::MS_NOSUID | libc::MS_NODEV),
                &format!("mode={mode}"),
            )?;
        }
    }
    Ok(notes)
}

/// The rest of the view on top of [`build_base`], then the pivot into it. Returns notes about
/// things that could not be set up.
pub(crate) fn build_on_base(plan: &Plan) -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    let ms = |f: libc::c_ulong| f;
    let newroot = Path::new("/newroot");
    // 4b. The home directories: empty but for the listed entries (see `home.rs`).
    for h in &plan.homes {
        crate::home::mount(h)?;
    }
    // 5. The workspace and extra writable paths.
    for w in std::iter::once(&plan.workspace).chain(&plan.writable) {
        let src = under("/oldroot", w);
        let t = under("/newroot", w);
        ensure_mountpoint(&src, &t)?;
        bind(&src, &t)?;
        setattr(&t, ATTR_NOSUID | ATTR_NODEV, true)?;
    }
    // 6. Git metadata (repository directories bound from the host, so one inside a read-only
    //    `modules/` is writable again; their control entries read-only), then the other
    //    read-only workspace paths.
    for m in &plan.git {
        match m {
            crate::git_metadata::Mount::Writable(p) => {
                let t = under("/newroot", p);
                bind(&under("/oldroot", p), &t)?;
                setattr(&t, ATTR_NOSUID | ATTR_NODEV, true)?;
            }
            crate::git_metadata::Mount::ReadOnly(p) => {
                let t = under("/newroot", p);
                bind(&t, &t)?;
                setattr(&t, ATTR_RDONLY, true)?;
            }
        }
    }
    for p in &plan.readonly {
        let t = under("/newroot", p);
        bind(&t, &t)?;
        setattr(&t, ATTR_RDONLY, true)?;
    }
    // 7. Secrets: empty, unreadable, read-only stand-ins.
    for s in &plan.secrets {
        let t = under("/newroot", s);
        let Ok(meta) = std::fs::symlink_metadata(&t) else {
            continue;
        };
        if meta.is_dir() {
            tmpfs(
                &t,
                ms(libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC),
                "mode=000,size=4k",
            )?;
        } else {
            bind(Path::new("/.empty"), &t)?;
            setattr(&t, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV, false)?;
        }
    }
    // 8. The proxy's socket directory (the proxy may still be starting).
    if let Some(dir) = &plan.proxy_dir {
        let t = under("/newroot", Path::new(PROXY_DIR_INSIDE));
        ctx(std::fs::create_dir_all(&t), || {
            format!("create {}", t.display())
        })?;
        bind(&under("/oldroot", dir), &t)?;
        setattr(&t, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV, false)?;
    }
    if let Some(bundle) = &plan.ca_bundle {
        mount_ca_bundle(bundle, newroot)?;
    }
    // 8b. Overlays for new paths granted outside the workspace, over all of the above.
    crate::staging::mount(&plan.layers)?;
    // 9. Fresh procfs (for the new PID namespace) with its kernel knobs read-only, and sysfs
    //    (for the new network namespace), read-only.
    let proc_ = newroot.join("proc");
    ctx(
        sys::mount(
            Some("proc"),
            &proc_,
            Some("proc"),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            None,
        ),
        || "mount a fresh /proc".into(),
    )?;
    if let Some(n) = plan.pid_max {
        let knob = proc_.join("sys/kernel/pid_max");
        if let Err(e) = std::fs::write(&knob, n.to_string()) {
            notes.push(format!("not enforced: the process limit (root is exempt from RLIMIT_NPROC and this kernel has no per-namespace pid_max: {e})"));
        }
    }
    for p in ["sys", "sysrq-trigger", "irq", "bus", "fs", "acpi", "scsi"] {
        let t = proc_.join(p);
        if t.exists() {
            bind(&t, &t)?;
            setattr(&t, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV, true)?;
        }
    }
    let sys_ = newroot.join("sys");
    if sys_.is_dir() {
        let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        if let Err(e) = sys::mount(Some("sysfs"), &sys_, Some("sysfs"), flags, None) {
            notes.push(format!("no private /sys ({e}); /sys is empty"));
            tmpfs(&sys_, flags, "mode=0555,size=4k")?;
        }
    }
    // 10. Pivot into the new root and detach everything else.
    ctx(std::env::set_current_dir(newroot), || {
        "chdir /newroot".into()
    })?;
    ctx(sys::pivot_root(Path::new("."), Path::new(".")), || {
        "pivot_root to the new root".into()
    })?;
    ctx(sys::umount_detach(Path::new(".")), || {
        "detach the old root".into()
    })?;
    ctx(std::env::set_current_dir("/"), || "chdir /".into())?;
    Ok(notes)
}
