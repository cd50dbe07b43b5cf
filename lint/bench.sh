#!/usr/bin/env bash
# Benchmark of `featgen lint` against ripgrep on a generated tree of 1,000,000 lines of Rust
# (see lint/benches/lint.rs). Installs ripgrep when it is missing: the benchmark needs it, the
# test suite never does.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v rg >/dev/null; then
  echo "==> installing ripgrep" >&2
  if command -v apt-get >/dev/null; then
    apt-get install -y ripgrep >/dev/null || cargo install ripgrep
  else
    cargo install ripgrep
  fi
fi
exec cargo bench -p featgen-lint --bench lint "$@"
