//! Throughput of `classify` on a realistic mix of agent commands (shell strings through the
//! whole path: parse, peel wrappers, match rules). The target: ≥ 100,000 shell strings
//! per second per core.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;
use warden_policy::{Action, Context, MemoryWorkspace, Policy};

/// A mix weighted like an agent session: mostly reads, builds, tests and git, some wrappers
/// and compounds, a few surfaced actions.
const MIX: &[&str] = &[
    "ls -la",
    "cat src/main.rs",
    "rg -n 'fn classify' crates/",
    "git status",
    "git diff --stat",
    "cargo test -p warden-policy",
    "npm test",
    "python3 -m pytest -q tests/test_api.py",
    "sed -n '1,80p' src/lib.rs",
    "git add -A && git commit -m 'wip'",
    "find . -name '*.rs' | xargs wc -l",
    "cd crates/warden && cargo build 2>&1 | tail -20",
    "bash -lc 'npm ci && npm run build'",
    "git push origin feature/x",
    "curl -X POST https://api.example.invalid/v1 -d @body.json",
    "cat ~/.aws/credentials",
    "kubectl -n prod apply -f deploy.yaml",
    "python3 -c 'import subprocess; subprocess.run([\"git\",\"push\"])'",
    "echo done > /tmp/out.txt",
    "rm -rf target && cargo build --release",
];

fn bench(c: &mut Criterion) {
    let policy = Policy::builtin();
    let ctx = Context {
        workspace: PathBuf::from("/work/ws"),
        cwd: PathBuf::from("/work/ws"),
        home: PathBuf::from("/home/dev"),
        sandboxed: true,
    };
    let actions: Vec<Action> = MIX
        .iter()
        .map(|s| Action::Shell {
            script: (*s).to_owned(),
            cwd: None,
        })
        .collect();
    let mut group = c.benchmark_group("classify");
    group.throughput(Throughput::Elements(actions.len() as u64));
    group.bench_function("shell_mix", |b| {
        b.iter(|| {
            for a in &actions {
                black_box(policy.classify(black_box(a), &ctx));
            }
        })
    });
    let argv = Action::Exec {
        argv: vec!["git".into(), "push".into(), "origin".into(), "main".into()],
        cwd: None,
    };
    group.throughput(Throughput::Elements(1));
    group.bench_function("exec_git_push", |b| {
        b.iter(|| black_box(policy.classify(black_box(&argv), &ctx)))
    });
    group.finish();

    // Lookahead (issue 16): `bash deploy.sh` with a 200-line script read from memory and
    // classified line by line. The target: at most 1 ms.
    let lines = [
        "set -euo pipefail",
        "echo \"building $VERSION\"",
        "cargo build --release",
        "cp target/release/app dist/app",
        "git tag -a \"v$VERSION\" -m release",
        "if [ -f .env.example ]; then cat .env.example; fi",
        "docker build -t app:latest .",
        "kubectl -n prod apply -f deploy.yaml",
        "find dist -name '*.tmp' -delete",
        "rsync -a dist/ build/",
    ];
    let script: String = (0..200)
        .map(|i| format!("{}\n", lines[i % lines.len()]))
        .collect();
    let files = MemoryWorkspace::new().with("/work/ws/deploy.sh", script.clone());
    let run = Action::Shell {
        script: "bash deploy.sh".into(),
        cwd: None,
    };
    assert!(policy.classify_with(&run, &ctx, &files).commands.len() > 200);
    let mut group = c.benchmark_group("lookahead");
    group.throughput(Throughput::Elements(1));
    group.bench_function("script_200_lines", |b| {
        b.iter(|| black_box(policy.classify_with(black_box(&run), &ctx, &files)))
    });
    // The same lines, each naming paths of its own (hardly a path repeats): what the
    // per-classification memo of path verdicts does not help with.
    let distinct: String = (0..200)
        .map(|i| {
            let line = lines[i % lines.len()]
                .replace("dist", &format!("dist{i}"))
                .replace("deploy.yaml", &format!("deploy{i}.yaml"))
                .replace(".env.example", &format!(".env.example{i}"))
                .replace("app:latest", &format!("app{i}:latest"))
                .replace("--release", &format!("--release --target-dir t{i}"))
                .replace("release", &format!("release{i}"));
            format!("{line}\n")
        })
        .collect();
    let distinct_files = MemoryWorkspace::new().with("/work/ws/deploy.sh", distinct);
    assert!(
        policy
            .classify_with(&run, &ctx, &distinct_files)
            .commands
            .len()
            > 200
    );
    group.bench_function("script_200_distinct_lines", |b| {
        b.iter(|| black_box(policy.classify_with(black_box(&run), &ctx, &distinct_files)))
    });
    // The same script's parts: the shell analysis alone (tree-sitter parse and walk), without
    // matching rules; what is left of `script_200_lines` is classification.
    group.bench_function("script_200_lines_analysis_only", |b| {
        b.iter(|| black_box(warden_shell::analyse_shell(black_box(&script))))
    });
    group.finish();
    c.bench_function("policy_load_builtin", |b| {
        b.iter(|| black_box(Policy::builtin()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
