#!/bin/sh
# Builds the Debian package of `warden`: the binaries (`warden`, `warden-sandbox-init`), the
# manual pages and shell completions generated from the built binary's own command-line
# definitions, then `cargo deb --no-build`. Prints the path of the .deb on the last line.
#   packaging/build-deb.sh [PROFILE]     (default: $WARDEN_DEB_PROFILE, else release; the
#                                         package test uses `dev`)
# WARDEN_DEB_NO_BUILD=1 packages binaries already built (the test, run by `cargo test`, which
# has built them).
# Needs cargo-deb (scripts/setup-package.sh installs it).
set -eu
cd "$(dirname "$0")/.."
profile=${1:-${WARDEN_DEB_PROFILE:-release}}
target=${CARGO_TARGET_DIR:-$PWD/target}
case "$profile" in
dev | test) out=debug ;;
*) out=$profile ;;
esac
if [ "${WARDEN_DEB_NO_BUILD:-}" != 1 ]; then
    cargo build --locked --quiet --profile "$profile" -p warden --bins
fi
gen=packaging/generated
rm -rf "$gen"
mkdir -p "$gen/man" "$gen/completions"
"$target/$out/warden" man --dir "$gen/man"
"$target/$out/warden" completions bash >"$gen/completions/warden.bash"
"$target/$out/warden" completions zsh >"$gen/completions/_warden"
"$target/$out/warden" completions fish >"$gen/completions/warden.fish"
mkdir -p "$target/debian"
cargo deb --no-build --quiet --profile "$profile" -p warden --strip --no-dbgsym \
    --output "$target/debian/"
ls -t "$target"/debian/warden_*.deb | head -n 1
