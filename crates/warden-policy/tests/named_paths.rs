//! The paths a decision names (`Decision::named`): what clearing the action grants its sandbox
//! (DESIGN.md, "An approval grants what it names"). Outside writes are named only when they are
//! this machine's and not scratch; reads are every argument that could name a file.

use std::path::{Path, PathBuf};
use warden_policy::{Action, Context, Policy};

fn ctx() -> Context {
    Context {
        workspace: PathBuf::from("/ws"),
        cwd: PathBuf::from("/ws"),
        home: PathBuf::from("/home/dev"),
        sandboxed: true,
    }
}

fn named(shell: &str) -> warden_policy::NamedPaths {
    Policy::builtin()
        .classify(
            &Action::Shell {
                script: shell.into(),
                cwd: None,
            },
            &ctx(),
        )
        .named
}

#[test]
fn outside_writes_are_named_once_and_resolved() {
    let n =
        named("echo x >> /srv/x/out.txt; cp a.txt ../elsewhere/b.txt; echo y >> /srv/x/out.txt");
    assert_eq!(
        n.writes_outside,
        [Path::new("/srv/x/out.txt"), Path::new("/elsewhere/b.txt")]
    );
    // Inside the workspace, scratch and pseudo-devices: nothing to grant.
    let n = named("echo x > out.txt; echo y > /tmp/t; echo z > /dev/null");
    assert!(n.writes_outside.is_empty(), "{n:?}");
    // On another machine: not this sandbox's to open up.
    let n = named("ssh host 'echo x > /srv/remote.txt'");
    assert!(n.writes_outside.is_empty(), "{n:?}");
    // A path only known at run time is not named.
    let n = named("p=$(cat dest); echo y >> \"$p\"");
    assert!(n.writes_outside.is_empty(), "{n:?}");
}

#[test]
fn reads_name_the_files_read() {
    let n = named("cat .env; python3 r.py");
    assert!(n.reads.iter().any(|r| r == Path::new("/ws/.env")), "{n:?}");
    assert!(n.reads.iter().any(|r| r == Path::new("/ws/r.py")), "{n:?}");
    let n = named("python3 r.py");
    assert!(!n.reads.iter().any(|r| r.ends_with(".env")), "{n:?}");
    // A write tool names its path as written, not read.
    let d = Policy::builtin().classify(
        &Action::Write {
            path: "/srv/x/out.txt".into(),
        },
        &ctx(),
    );
    assert_eq!(d.named.writes_outside, [Path::new("/srv/x/out.txt")]);
}

/// Writes inside the workspace are named too: the sandbox keeps the configuration that programs
/// on the host run code from (`.claude/`, `.vscode/`, …) read-only unless the cleared decision
/// writes it.
#[test]
fn inside_writes_are_named_apart_from_outside_ones() {
    let n = named(
        "echo '{}' > .mcp.json; cd sub && echo x > ../.claude/settings.json; echo y > /srv/o",
    );
    assert_eq!(
        n.writes_inside,
        [
            Path::new("/ws/.mcp.json"),
            Path::new("/ws/.claude/settings.json")
        ]
    );
    assert_eq!(n.writes_outside, [Path::new("/srv/o")]);
    // Reads are not writes; another machine's paths are not this workspace's.
    let n = named("cat .mcp.json; ssh host 'echo x > /ws/.mcp.json'");
    assert!(n.writes_inside.is_empty(), "{n:?}");
}
