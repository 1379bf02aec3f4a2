//! What a run is granted widens its sandbox by exactly that: the workspace's secret files are
//! masked unless the run may read them, and only the outside files it was granted are writable
//! (the rest of their directory stays read-only).

use std::io::Read;
use std::path::{Path, PathBuf};
use warden_sandbox::{Output, SandboxProfile, SpawnOptions, WorkspaceSecrets, spawn};

fn run(profile: &SandboxProfile) -> (i32, String, String, Vec<String>) {
    let opts = SpawnOptions {
        output: Output::Piped,
        init_exe: Some(env!("CARGO_BIN_EXE_warden-sandbox-test-init").into()),
        ..Default::default()
    };
    let mut r = spawn(profile, &opts).expect("spawn");
    let mut notes = r.notes.clone();
    let mut se = r.stderr.take().expect("stderr");
    let t = std::thread::spawn(move || {
        let mut e = String::new();
        se.read_to_string(&mut e).ok();
        e
    });
    let mut out = String::new();
    r.stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .ok();
    let err = t.join().unwrap();
    let info = r.wait().expect("wait");
    notes.extend(info.notes.iter().cloned());
    (info.shell_code(), out, err, notes)
}

fn profile(ws: &Path, script: &str) -> SandboxProfile {
    let mut p = SandboxProfile::new(
        vec!["sh".into(), "-c".into(), script.into()],
        ws.to_path_buf(),
        "/nonexistent-home".into(),
        vec![("PATH".into(), "/usr/bin:/bin".into())],
    );
    p.workspace_secrets = WorkspaceSecrets::builtin();
    p
}

fn workspace() -> (tempfile::TempDir, PathBuf) {
    let ws = tempfile::tempdir().expect("tempdir");
    let root = ws.path().canonicalize().unwrap();
    std::fs::write(root.join(".env"), "API_KEY=top-secret-env\n").unwrap();
    std::fs::write(root.join(".env.example"), "API_KEY=changeme\n").unwrap();
    std::fs::create_dir_all(root.join("deploy/certs")).unwrap();
    std::fs::write(root.join("deploy/certs/server.pem"), "PEM-SECRET\n").unwrap();
    std::fs::write(root.join("deploy/certs/server.pub"), "PUBLIC\n").unwrap();
    std::fs::create_dir_all(root.join("node_modules/pkg")).unwrap();
    std::fs::write(root.join("node_modules/pkg/test.key"), "FIXTURE\n").unwrap();
    (ws, root)
}

/// Without them the secret files' contents are unreachable to any program (the old sandbox let
/// `python3 r.py` print `.env` at tier auto); examples, public keys and dependencies' files stay.
#[test]
fn workspace_secret_files_are_masked_unless_granted() {
    let (_keep, ws) = workspace();
    let script = "cat .env; cat deploy/certs/server.pem; cat .env.example deploy/certs/server.pub \
                  node_modules/pkg/test.key; echo end";
    let (code, out, err, _) = run(&profile(&ws, script));
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("top-secret-env"), "{out}");
    assert!(!out.contains("PEM-SECRET"), "{out}");
    assert_eq!(out, "API_KEY=changeme\nPUBLIC\nFIXTURE\nend\n");
    // Nor can the command remove the stand-in to get at the file.
    let (_, _, _, _) = run(&profile(
        &ws,
        "rm -f .env; mv deploy/certs/server.pem x 2>/dev/null",
    ));
    assert_eq!(
        std::fs::read_to_string(ws.join(".env")).unwrap(),
        "API_KEY=top-secret-env\n"
    );

    // The granted decision read `.env`: exactly that one becomes readable.
    let mut p = profile(&ws, "cat .env; cat deploy/certs/server.pem; echo end");
    p.readable_secrets.push(ws.join(".env"));
    let (code, out, err, _) = run(&p);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "API_KEY=top-secret-env\nend\n");
}

/// An approved write outside the workspace lands at the named path only: a second path in the
/// same directory never reaches the host (before, neither was writable and the run failed with
/// "Read-only file system"). While the named file is new, its directory is an overlay for the
/// run, so the other writes succeed inside and are discarded with a warning; once it exists, it
/// alone is bound writable and the others fail.
#[test]
fn only_the_granted_outside_file_is_writable() {
    let (_keep, ws) = workspace();
    let outside = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let out_dir = outside.path().canonicalize().unwrap();
    let granted = out_dir.join("out.txt");
    let other = out_dir.join("other.txt");
    let script = format!(
        "echo x >> {g}; echo \"granted=$?\"; echo y >> {o}; echo \"other=$?\"; \
         echo z > {d}/new.txt; echo \"new=$?\"",
        g = granted.display(),
        o = other.display(),
        d = out_dir.display()
    );
    // Without the grant: nothing outside is writable.
    let (_, out, _, _) = run(&profile(&ws, &script));
    assert!(
        out.contains("granted=1") || out.contains("granted=2"),
        "{out}"
    );
    assert!(!granted.exists());

    let mut p = profile(&ws, &script);
    p.writable_files.push(granted.clone());
    let (code, out, err, notes) = run(&p);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("granted=0"), "{out}");
    assert_eq!(std::fs::read_to_string(&granted).unwrap(), "x\n");
    assert!(!other.exists());
    assert!(!out_dir.join("new.txt").exists());
    let warning = notes
        .iter()
        .find(|n| n.starts_with("warning: ") && n.contains("not kept"))
        .unwrap_or_else(|| panic!("{notes:?}"));
    assert!(
        warning.contains("other.txt") && warning.contains("new.txt"),
        "{warning}"
    );

    // Now that it exists, it alone is writable.
    let (code, out, err, _) = run(&p);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("granted=0"), "{out}");
    assert!(!out.contains("other=0"), "{out}");
    assert!(!out.contains("new=0"), "{out}");
    assert_eq!(std::fs::read_to_string(&granted).unwrap(), "x\nx\n");
    assert!(!other.exists());
    assert!(!out_dir.join("new.txt").exists());

    // A symlink named as the granted file is refused, not followed.
    let link = out_dir.join("link.txt");
    std::os::unix::fs::symlink(&other, &link).unwrap();
    let mut p = profile(&ws, "true");
    p.writable_files.push(link);
    let opts = SpawnOptions {
        init_exe: Some(env!("CARGO_BIN_EXE_warden-sandbox-test-init").into()),
        ..Default::default()
    };
    assert!(spawn(&p, &opts).is_err());
}

#[test]
fn the_shipped_list_names_the_usual_secret_files() {
    let s = WorkspaceSecrets::builtin();
    for secret in [
        ".env",
        ".env.local",
        ".env.production",
        "server.pem",
        "tls.key",
        "id_ed25519",
    ] {
        assert!(s.is_secret(secret), "{secret}");
    }
    for plain in [
        ".env.example",
        ".env.local.example",
        "id_ed25519.pub",
        "main.rs",
        "env.ts",
    ] {
        assert!(!s.is_secret(plain), "{plain}");
    }
    assert!(s.skip.iter().any(|d| d == "node_modules"));
    assert!(
        s.skip.iter().any(|d| d == "target"),
        "a build tree is not walked on every run"
    );
    assert!(warden_sandbox::BUILTIN_WORKSPACE_SECRETS.contains("Version 1"));
}
