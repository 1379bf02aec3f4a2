//! Measures raw tree-sitter parse cost against the full analysis (a profiling aid).

use std::time::Instant;

fn main() {
    let mix = [
        "ls -la",
        "git status",
        "cargo test -p warden-shell",
        "git add -A && git commit -m 'fix: handle empty input' && git push origin main",
        "grep -rn 'TODO' src | head -20",
        "python3 -c 'import os; os.system(\"git push\")'",
        "docker run --rm -v $(pwd):/w img make",
    ];
    let mut p = tree_sitter::Parser::new();
    p.set_language(&tree_sitter_bash::LANGUAGE.into())
        .expect("language");
    let n = 20_000;
    let t = Instant::now();
    for _ in 0..n {
        for s in &mix {
            std::hint::black_box(p.parse(s, None));
        }
    }
    let parse = t.elapsed();
    let t = Instant::now();
    for _ in 0..n {
        for s in &mix {
            std::hint::black_box(warden_shell::analyse_shell(s));
        }
    }
    let full = t.elapsed();
    let per = |d: std::time::Duration| d.as_secs_f64() * 1e6 / (n * mix.len()) as f64;
    println!(
        "parse {:.2} µs/string, analyse {:.2} µs/string",
        per(parse),
        per(full)
    );
}
