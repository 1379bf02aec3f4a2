//! The small first process of every sandbox, installed next to `warden` by the `warden` package
//! (`cargo install`, the Debian package) so each start loads this instead of the whole `warden`
//! (which dispatches the same entry point from `warden __sandbox-init` when this is absent).

fn main() {
    warden_sandbox::init_main()
}
