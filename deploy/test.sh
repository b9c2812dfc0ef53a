#!/usr/bin/env bash
# `npm test`: sets the machine up if needed, then runs the linter (which also holds the import walls between apps,
# packages and deploy), the type checker, the unit tests, the end-to-end suites and the reliability suites.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
bash deploy/install-deps.sh --for-tests
npm run lint
npm run typecheck
# The suites run the compiled gateway, agents and CLI (dist/), as `fleet up` and the systemd units do, and the
# dashboard the gateway serves at /ui (dist/ui).
npm run -s build
npx jest --selectProjects unit
if [[ $EUID -ne 0 ]]; then
  echo 'test: the end-to-end suites start their own dockerd engines and need root' >&2
  exit 1
fi
# Two suites at a time: each starts its own engines (no bridge, no iptables), servers and ports, so they share
# nothing; most of their time is spent waiting on engines and timers, not on the two cores.
npx jest --selectProjects e2e --maxWorkers=2
# Every attack of README "Security model" replayed on a real fleet; prints `[security] N attacks, N blocked`.
npx jest --selectProjects security --maxWorkers=2
# The fleet across network-namespace hosts under tcpdump (README "Multi-host lab"; ~2 min): prints `[multihost] …`.
npx jest --selectProjects multihost --runInBand
# Reliability (README "Reliability suites"): fault injection (~2.5 min), the contract fuzzer (~40 s) and 60 s of
# load (~1.5 min), one at a time: they measure latency and memory, or kill processes on a schedule. One jest run,
# so a failure in one still lets the others report their numbers.
npx jest --selectProjects faults fuzz load --runInBand
