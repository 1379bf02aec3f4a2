//! Fills an audit log with N records quickly (group-committed, one `fdatasync` at the end), for
//! benchmarks that need a long log: `bench/run_log_size.sh` compares `warden run -- true` over a
//! log of 100k records with one over an empty log.
//!   cargo run --release -p warden-audit --example fill_log -- LOG N
//! Records are `note`s about the size of a typical intent record, with a checkpoint every 1000
//! records (the default `checkpoint_every`), as a long-lived workspace log has.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(n)) = (args.next(), args.next()) else {
        return Err("usage: fill_log LOG N".into());
    };
    let n: u64 = n.parse()?;
    let log = warden_audit::AuditLog::open(
        std::path::Path::new(&path),
        warden_audit::LogOptions {
            checkpoint_every: 1000,
            origin: "warden/bench".into(),
            ..warden_audit::LogOptions::default()
        },
    )?;
    let filler = "x".repeat(400);
    for i in 0..n {
        let mut body = serde_json::Map::new();
        body.insert("text".into(), format!("bench record {i} {filler}").into());
        if i + 1 == n {
            log.append("note", body)?;
        } else {
            log.append_lazy("note", body)?;
        }
    }
    Ok(())
}
