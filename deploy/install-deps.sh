#!/usr/bin/env bash
# Installs what the local fleet and the tests need: the Debian packages (only when run as root)
# and the npm dependencies. Idempotent and silent when everything is in place. All output goes to
# stderr, so wrappers such as `npm run -s fleet -- token create` keep stdout for their own result.
set -euo pipefail
exec 1>&2

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Debian installs dockerd and nats-server under sbin, which non-root PATHs often lack.
export PATH="$PATH:/usr/sbin:/sbin"

# `--for-tests` adds what only the test suites need (a browser for the /docs check; for the multi-host lab,
# tcpdump on its bridge, iptables for its partitions and curl for its brokers' monitoring ports).
FOR_TESTS=false
[[ ${1:-} == --for-tests ]] && FOR_TESTS=true
PACKAGES=(nats-server docker.io busybox-static docker-registry apache2-utils iproute2)
TOOLS=(nats-server dockerd busybox docker-registry htpasswd ip)
if $FOR_TESTS; then
  PACKAGES+=(chromium tcpdump iptables curl)
  TOOLS+=(chromium tcpdump iptables curl)
fi
readonly FOR_TESTS PACKAGES TOOLS

# Prints the tools (one per line) that are missing.
missing_tools() {
  local tool
  for tool in "${TOOLS[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || echo "$tool"
  done
  # The image built from busybox has no libc, so only the static build works inside containers
  # (ldd fails on a static binary).
  if command -v busybox >/dev/null 2>&1 && ldd "$(command -v busybox)" >/dev/null 2>&1; then
    echo 'busybox (static build: busybox-static)'
  fi
}

# Keeps apt from starting the system docker and nats services: the fleet runs its own engines and
# servers, and a system dockerd would also create a docker0 bridge and iptables rules.
readonly POLICY_RC=/usr/sbin/policy-rc.d
install_packages() {
  if [[ ! -e $POLICY_RC ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
    chmod +x "$POLICY_RC"
    trap 'rm -f "$POLICY_RC"' EXIT
  fi
  echo "install-deps: installing ${PACKAGES[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PACKAGES[@]}"
}

ensure_system_packages() {
  local missing
  missing="$(missing_tools)"
  [[ -z $missing ]] && return 0
  if [[ $EUID -ne 0 ]]; then
    echo "install-deps: missing: $(echo "$missing" | paste -sd, - | sed 's/,/, /g')"
    echo "install-deps: run as root to install them, or: apt-get install ${PACKAGES[*]}"
    exit 1
  fi
  install_packages
  missing="$(missing_tools)"
  if [[ -n $missing ]]; then
    echo "install-deps: still missing after apt-get install: $missing"
    exit 1
  fi
}

ensure_node() {
  local major
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if ((major < 20)); then
    echo "install-deps: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))"
    exit 1
  fi
}

# npm writes node_modules/.package-lock.json on every install; a lock file newer than it means
# the dependencies changed since.
ensure_node_modules() {
  cd "$repo_root"
  if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
    echo 'install-deps: npm ci'
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

ensure_system_packages
ensure_node
ensure_node_modules
