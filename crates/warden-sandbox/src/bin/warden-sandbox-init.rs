//! Stand-alone sandbox init, so the crate's own tests can spawn sandboxes without the `warden`
//! binary (which dispatches the same entry point from `warden __sandbox-init`).

fn main() {
    warden_sandbox::init_main()
}
