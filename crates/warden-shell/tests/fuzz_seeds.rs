//! Runs the analyser over every fuzz seed (`fuzz/seeds/analyse/*.sh`): no panic, termination
//! within a generous bound, and the span invariants hold. This is the runnable stand-in for
//! the cargo-fuzz target on machines without a nightly toolchain.

mod common;

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use common::check_invariants;
use warden_shell::{analyse_argv, analyse_shell};

fn seeds() -> Vec<(PathBuf, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/analyse");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).expect("seed directory exists") {
        let p = e.expect("dir entry").path();
        if p.extension().is_some_and(|x| x == "sh") {
            let bytes = std::fs::read(&p).expect("seed readable");
            out.push((p, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    out.sort();
    out
}

#[test]
fn every_seed_is_analysed_safely() {
    let seeds = seeds();
    assert!(
        seeds.len() >= 30,
        "expected a few dozen seeds, found {}",
        seeds.len()
    );
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut commands = 0;
        for (path, text) in &seeds {
            let a = analyse_shell(text);
            check_invariants(text, &a);
            commands += a.commands.len();
            let words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
            let joined = words.join(" ");
            let b = analyse_argv(&words);
            check_invariants(&joined, &b);
            let _ = path;
        }
        tx.send(commands).expect("send");
    });
    let commands = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the analyser terminated on every seed without panicking");
    assert!(commands > 0);
}
