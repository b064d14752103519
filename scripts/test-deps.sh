#!/usr/bin/env bash
# Installs what the browser and protocol-client tests use beyond Rust: Chromium and its
# WebDriver, axe-core (accessibility), a Python venv with the Flask example's requirements
# (authlib, Flask) and the webhook verifiers (standardwebhooks, svix), and Node's openid-client. Without them `cargo test` reports those tests
# as ignored; after this script it runs them. Safe to run again: it installs only what is
# missing. System packages come from apt (run as root, or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
updated=
apt_install() {
    if [ -z "$updated" ]; then as_root apt-get update; updated=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
    echo "== installing Chromium and chromedriver"
    apt_install chromium chromium-driver
fi
# curl runs the documentation's shell blocks (tests/docs_run.rs).
if ! command -v curl >/dev/null 2>&1; then
    echo "== installing curl"
    apt_install curl ca-certificates
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "== installing npm"
    apt_install npm
fi
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c "import ensurepip" 2>/dev/null; then
    echo "== installing python3-venv"
    apt_install python3-venv
fi

# axe-core checks the pages' accessibility in that browser.
if [ ! -f target/axe/package/axe.min.js ]; then
    echo "== fetching axe-core"
    mkdir -p target/axe
    (cd target/axe && npm pack --silent axe-core@4 >/dev/null && tar xzf axe-core-*.tgz)
fi

# Clients nobody here wrote, for the OpenID Connect tests: Python's authlib with Flask (the
# example in examples/flask) and Node's openid-client.
if [ ! -x target/oidc-venv/bin/python ] || ! target/oidc-venv/bin/python -c "import authlib, flask, requests" 2>/dev/null; then
    echo "== installing the Flask example's requirements"
    python3 -m venv target/oidc-venv
    target/oidc-venv/bin/pip install --quiet --disable-pip-version-check -r examples/flask/requirements.txt
fi
# Webhook verifiers nobody here wrote, for tests/webhooks/receiver.py: PyPI's
# standardwebhooks (the Standard Webhooks reference) and svix, in the same venv.
if ! target/oidc-venv/bin/python -c "import standardwebhooks, svix" 2>/dev/null; then
    echo "== installing the webhook verifiers"
    target/oidc-venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/webhooks/requirements.txt
fi
# The Express example's packages (examples/express/package.json) go beside openid-client.
if [ ! -d target/oidc-node/node_modules/openid-client ] || [ ! -d target/oidc-node/node_modules/express-session ]; then
    echo "== fetching openid-client and the Express example's packages"
    mkdir -p target/oidc-node
    (cd target/oidc-node && npm install --silent --no-audit --no-fund --no-save \
        openid-client@5 express@4 express-session@1 jose@4 >/dev/null)
fi

# Node's oidc-provider (an OpenID certified provider) plays the upstream "company IdP" in
# the upstream sign-in tests.
if [ ! -d target/oidc-upstream/node_modules/oidc-provider ]; then
    echo "== fetching oidc-provider"
    mkdir -p target/oidc-upstream
    (cd target/oidc-upstream && npm install --silent --no-audit --no-fund --no-save oidc-provider@9 >/dev/null)
fi

# build.rs decides which tests need these tools and marks them ignored when they are
# missing; touching it makes cargo look again.
touch build.rs
echo "== test tools ready: cargo test runs every test"
