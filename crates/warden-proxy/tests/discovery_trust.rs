//! Workspace files a sandboxed command wrote never become allow rules: for each kind of
//! workspace file discovery reads, content written while a run was watched is ignored (by that
//! run, by concurrent runs, by later runs and by the cache), a warning names the hosts, and a
//! later edit outside the sandbox is believed again.

use std::fs;
use std::path::{Path, PathBuf};
use warden_policy::sections::NetworkConfig;
use warden_proxy::{
    ConfigWatch, DiscoveryEnv, Host, ProxyConfig, WorkspaceConfig, discover,
    discover_registries_cached,
};

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

struct Machine {
    _dir: tempfile::TempDir,
    ws: PathBuf,
    home: PathBuf,
    env: DiscoveryEnv,
}

/// An empty machine (no tools, no system files) with a workspace and a home outside it.
fn machine() -> Machine {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let home = dir.path().join("home");
    fs::create_dir_all(&ws).unwrap();
    fs::create_dir_all(&home).unwrap();
    let mut env = DiscoveryEnv::empty();
    env.set_var("HOME", home.display().to_string());
    Machine {
        _dir: dir,
        ws,
        home,
        env,
    }
}

fn found(m: &Machine, host: &str) -> bool {
    discover(&m.ws, &m.env).iter().any(|d| d.host == host)
}

/// One kind of workspace file: where it is (relative to the workspace), its text naming
/// `host`, and what the machine needs for discovery to read it there.
struct Kind {
    rel: &'static str,
    text: fn(&str) -> String,
    setup: fn(&mut Machine),
}

fn kinds() -> Vec<Kind> {
    vec![
        Kind {
            rel: ".npmrc",
            text: |h| format!("registry=https://{h}/\n"),
            setup: |_| {},
        },
        Kind {
            rel: ".cargo/config.toml",
            text: |h| format!("[registries.x]\nindex = \"sparse+https://{h}/\"\n"),
            setup: |_| {},
        },
        Kind {
            rel: ".cargo/config",
            text: |h| format!("[source.m]\nregistry = \"https://{h}/index\"\n"),
            setup: |_| {},
        },
        Kind {
            rel: ".git/config",
            text: |h| format!("[remote \"origin\"]\n\turl = git@{h}:org/repo.git\n"),
            setup: |m| fs::create_dir_all(m.ws.join(".git")).unwrap(),
        },
        // A virtual environment inside the workspace: its pip.conf is a workspace file.
        Kind {
            rel: ".venv/pip.conf",
            text: |h| format!("[global]\nextra-index-url = https://{h}/simple\n"),
            setup: |m| {
                m.env
                    .set_var("VIRTUAL_ENV", m.ws.join(".venv").display().to_string());
            },
        },
        // Configuration files an environment variable places in the workspace.
        Kind {
            rel: "ci/pip.conf",
            text: |h| format!("[global]\nindex-url = https://{h}/simple\n"),
            setup: |m| {
                m.env.set_var(
                    "PIP_CONFIG_FILE",
                    m.ws.join("ci/pip.conf").display().to_string(),
                );
            },
        },
        Kind {
            rel: "ci/npmrc",
            text: |h| format!("registry=https://{h}/\n"),
            setup: |m| {
                m.env.set_var(
                    "NPM_CONFIG_USERCONFIG",
                    m.ws.join("ci/npmrc").display().to_string(),
                );
            },
        },
        Kind {
            rel: "cargo-home/config.toml",
            text: |h| format!("[registries.x]\nindex = \"https://{h}/\"\n"),
            setup: |m| {
                m.env
                    .set_var("CARGO_HOME", m.ws.join("cargo-home").display().to_string());
            },
        },
        // A home linked into the workspace (a dotfiles repository): its files are workspace
        // files even though their path does not say so.
        Kind {
            rel: "dotfiles/.gemrc",
            text: |h| format!("---\n:sources:\n- https://{h}/\n"),
            setup: |m| {
                fs::create_dir_all(m.ws.join("dotfiles")).unwrap();
                fs::remove_dir_all(&m.home).unwrap();
                std::os::unix::fs::symlink(m.ws.join("dotfiles"), &m.home).unwrap();
            },
        },
        Kind {
            rel: "dotfiles/.m2/settings.xml",
            text: |h| {
                format!(
                    "<settings><mirrors><mirror><url>https://{h}/m2</url></mirror></mirrors></settings>"
                )
            },
            setup: |m| {
                fs::create_dir_all(m.ws.join("dotfiles")).unwrap();
                fs::remove_dir_all(&m.home).unwrap();
                std::os::unix::fs::symlink(m.ws.join("dotfiles"), &m.home).unwrap();
            },
        },
    ]
}

/// For every kind: written during a watched run → ignored afterwards, with a warning naming
/// the host; edited outside the sandbox → believed. Before the fix discovery read each of
/// these files as it found it, so every host below was discovered right after the write.
#[test]
fn a_file_written_during_a_run_is_ignored_until_edited_outside() {
    for kind in kinds() {
        let mut m = machine();
        (kind.setup)(&mut m);
        let path = m.ws.join(kind.rel);
        let host = "written.invalid";

        // Control: written outside any run, the file is believed.
        write(&path, &(kind.text)("trusted.invalid"));
        assert!(found(&m, "trusted.invalid"), "{}: control", kind.rel);

        let (watch, _) = ConfigWatch::begin(&m.ws, &m.env);
        let watch = watch.expect("the run is watched");
        write(&path, &(kind.text)(host)); // what the sandboxed command does
        let notes = watch.end();
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with("warning: ") && n.contains(kind.rel) && n.contains(host)),
            "{}: warned: {notes:?}",
            kind.rel
        );
        assert!(
            !found(&m, host),
            "{}: a written host was discovered",
            kind.rel
        );
        let trusted = WorkspaceConfig::current(&m.ws, &m.env);
        assert_eq!(
            trusted.withheld(),
            [PathBuf::from(kind.rel)],
            "{}",
            kind.rel
        );

        // The person edits it outside the sandbox: believed again.
        write(&path, &format!("{}\n", (kind.text)(host)));
        assert!(found(&m, host), "{}: an edited file is believed", kind.rel);
    }
}

/// Discovery during a run sees the workspace as it was when the run began: a file written
/// before the proxy starts (the same run's first request) does not count.
#[test]
fn a_run_believes_only_what_was_there_before_it_began() {
    let m = machine();
    let (watch, trusted) = ConfigWatch::begin(&m.ws, &m.env);
    write(&m.ws.join(".npmrc"), "registry=https://same-run.invalid/\n");
    let cfg = NetworkConfig {
        forges: Some(false),
        ..NetworkConfig::default()
    };
    let pc = ProxyConfig::from_network_config_trusting(&cfg, &m.ws, &trusted).unwrap();
    let v = pc.decide(&Host::parse("same-run.invalid").unwrap(), 443, None);
    assert!(!v.allowed, "{v:?}");
    let _ = watch.unwrap().end();
}

/// While a run is in progress, another run (or a request Warden sends itself) does not
/// believe what changed since it began; once it ends, the change is tainted.
#[test]
fn concurrent_runs_do_not_believe_each_others_writes() {
    let m = machine();
    let (a, _) = ConfigWatch::begin(&m.ws, &m.env);
    write(
        &m.ws.join(".npmrc"),
        "registry=https://concurrent.invalid/\n",
    );
    let (b, b_trusted) = ConfigWatch::begin(&m.ws, &m.env);
    assert_eq!(b_trusted.withheld(), [PathBuf::from(".npmrc")]);
    assert!(!found(&m, "concurrent.invalid"));
    let _ = a.unwrap().end();
    let _ = b.unwrap().end();
    assert!(
        !found(&m, "concurrent.invalid"),
        "tainted once the run ended"
    );
}

/// A run that ends without recording (Warden killed): the next one settles its marker and
/// taints what changed.
#[test]
fn a_run_that_never_recorded_is_settled_by_the_next() {
    let m = machine();
    let (a, _) = ConfigWatch::begin(&m.ws, &m.env);
    write(&m.ws.join(".npmrc"), "registry=https://crashed.invalid/\n");
    drop(a); // the marker's lock is released as when the process dies
    assert!(!found(&m, "crashed.invalid"));
    let runs = m.ws.join(".warden/discovery/runs");
    assert_eq!(fs::read_dir(&runs).unwrap().count(), 0, "marker settled");
    assert!(!found(&m, "crashed.invalid"), "still tainted");
}

/// A sandboxed command cannot write the state (`.warden/` is read-only inside), and state that
/// cannot be read is not taken as trust.
#[test]
fn unreadable_state_trusts_no_workspace_file() {
    let m = machine();
    write(&m.ws.join(".npmrc"), "registry=https://fine.invalid/\n");
    write(&m.ws.join(".warden/discovery/tainted.json"), "{ not json");
    let trusted = WorkspaceConfig::current(&m.ws, &m.env);
    assert_eq!(trusted.withheld(), [PathBuf::from(".npmrc")]);
    assert!(
        trusted.notes()[0].contains("ignores every workspace configuration file"),
        "{:?}",
        trusted.notes()
    );
    assert!(!found(&m, "fine.invalid"));
}

/// The registry cache holds only what came from outside the workspace, so it cannot keep
/// serving a host of a workspace file that later became tainted (before the fix a cache entry
/// held the workspace's `.npmrc` hosts for an hour).
#[test]
fn the_cache_never_serves_a_workspace_host() {
    let m = machine();
    let cache = m.ws.join(".warden/discovery/cache");
    write(&m.home.join(".npmrc"), "registry=https://home.invalid/\n");
    write(&m.ws.join(".npmrc"), "registry=https://ws-first.invalid/\n");
    let t = WorkspaceConfig::current(&m.ws, &m.env);
    let first = discover_registries_cached(&m.ws, &m.env, &cache, &t);
    assert!(first.iter().any(|d| d.host == "ws-first.invalid"));
    assert!(first.iter().any(|d| d.host == "home.invalid"));
    let entry = fs::read_dir(&cache)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(
        !fs::read_to_string(&entry)
            .unwrap()
            .contains("ws-first.invalid"),
        "workspace hosts are not cached"
    );

    let (w, _) = ConfigWatch::begin(&m.ws, &m.env);
    write(
        &m.ws.join(".npmrc"),
        "registry=https://ws-written.invalid/\n",
    );
    let _ = w.unwrap().end();
    let t = WorkspaceConfig::current(&m.ws, &m.env);
    let second = discover_registries_cached(&m.ws, &m.env, &cache, &t);
    assert!(
        second.iter().all(|d| d.host != "ws-written.invalid"),
        "{second:?}"
    );
    assert!(second.iter().any(|d| d.host == "home.invalid"), "cache hit");
}

/// Cargo's registry cache directories name hosts by directory name only; inside the
/// workspace (a `CARGO_HOME` there) nothing can vouch for them, so they are not believed.
#[test]
fn a_registry_cache_listing_inside_the_workspace_is_not_believed() {
    let mut m = machine();
    let ch = m.ws.join("cargo-home");
    fs::create_dir_all(ch.join("registry/index/listed.invalid-0123456789abcdef")).unwrap();
    m.env.set_var("CARGO_HOME", ch.display().to_string());
    assert!(!found(&m, "listed.invalid"));
}
