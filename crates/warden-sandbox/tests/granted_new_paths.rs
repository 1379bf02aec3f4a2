//! A granted path outside the workspace that does not exist yet is created as the command
//! creates it (a directory by `mkdir`, with missing parents by `mkdir -p`, a file by a rename),
//! and nothing else reaches the host: before, the sandbox made an empty *file* stand-in for it,
//! so an approved `mkdir /srv/new` or `git clone URL /srv/new` failed and left the empty file.

use std::io::Read;
use std::path::{Path, PathBuf};
use warden_sandbox::{Output, SandboxProfile, SpawnOptions, WorkspaceSecrets, spawn};

struct Ran {
    code: i32,
    out: String,
    err: String,
    notes: Vec<String>,
    /// This process's overlay directories left in the temporary directory after the run.
    left: Vec<PathBuf>,
}

/// Runs one at a time, so what a run leaves in the temporary directory is its own.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn layers_left() -> Vec<PathBuf> {
    let prefix = format!("warden-new.{}.", std::process::id());
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

fn opts() -> SpawnOptions {
    SpawnOptions {
        output: Output::Piped,
        init_exe: Some(env!("CARGO_BIN_EXE_warden-sandbox-test-init").into()),
        ..Default::default()
    }
}

/// Runs `profile`; `meanwhile` runs while the command does.
fn run_with(profile: &SandboxProfile, meanwhile: impl FnOnce()) -> Ran {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut r = spawn(profile, &opts()).expect("spawn");
    let mut notes = r.notes.clone();
    let mut se = r.stderr.take().expect("stderr");
    let mut so = r.stdout.take().expect("stdout");
    let e = std::thread::spawn(move || {
        let mut e = String::new();
        se.read_to_string(&mut e).ok();
        e
    });
    let o = std::thread::spawn(move || {
        let mut o = String::new();
        so.read_to_string(&mut o).ok();
        o
    });
    meanwhile();
    let (out, err) = (o.join().unwrap(), e.join().unwrap());
    let info = r.wait().expect("wait");
    let code = info.shell_code();
    notes.extend(info.notes);
    Ran {
        code,
        out,
        err,
        notes,
        left: layers_left(),
    }
}

fn run(profile: &SandboxProfile) -> Ran {
    run_with(profile, || {})
}

fn profile(ws: &Path, home: &Path, script: &str) -> SandboxProfile {
    let mut p = SandboxProfile::new(
        vec!["sh".into(), "-c".into(), script.into()],
        ws.to_path_buf(),
        home.to_path_buf(),
        vec![("PATH".into(), "/usr/bin:/bin".into())],
    );
    p.workspace_secrets = WorkspaceSecrets::builtin();
    p
}

/// A directory outside `/tmp` (scratch in the default policy) and outside the workspace.
fn outside() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let p = d.path().canonicalize().unwrap();
    (d, p)
}

fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    n.sort();
    n
}

fn not_kept_warning(notes: &[String]) -> &String {
    notes
        .iter()
        .find(|n| n.starts_with("warning: ") && n.contains("not kept"))
        .unwrap_or_else(|| panic!("no warning in {notes:?}"))
}

#[test]
fn new_paths_are_created_as_the_command_creates_them_and_nothing_else() {
    let ws = tempfile::tempdir().unwrap();
    let (_keep, d) = outside();
    std::fs::write(d.join("existing.txt"), "host\n").unwrap();
    let script = format!(
        "mkdir {d}/plain && mkdir -p {d}/deep/a/b && echo hi > {d}/deep/a/b/f && \
         echo v > {d}/tmp.$$ && mv {d}/tmp.$$ {d}/moved.txt && \
         cp /bin/true {d}/deep/a/b/prog && chmod 4755 {d}/deep/a/b/prog && echo ok; \
         echo z > {d}/other.txt; echo \"other=$?\"; echo w >> {d}/existing.txt; \
         mkdir {d}/deep/c; echo done",
        d = d.display()
    );
    // Without the grant nothing outside is writable.
    let r = run(&profile(ws.path(), Path::new("/nonexistent-home"), &script));
    assert!(!r.out.contains("ok\n"), "{}", r.out);
    assert_eq!(names(&d), ["existing.txt"]);

    let mut p = profile(ws.path(), Path::new("/nonexistent-home"), &script);
    for n in ["plain", "deep/a/b", "moved.txt", "unused.txt"] {
        p.writable_files.push(d.join(n));
    }
    let r = run(&p);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.contains("ok\n"), "{}\n{}", r.out, r.err);
    // Each named path as the command made it; missing parents created; nothing for the named
    // path the command did not create (an empty stand-in stayed behind before).
    assert!(d.join("plain").is_dir());
    assert!(names(&d.join("plain")).is_empty());
    assert_eq!(
        std::fs::read_to_string(d.join("deep/a/b/f")).unwrap(),
        "hi\n"
    );
    assert_eq!(names(&d.join("deep/a")), ["b"]);
    // A set-user-ID program made inside does not keep the bit on the host.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(d.join("deep/a/b/prog"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o7777, 0o755);
    assert_eq!(std::fs::read_to_string(d.join("moved.txt")).unwrap(), "v\n");
    assert_eq!(names(&d), ["deep", "existing.txt", "moved.txt", "plain"]);
    // What was not granted: written inside, not kept, named in a warning.
    assert_eq!(
        std::fs::read_to_string(d.join("existing.txt")).unwrap(),
        "host\n"
    );
    let w = not_kept_warning(&r.notes);
    for n in ["other.txt", "existing.txt", "deep/c"] {
        assert!(w.contains(&format!("{}/{n}", d.display())), "{n}: {w}");
    }
    assert!(!w.contains("moved.txt") && !w.contains("plain"), "{w}");
    assert!(r.left.is_empty(), "{:?}", r.left);
}

/// A new path in the home is created in the home the sandbox shows (empty but for its listed
/// entries), never in a copy of the real one: the home's other files stay invisible.
#[test]
fn a_new_path_in_a_hidden_home_shows_nothing_else_of_it() {
    let ws = tempfile::tempdir().unwrap();
    let (_keep, home) = outside();
    std::fs::write(home.join("notes.txt"), "PRIVATE-NOTES\n").unwrap();
    std::fs::create_dir_all(home.join("src/old")).unwrap();
    let target = home.join("src/new");
    let script = format!(
        "ls -A {h}; cat {h}/notes.txt; ls {h}/src; mkdir -p {t} && echo hi > {t}/f && echo ok; \
         echo x > {h}/.bashrc",
        h = home.display(),
        t = target.display()
    );
    let mut p = profile(ws.path(), &home, &script);
    p.writable_files.push(target.clone());
    let r = run(&p);
    assert!(r.out.contains("ok\n"), "{}\n{}", r.out, r.err);
    assert!(!r.out.contains("PRIVATE-NOTES"), "{}", r.out);
    assert!(!r.out.contains("notes.txt"), "{}", r.out);
    assert!(!r.out.contains("old"), "{}", r.out);
    assert_eq!(std::fs::read_to_string(target.join("f")).unwrap(), "hi\n");
    assert_eq!(names(&home.join("src")), ["new", "old"]);
    assert!(!home.join(".bashrc").exists());
    assert!(not_kept_warning(&r.notes).contains(".bashrc"));
    assert!(r.left.is_empty(), "{:?}", r.left);
}

/// Mounts below the covered directory are put back on top of its overlay: the workspace stays
/// the host's (writes land), its secret files stay masked.
#[test]
fn the_workspace_inside_a_covered_directory_stays_as_it_was() {
    let (_keep, d) = outside();
    let ws = d.join("ws");
    std::fs::create_dir(&ws).unwrap();
    std::fs::write(ws.join(".env"), "API_KEY=top-secret-env\n").unwrap();
    let sibling = d.join("sibling");
    let script = format!(
        "echo k > kept.txt; cat .env; rm -f .env; mkdir {s} && echo ok",
        s = sibling.display()
    );
    let mut p = profile(&ws, Path::new("/nonexistent-home"), &script);
    p.writable_files.push(sibling.clone());
    let r = run(&p);
    assert!(r.out.contains("ok\n"), "{}\n{}", r.out, r.err);
    assert!(!r.out.contains("top-secret-env"), "{}", r.out);
    assert_eq!(std::fs::read_to_string(ws.join("kept.txt")).unwrap(), "k\n");
    assert_eq!(
        std::fs::read_to_string(ws.join(".env")).unwrap(),
        "API_KEY=top-secret-env\n"
    );
    assert!(sibling.is_dir());
    assert!(
        !r.notes.iter().any(|n| n.contains("not kept")),
        "{:?}",
        r.notes
    );
}

/// Nothing is lost or replaced when the host gets the same path during the run: the host's
/// stays, the command's is kept aside and the warning says where.
#[test]
fn a_path_that_appears_on_the_host_meanwhile_is_not_replaced() {
    let ws = tempfile::tempdir().unwrap();
    let (_keep, d) = outside();
    let target = d.join("out.txt");
    let ready = ws.path().join("ready");
    let go = ws.path().join("go");
    let script = format!(
        "echo inside > {t}; touch ready; while [ ! -e go ]; do sleep 0.02; done",
        t = target.display()
    );
    let mut p = profile(ws.path(), Path::new("/nonexistent-home"), &script);
    p.writable_files.push(target.clone());
    let r = run_with(&p, || {
        let start = std::time::Instant::now();
        while !ready.exists() && start.elapsed() < std::time::Duration::from_secs(30) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::fs::write(&target, "host\n").unwrap();
        std::fs::write(&go, "").unwrap();
    });
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "host\n");
    let w = r
        .notes
        .iter()
        .find(|n| n.contains("appeared on the host"))
        .unwrap_or_else(|| panic!("{:?}", r.notes));
    let kept = PathBuf::from(w.rsplit(" kept in ").next().unwrap());
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "inside\n");
    // The layer's directory (`ROOT/upper/out.txt`) is the one left.
    let root = kept.parent().unwrap().parent().unwrap();
    assert_eq!(r.left, [root]);
    std::fs::remove_dir_all(root).ok();
}

/// A new entry of `/` is never granted (its directory would be the whole root).
#[test]
fn a_new_entry_of_the_root_is_refused() {
    let ws = tempfile::tempdir().unwrap();
    let mut p = profile(ws.path(), Path::new("/nonexistent-home"), "true");
    p.writable_files
        .push("/warden-test-never-created.invalid".into());
    let Err(e) = spawn(&p, &opts()) else {
        panic!("a new entry of / was granted");
    };
    assert!(e.to_string().contains("cannot be granted"), "{e}");
    assert!(!Path::new("/warden-test-never-created.invalid").exists());
}
