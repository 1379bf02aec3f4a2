#!/bin/sh
# Installs the OpenID provider the single sign-on tests run locally: node-oidc-provider from
# the npm registry (pinned) into crates/warden/tests/oidc/node_modules. Needs node and npm
# (Debian's `nodejs` and `npm`). Idempotent: installs only when missing.
set -eu
cd "$(dirname "$0")/../crates/warden/tests/oidc"
VERSION=9.13.3
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends nodejs npm
fi
if [ "$(node -p "require('./node_modules/oidc-provider/package.json').version" 2>/dev/null)" != "$VERSION" ]; then
    [ -f package.json ] || echo '{"private": true, "type": "module"}' > package.json
    npm install --no-audit --no-fund --no-package-lock --silent "oidc-provider@$VERSION"
fi
echo "setup-oidc: oidc-provider $VERSION present"
