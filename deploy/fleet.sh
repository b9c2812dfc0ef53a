#!/usr/bin/env bash
# `npm run fleet -- <command>`: sets the machine up if needed, builds if the sources changed, then runs the compiled CLI.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo_root/deploy/install-deps.sh" >&2
cd "$repo_root"
node scripts/build.cjs --if-stale >&2
exec node apps/cli/bin/fleet.js "$@"
