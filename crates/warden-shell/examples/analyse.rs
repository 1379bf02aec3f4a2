//! Prints the analysis of each shell string given on the command line (a debugging aid).

fn main() {
    for s in std::env::args().skip(1) {
        let a = warden_shell::analyse_shell(&s);
        println!("== {s}");
        for c in &a.commands {
            println!(
                "  cmd {:?} env={:?} wr={:?} w={:?} r={:?} dyn={} elev={} cwd={:?} span={}..{}",
                c.argv,
                c.env,
                c.wrappers,
                c.writes,
                c.reads,
                c.dynamic,
                c.elevated,
                c.cwd,
                c.span.start,
                c.span.end
            );
        }
        for o in &a.opaque {
            println!(
                "  OPAQUE {:?} {:?} span={}..{}",
                o.reason, o.text, o.span.start, o.span.end
            );
        }
    }
}
