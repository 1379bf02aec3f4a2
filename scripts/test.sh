#!/usr/bin/env bash
# The whole test suite: install and start what the tests need (idempotently), then run every
# test of the workspace. `.ci/run` calls this same script.
set -euo pipefail
cd "$(dirname "$0")/.."

for setup in scripts/setup-*.sh; do
  [ -e "$setup" ] || continue
  echo "== $setup" >&2
  bash "$setup"
done

cargo test --workspace --locked "$@"
