//! Discovery runs on the host, outside the sandbox: nothing in the workspace — which sandboxed
//! commands write freely — may run there. A workspace planted with every trick a probed tool
//! could fall for (a `pip` package, interpreters and tools on a `PATH` entry inside the
//! workspace, a `go.mod` asking for another toolchain, a `.npmrc` with `node-options`, a
//! `.git/config` with `core.fsmonitor` and an include, variables pointing into the workspace)
//! runs nothing, while the legitimate configuration is still discovered.
//!
//! One test function on purpose: it makes the workspace the process's working directory (as
//! `warden run` in a workspace has it), which would race with other tests of the same binary.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use warden_proxy::{DiscoveryEnv, discover};

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn executable(path: &Path, text: &str) {
    write(path, text);
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Before the fix, discovery ran `python3 -c …` and `pip`, `npm`, `go`, `gem`, `git` (and
/// `unzip` for Maven) looked up on the caller's `PATH` — which may name workspace directories
/// (an activated `.venv/bin`, `node_modules/.bin`) — with the caller's working directory, often
/// the workspace, so the planted `pip/__init__.py` was imported by the host's Python and the
/// planted tools ran; `go env` honoured a workspace `go.mod` toolchain line. Markers appeared for
/// `pip-package`, `python3`, `npm`, `go`, `git`, ….
#[test]
fn a_hostile_workspace_runs_nothing_on_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let marks = dir.path().join("marks");
    let home = dir.path().join("home");
    fs::create_dir_all(&marks).unwrap();
    fs::create_dir_all(&ws).unwrap();
    let mark = |name: &str| format!("{}/{name}", marks.display());

    // A Python package named like the module the pip probe imports.
    write(
        &ws.join("pip/__init__.py"),
        &format!("open({:?}, 'w').write('x')\n", mark("pip-package")),
    );
    write(&ws.join("pip/_internal/__init__.py"), "");
    // `python -c` also imports a `sitecustomize`/`usercustomize` found first on sys.path.
    write(
        &ws.join("sitecustomize.py"),
        &format!("open({:?}, 'w').write('x')\n", mark("sitecustomize")),
    );
    // Tools on a PATH entry inside the workspace (an activated venv, node_modules/.bin, ./bin).
    for tool in [
        "python3", "python", "pip", "npm", "node", "go", "gem", "git", "unzip", "mvn",
    ] {
        executable(
            &ws.join(".venv/bin").join(tool),
            &format!("#!/bin/sh\ntouch {}\nexit 1\n", mark(tool)),
        );
    }
    // A go.mod asking for a toolchain `go` would look up on PATH (and download otherwise).
    write(
        &ws.join("go.mod"),
        "module x\n\ngo 1.99.1\n\ntoolchain go1.99.1\n",
    );
    executable(
        &ws.join(".venv/bin/go1.99.1"),
        &format!("#!/bin/sh\ntouch {}\n", mark("go-toolchain")),
    );
    // npm options that make node load a workspace script.
    write(
        &ws.join("evil.js"),
        &format!(
            "require('fs').writeFileSync({:?}, 'x')\n",
            mark("node-options")
        ),
    );
    write(
        &ws.join(".npmrc"),
        &format!("node-options=--require {}\n", ws.join("evil.js").display()),
    );
    // pyenv and similar shims pick an interpreter from a version file in the working directory.
    write(
        &ws.join(".python-version"),
        "../../../../../../tmp/nonexistent-evil\n",
    );
    // A repository whose configuration runs programs, with a legitimate remote.
    write(
        &ws.join(".git/config"),
        &format!(
            "[core]\n\tfsmonitor = touch {}\n\tpager = touch {}\n[include]\n\tpath = {}\n\
             [remote \"origin\"]\n\turl = https://forge-legit.invalid/org/repo.git\n",
            mark("fsmonitor"),
            mark("pager"),
            ws.join("included.cfg").display()
        ),
    );
    write(
        &ws.join("included.cfg"),
        &format!("[core]\n\tsshCommand = touch {}\n", mark("include")),
    );
    write(&ws.join(".git/HEAD"), "ref: refs/heads/main\n");
    fs::create_dir_all(ws.join(".git/objects")).unwrap();
    fs::create_dir_all(ws.join(".git/refs")).unwrap();
    // Ruby loads plugins from the gem directories; one inside the workspace.
    write(
        &ws.join("vendor/gems/plugins/evil_plugin.rb"),
        &format!("File.write({:?}, 'x')\n", mark("gem-plugin")),
    );
    // Legitimate configuration outside the workspace.
    write(
        &home.join(".npmrc"),
        "registry=https://npm-legit.invalid/\n",
    );

    let host_path = std::env::var("PATH").unwrap_or_default();
    let mut env = DiscoveryEnv::from_process();
    env.set_var("HOME", home.display().to_string())
        .set_var(
            "PATH",
            format!("{}:{host_path}", ws.join(".venv/bin").display()),
        )
        .set_var("VIRTUAL_ENV", ws.join(".venv").display().to_string())
        .set_var("GEM_HOME", ws.join("vendor/gems").display().to_string())
        .set_var("GOPROXY", "https://goproxy-legit.invalid")
        .set_var("GOTOOLCHAIN", "auto")
        .remove_var("XDG_CONFIG_HOME")
        .remove_var("NPM_CONFIG_USERCONFIG")
        .remove_var("npm_config_userconfig")
        .remove_var("PIP_CONFIG_FILE")
        .remove_var("CARGO_HOME");
    env.set_root(dir.path().join("root"));

    std::env::set_current_dir(&ws).unwrap();
    let found = discover(&ws, &env);
    std::env::set_current_dir(dir.path()).unwrap();

    let ran: Vec<String> = fs::read_dir(&marks)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(ran.is_empty(), "workspace content ran on the host: {ran:?}");
    let has = |host: &str| found.iter().any(|d| d.host == host);
    assert!(has("npm-legit.invalid"), "{found:#?}");
    assert!(has("goproxy-legit.invalid"), "{found:#?}");
    assert!(
        has("forge-legit.invalid"),
        "git remote from .git/config: {found:#?}"
    );
}
