#!/usr/bin/env bash
# Runs every medtwin test on a fresh machine: installs what the tests need
# (Python cross-check tools), then runs the whole Rust test suite.
# Usage: scripts/test.sh            (CI runs exactly this: .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*" >&2; }

# Python tools the cross-check tests compare against (lifelines, statsmodels,
# scikit-learn). Tests fail, never skip, when these are missing.
log "checking Python cross-check tools"
if ! python3 -c 'import lifelines, statsmodels, sklearn, pandas, numpy' 2>/dev/null; then
  log "installing Python cross-check tools (scripts/requirements-test.txt)"
  python3 -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi

# Debian packages for tests (scripts/apt-test.txt): headless Chromium, its
# WebDriver and Japanese fonts for the dashboard's browser tests.
if [ -s scripts/apt-test.txt ] && command -v apt-get >/dev/null; then
  missing=$(while read -r p; do [ -n "$p" ] && ! dpkg -s "$p" >/dev/null 2>&1 && echo "$p"; done < scripts/apt-test.txt || true)
  if [ -n "$missing" ]; then
    log "installing Debian packages: $missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
  fi
fi

log "cargo xtask tidy (layer rule, module headers)"
cargo run --quiet --package xtask -- tidy

# Two cores: two test threads keep memory and SQLite contention sane.
log "cargo test --workspace"
cargo test --workspace --no-fail-fast -- --test-threads=2
