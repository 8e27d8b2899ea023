#!/usr/bin/env bash
# Install what the project needs, once: a virtual environment with the package (and, for "test",
# the test tools, the Node.js MCP SDK and Debian's Chromium). Re-running is cheap: each step is
# skipped when its inputs have not changed.
set -euo pipefail
cd "$(dirname "$0")/.."
want="${1:-run}"
PYTHON="${PYTHON:-python3}"

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "mcp-channels needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1))" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv" >&2
    "$PYTHON" -m venv .venv
fi

extras=""
[ "$want" = "test" ] && extras="test,telegram,discord,slack"
stamp=".venv/.installed-$want"
digest="$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
    echo "bootstrap: installing mcp-channels${extras:+[$extras]} into .venv" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip 2>/dev/null || true
    log="$(mktemp)"
    if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras:+[$extras]}" >"$log" 2>&1; then
        grep -v "^WARNING: Location" "$log" >&2 || true
        rm -f "$log"
        echo "bootstrap: pip install failed" >&2
        exit 1
    fi
    rm -f "$log"
    echo "$digest" > "$stamp"
fi

if [ "$want" = "test" ]; then
    # The fakechat browser tests drive Debian's Chromium with Playwright (installed above by the
    # test extra); Playwright's own browser download cannot be used, so the system package is.
    if [ ! -x /usr/bin/chromium ]; then
        echo "bootstrap: installing Debian's chromium for the browser tests" >&2
        sudo=""
        [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo="sudo"
        if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium; } >&2; then
            echo "bootstrap: could not install chromium (apt-get install chromium)" >&2
            exit 1
        fi
    fi
    if [ -f tests/node/package.json ]; then
        node_digest="$(cat tests/node/package.json tests/node/package-lock.json 2>/dev/null | sha256sum | cut -c1-16)"
        if [ "$(cat tests/node/node_modules/.stamp 2>/dev/null)" != "$node_digest" ]; then
            command -v npm >/dev/null || { echo "bootstrap: npm is needed for the TypeScript SDK compatibility test" >&2; exit 1; }
            echo "bootstrap: installing the TypeScript MCP SDK (tests/node)" >&2
            (cd tests/node && npm ci --no-audit --no-fund --silent >&2)
            echo "$node_digest" > tests/node/node_modules/.stamp
        fi
    fi
fi
