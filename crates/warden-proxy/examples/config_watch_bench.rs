//! Cost of watching a sandboxed run's discovery files (`ConfigWatch::begin` + `end`), which
//! every `warden run` and `warden sandbox` pays: `cargo run --release -p warden-proxy --example
//! config_watch_bench [RUNS]` in a workspace like this repository (prints the mean per run).

fn main() {
    let runs: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let ws = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(ws.path().join(".git")).expect("mkdir");
    std::fs::write(
        ws.path().join(".git/config"),
        "[remote \"origin\"]\n\turl = https://forge.invalid/x.git\n",
    )
    .expect("write");
    std::fs::write(ws.path().join(".npmrc"), "registry=https://npm.invalid/\n").expect("write");
    let env = warden_proxy::DiscoveryEnv::from_process();
    let started = std::time::Instant::now();
    for _ in 0..runs {
        let (watch, trusted) = warden_proxy::ConfigWatch::begin(ws.path(), &env);
        std::hint::black_box(&trusted);
        let _ = watch.map(warden_proxy::ConfigWatch::end);
    }
    println!(
        "ConfigWatch begin+end: {:?} per run ({runs} runs)",
        started.elapsed() / runs
    );
}
