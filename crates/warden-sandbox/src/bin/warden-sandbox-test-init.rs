//! Stand-alone sandbox init for this crate's own tests, so they can spawn sandboxes without the
//! `warden` package. The installed `warden-sandbox-init` is the `warden` package's binary of
//! the same code (one name, built and installed by one package).

fn main() {
    warden_sandbox::init_main()
}
