#!/usr/bin/env bash
# The web UI (frontend/): install, build, unit tests, browser end-to-end tests.
#
#   scripts/frontend.sh setup   npm ci, only when node_modules is missing or the lock changed
#   scripts/frontend.sh build   npm run build, only when a source changed since the last build
#   scripts/frontend.sh lint    the API types match the gateway (scripts/api-types.sh --check),
#                               TypeScript strict type check, ESLint
#   scripts/frontend.sh test    Vitest unit tests
#   scripts/frontend.sh e2e     a gateway on a free port (temp SQLite, fake upstream engines)
#                               and the Playwright tests in headless Debian Chromium
#   scripts/frontend.sh serve   that same test gateway in the foreground (to look around)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
FRONTEND="$ROOT/frontend"
PYTHON="$ROOT/.venv/bin/python"

need_node() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        echo "The web UI needs Node.js 20.19+ and npm (https://nodejs.org)." >&2
        exit 1
    fi
    if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
        echo "Node.js $(node --version) is too old for the web UI: 20.19 or newer is needed." >&2
        exit 1
    fi
}

# setup and build check Node only when they run npm: a second `make run` finds both up to
# date and does not start Node at all (0.08 s).
setup() {
    local stamp="$FRONTEND/node_modules/.gpuchat-lock.sha256"
    local want
    want="$(sha256sum "$FRONTEND/package-lock.json" | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return
    fi
    need_node
    echo "Installing the web UI's locked dependencies (npm ci)..." >&2
    (cd "$FRONTEND" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
}

sources_digest() {
    (cd "$FRONTEND" && find src public index.html package-lock.json package.json vite.config.ts \
        tsconfig.json scripts -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

build() {
    setup
    local stamp="$FRONTEND/dist/.build-stamp"
    local want
    want="$(sources_digest)"
    if [ -f "$FRONTEND/dist/index.html" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return
    fi
    need_node
    echo "Building the web UI..." >&2
    (cd "$FRONTEND" && npm run --silent build)
    echo "$want" >"$stamp"
}

lint() {
    need_node
    setup
    "$ROOT/scripts/api-types.sh" --check
    (cd "$FRONTEND" && npm run --silent lint)
}

unit() {
    need_node
    setup
    (cd "$FRONTEND" && npx vitest run "$@")
}

ensure_chromium() {
    if [ -x /usr/bin/chromium ]; then
        return
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "The browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2
        exit 1
    fi
    echo "Installing Chromium (Debian package) for the browser tests..." >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
}

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A gateway for the browser tests: temp data dir and SQLite, three fake engines (the second
# takes two seconds to "load", printing progress; the third has an admin system prompt), a
# known admin password. Sets GATEWAY_URL, GATEWAY_PID and E2E_DIR.
start_gateway() {
    E2E_DIR="$(mktemp -d "${TMPDIR:-/tmp}/gpuchat-e2e.XXXXXX")"
    local fake="$ROOT/gateway/tests/fakes/upstream.py"
    cat >"$E2E_DIR/profiles.yaml" <<EOF
default: fake
profiles:
  - name: fake
    aliases: [default, fake-model]
    engine: command
    command: ["$PYTHON", "$fake", "--port", "{port}"]
    health: /health
    max_concurrency: 8
    limits: {max_tokens: 512}
    timeouts: {connect: 2, first_token: 5, idle: 5, total: 60, start: 20}
  - name: fake-slow-start
    aliases: [second-model]
    engine: command
    command: ["$PYTHON", "$fake", "--port", "{port}", "--load-seconds", "3", "--progress"]
    health: /health
    max_concurrency: 4
    timeouts: {connect: 2, first_token: 5, idle: 5, total: 60, start: 30}
  - name: fake-policy
    aliases: [policy-model]
    engine: command
    command: ["$PYTHON", "$fake", "--port", "{port}"]
    health: /health
    max_concurrency: 4
    system_prompt: "$E2E_POLICY_PROMPT"
    timeouts: {connect: 2, first_token: 5, idle: 5, total: 60, start: 20}
EOF
    local port oidc_port
    port="$(free_port)"
    GATEWAY_URL="http://127.0.0.1:$port"
    # A real OpenID provider for the single sign-on tests (tests/e2e/sso.mjs); one of its
    # accounts has a groups claim, which GPUCHAT_OIDC_SYNC_GROUPS maps to gpuchat groups.
    oidc_port="$(free_port)"
    (cd "$FRONTEND" && OIDC_PORT="$oidc_port" \
        OIDC_REDIRECT_URIS="$GATEWAY_URL/api/auth/oidc/callback" \
        OIDC_ACCOUNTS="$E2E_OIDC_ACCOUNTS" \
        exec node tests/oidc/provider.mjs) >"$E2E_DIR/oidc-provider.log" 2>&1 &
    OIDC_PID=$!
    # Run from the temp dir, so a developer's own .env does not reach the test gateway.
    # Every test signs in from this one address, and every attempt counts (not only
    # failures): the per-address login limit is raised for the suite.
    (
        cd "$E2E_DIR"
        exec env -u GPUCHAT_REDIS_URL -u GPUCHAT_LOG_FILE -u GPUCHAT_DATABASE_URL \
            GPUCHAT_ENV=development \
            GPUCHAT_HOST=127.0.0.1 \
            GPUCHAT_LOGIN_ATTEMPTS_PER_ADDRESS=100/minute \
            GPUCHAT_PORT="$port" \
            GPUCHAT_DATA_DIR="$E2E_DIR/data" \
            GPUCHAT_PROFILES="$E2E_DIR/profiles.yaml" \
            GPUCHAT_UI_DIR="$FRONTEND/dist" \
            GPUCHAT_ADMIN_EMAIL="$E2E_ADMIN_EMAIL" \
            GPUCHAT_ADMIN_PASSWORD="$E2E_ADMIN_PASSWORD" \
            GPUCHAT_OIDC_DISCOVERY_URL="http://127.0.0.1:$oidc_port/.well-known/openid-configuration" \
            GPUCHAT_OIDC_CLIENT_ID=gpuchat \
            GPUCHAT_OIDC_CLIENT_SECRET=test-client-secret \
            GPUCHAT_OIDC_DISPLAY_NAME="Company SSO" \
            GPUCHAT_OIDC_SYNC_GROUPS=true \
            "$ROOT/.venv/bin/gpuchat" serve
    ) >"$E2E_DIR/gateway.log" 2>&1 &
    GATEWAY_PID=$!
    for _ in $(seq 1 150); do
        if "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
            "$GATEWAY_URL/readyz" >/dev/null 2>&1; then
            return
        fi
        if ! kill -0 "$GATEWAY_PID" 2>/dev/null; then
            break
        fi
        sleep 0.2
    done
    echo "The test gateway did not become ready; its log:" >&2
    tail -n 40 "$E2E_DIR/gateway.log" >&2
    exit 1
}

stop_gateway() {
    if [ -n "${OIDC_PID:-}" ] && kill -0 "$OIDC_PID" 2>/dev/null; then
        kill "$OIDC_PID" 2>/dev/null || true
        wait "$OIDC_PID" 2>/dev/null || true
    fi
    if [ -n "${GATEWAY_PID:-}" ] && kill -0 "$GATEWAY_PID" 2>/dev/null; then
        kill "$GATEWAY_PID" 2>/dev/null || true
        wait "$GATEWAY_PID" 2>/dev/null || true
    fi
    if [ -n "${E2E_DIR:-}" ] && [ -z "${GPUCHAT_E2E_KEEP:-}" ]; then
        rm -rf "$E2E_DIR"
    fi
}

E2E_ADMIN_EMAIL="admin@example.com"
E2E_ADMIN_PASSWORD="e2e-admin-password-0123"
# The provider's accounts with claims of their own (any other login name is name@sso.test,
# in no group); tests/e2e/sso.mjs signs in as this one and expects its groups.
E2E_OIDC_ACCOUNTS='{"e2e-sso-researcher": {"email": "researcher@sso.test", "email_verified": true, "groups": ["sso-research", "not-in-gpuchat"]}}'
# The admin system prompt of the `fake-policy` profile (tests/e2e/policy.mjs looks for it).
E2E_POLICY_PROMPT="You are a helpful assistant. Reply in the user's language (한국어 질문에는 한국어로 답하세요). Keep it brief."

e2e() {
    need_node
    build
    ensure_chromium
    trap stop_gateway EXIT
    start_gateway
    echo "Browser tests against $GATEWAY_URL (gateway log: $E2E_DIR/gateway.log)" >&2
    local status=0
    (cd "$FRONTEND" && export GPUCHAT_URL="$GATEWAY_URL" GPUCHAT_E2E_EMAIL="$E2E_ADMIN_EMAIL" \
        GPUCHAT_E2E_PASSWORD="$E2E_ADMIN_PASSWORD" \
        GPUCHAT_E2E_POLICY_PROMPT="$E2E_POLICY_PROMPT" && node tests/e2e/run.mjs "$@" \
        && node tests/e2e/sso.mjs "$@") || status=$?
    if [ "$status" -ne 0 ]; then
        if ! kill -0 "$GATEWAY_PID" 2>/dev/null; then
            echo "The test gateway exited during the tests." >&2
        fi
        echo "Last lines of the gateway log:" >&2
        tail -n 60 "$E2E_DIR/gateway.log" >&2
    fi
    return "$status"
}

serve() {
    build
    trap stop_gateway EXIT
    start_gateway
    echo "Test gateway at $GATEWAY_URL  (admin: $E2E_ADMIN_EMAIL / $E2E_ADMIN_PASSWORD); Ctrl-C stops it" >&2
    wait "$GATEWAY_PID"
}

case "${1:-}" in
    setup) setup ;;
    build) build ;;
    lint) lint ;;
    test) shift; unit "$@" ;;
    e2e) shift; e2e "$@" ;;
    serve) serve ;;
    *)
        echo "usage: scripts/frontend.sh setup|build|lint|test|e2e|serve" >&2
        exit 2
        ;;
esac
