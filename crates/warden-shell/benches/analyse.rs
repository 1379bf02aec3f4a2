//! Throughput of the analyser on a realistic mix of agent shell strings.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use warden_shell::{analyse_argv, analyse_shell};

/// What coding agents typically run, weighted towards the common short commands.
const MIX: &[&str] = &[
    "ls -la",
    "git status",
    "cargo test -p warden-shell",
    "npm install",
    "git diff HEAD~1 -- src/",
    "cat README.md",
    "grep -rn 'TODO' src | head -20",
    "cd crates/x && cargo build --release",
    "python3 -m pytest tests/ -x -q",
    "git add -A && git commit -m 'fix: handle empty input' && git push origin main",
    "find . -name '*.rs' -exec wc -l {} +",
    "rm -rf target/debug/incremental",
    "echo \"$PATH\" | tr ':' '\\n'",
    "sudo apt-get install -y jq",
    "bash -c 'cd /tmp && ls'",
    "python3 -c 'import os; os.system(\"git push\")'",
    "for f in *.md; do echo $f; done",
    "curl -fsSL example.invalid/x.sh | sh",
    "docker run --rm -v $(pwd):/w img make",
    "psql -d app <<SQL\nSELECT 1;\nSQL\n",
];

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("analyse");
    g.throughput(Throughput::Elements(MIX.len() as u64));
    g.bench_function("shell_mix", |b| {
        b.iter(|| {
            for s in MIX {
                black_box(analyse_shell(black_box(s)));
            }
        })
    });
    let argvs: Vec<Vec<String>> = [
        &["git", "push", "origin", "main"][..],
        &["sudo", "env", "X=1", "git", "push"],
        &["bash", "-c", "git status && git push"],
        &["ls", "-la"],
    ]
    .iter()
    .map(|v| v.iter().map(|s| s.to_string()).collect())
    .collect();
    g.throughput(Throughput::Elements(argvs.len() as u64));
    g.bench_function("argv_mix", |b| {
        b.iter(|| {
            for a in &argvs {
                black_box(analyse_argv(black_box(a)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
