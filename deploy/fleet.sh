#!/usr/bin/env bash
# `npm run fleet -- <command>`: sets the machine up if needed, then runs the fleet CLI.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo_root/deploy/install-deps.sh" >&2
cd "$repo_root"
exec node --import tsx apps/cli/src/main.ts "$@"
