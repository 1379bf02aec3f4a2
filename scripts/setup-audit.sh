#!/usr/bin/env bash
# Installs what the audit tests need, idempotently (checks first, installs only what is missing):
#  - python3 with pip (Debian packages), flock (util-linux);
#  - the rotel OpenTelemetry collector (PyPI package `rotel`, binary `rotel-agent` inside it);
#  - the OpenTelemetry protobuf classes (PyPI package `opentelemetry-proto`) for the test receiver.
# Works on a fresh Debian machine as root.
set -euo pipefail

PY="${WARDEN_TEST_PYTHON:-python3}"
APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" = 0 ]; then apt-get update -qq; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

if ! command -v "$PY" >/dev/null 2>&1; then
    apt_install python3 python3-pip
fi
if ! command -v flock >/dev/null 2>&1; then
    apt_install util-linux
fi
if ! "$PY" -m pip --version >/dev/null 2>&1; then
    apt_install python3-pip
fi

pip_install() {
    # Debian's system Python refuses plain pip installs (PEP 668); allow it there.
    "$PY" -m pip install --quiet "$@" 2>/dev/null \
        || "$PY" -m pip install --quiet --break-system-packages "$@"
}

rotel_ok() {
    "$PY" - <<'PYEOF' >/dev/null 2>&1
import os, rotel
p = os.path.join(os.path.dirname(rotel.__file__), "rotel-agent")
assert os.path.isfile(p) and os.access(p, os.X_OK)
PYEOF
}
if ! rotel_ok; then
    pip_install rotel
    rotel_ok || { echo "rotel installed but its rotel-agent binary is missing" >&2; exit 1; }
fi

if ! "$PY" -c "import opentelemetry.proto.collector.trace.v1.trace_service_pb2, google.protobuf.json_format" >/dev/null 2>&1; then
    pip_install opentelemetry-proto
fi

echo "audit test prerequisites present: $("$PY" -c 'import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), "rotel-agent"))')"
