import { hostname as osHostname } from 'node:os';
import { HOSTNAME_PATTERN, HOSTNAME_RULE, isHostname, isLabel, LABELS_RULE } from '@fleet/contracts/grammar';
import { ConfigError } from '@fleet/runtime/config';
import { COMMON_SETTINGS, loadSettings, parseListenAddress, registryAllowlist, type SettingsSchema } from '@fleet/runtime/settings';

export interface AgentConfig {
  natsUrl: string;
  /** A NATS login given outright (creds file content); else the one the agent made when it joined (`identity`). */
  natsCreds?: string;
  /** Where the agent keeps the NATS identity it makes, and how it joins when it has none yet (README "Enrolling an agent"). */
  identity?: { dir: string; joinToken?: string; gatewayUrl?: string; gatewayCaFile?: string; maxAgeSeconds?: number };
  /** Set: NATS over TLS, the server verified against this CA (README "TLS"). */
  natsCaFile?: string;
  hostname: string;
  labels: Record<string, string>;
  dockerHost: string;
  /** How often the agent checks its record: a change (engine health, a provider's field) is written within this. */
  heartbeatMs: number;
  /** The longest an unchanged record goes unwritten (FLEET_AGENT_REFRESH_MS); unset: the setting's default. */
  refreshMs?: number;
  /** Docker calls run at once on this host; the rest queue. */
  concurrency: number;
  /** Long-running jobs (waits, events, execs, streams) run at once, on slots of their own. */
  longRunningConcurrency: number;
  /** Output kept per stream (stdout, stderr) of one row; the rest is counted, not kept. */
  maxOutputBytes: number;
  /** PEM Ed25519 public key of the gateway's job seals and host-access grants. */
  hostGrantPublicKey: string;
  /** Host path prefixes binds may expose even with a grant; unset: any path a grant covers. */
  hostPaths?: string[];
  /** Registries its engine may be aimed at without a grant (FLEET_REGISTRY_ALLOWLIST, the gateway's list). */
  registries: string[];
  /** Where /metrics and /health are served (port 0: a free one); unset: no metrics server. */
  metricsAddr?: { host: string; port: number };
  /** Days before the NATS CA certificate expires from which the log warns, daily. */
  tlsExpiryWarningDays: number;
  /** The fleet's release public key (PEM): builds it signed are the only ones staged (README "Upgrading agents"). */
  releasePublicKey?: string;
  /** The launcher's state directory, set by the launcher that runs this agent; without it, no self-upgrade. */
  launcherDir?: string;
  /** pino level. */
  logLevel?: string;
}

/** Every variable the agent reads; the README's Configuration table documents each one. */
export const AGENT_SETTINGS = {
  ...COMMON_SETTINGS,
  FLEET_AGENT_HOSTNAME: {
    type: 'string',
    default: () => osHostname().split('.')[0],
    pattern: HOSTNAME_PATTERN,
    must: `${HOSTNAME_RULE} (it becomes a NATS subject token)`,
  },
  FLEET_AGENT_LABELS: { type: 'string', format: 'labels' },
  DOCKER_HOST: { type: 'string', default: 'unix:///var/run/docker.sock', pattern: '^unix:///.+$', must: 'unix:///path/to/docker.sock' },
  FLEET_AGENT_HEARTBEAT_MS: { type: 'integer', default: 5000, minimum: 100, maximum: 60_000 },
  // The gateway's FLEET_AGENT_TTL_MS must exceed it (2.5 times by default: one lost refresh is no outage).
  FLEET_AGENT_REFRESH_MS: { type: 'integer', default: 30_000, minimum: 500, maximum: 600_000 },
  FLEET_AGENT_CONCURRENCY: { type: 'integer', default: 32, minimum: 1, maximum: 1024 },
  FLEET_AGENT_LONG_RUNNING_CONCURRENCY: { type: 'integer', default: 64, minimum: 1, maximum: 4096 },
  // Two streams at the cap, JSON-escaped, plus the row's other fields stay under NATS's default 1 MB payload.
  FLEET_AGENT_MAX_OUTPUT_BYTES: { type: 'integer', default: 256 * 1024, minimum: 1024, maximum: 384 * 1024 },
  // Not a secret, but a key is easiest handed over as a file: `secret` is what enables `_FILE`.
  FLEET_HOST_GRANT_PUBLIC_KEY: {
    type: 'string',
    secret: true,
    required: true,
    pattern: '^-----BEGIN PUBLIC KEY-----[\\s\\S]+-----END PUBLIC KEY-----\\s*$',
    must: 'a PEM (SPKI) Ed25519 public key',
  },
  // The fleet's release key (README "Upgrading agents"): the agent stages only builds it signed; without it, none.
  FLEET_RELEASE_PUBLIC_KEY: {
    type: 'string',
    secret: true,
    pattern: '^-----BEGIN PUBLIC KEY-----[\\s\\S]+-----END PUBLIC KEY-----\\s*$',
    must: 'a PEM (SPKI) Ed25519 public key',
  },
  // Set by the launcher that runs the agent (README "Upgrading agents"): where builds are staged and tried.
  FLEET_LAUNCHER_DIR: { type: 'string', must: "the launcher's state directory" },
  FLEET_AGENT_HOST_PATHS: {
    type: 'string',
    pattern: '^/[^,]*(,/[^,]*)*$',
    must: 'comma-separated absolute path prefixes, e.g. /srv,/data',
  },
  FLEET_AGENT_METRICS_ADDR: { type: 'string', format: 'listen-address' },
  FLEET_AGENT_IDENTITY_DIR: { type: 'string', pattern: '^/', must: 'an absolute directory path, e.g. /var/lib/fleet-agent' },
  // A minute at least: a typo must not become a rotation storm.
  FLEET_AGENT_IDENTITY_MAX_AGE_SECONDS: { type: 'integer', minimum: 60, maximum: 366 * 86_400 },
  FLEET_AGENT_JOIN_TOKEN: {
    type: 'string',
    secret: true,
    pattern: '^fjt_[A-Za-z0-9_-]{43}\\s*$',
    must: 'a join token from `fleet agent join-token` (fjt_…)',
  },
  FLEET_GATEWAY_URL: { type: 'string', pattern: '^https?://[^\\s]+$', must: 'the gateway URL, e.g. https://fleet.example:8080' },
  FLEET_GATEWAY_CA_FILE: { type: 'string', must: "the path of the CA certificate (PEM) that signed the gateway's certificate" },
} as const satisfies SettingsSchema;

/** The refresh of an unchanged record: never more often than the checks that would write it. */
export function heartbeatRefreshMs(config: Pick<AgentConfig, 'heartbeatMs' | 'refreshMs'>): number {
  return Math.max(config.refreshMs ?? AGENT_SETTINGS.FLEET_AGENT_REFRESH_MS.default, config.heartbeatMs);
}

/** Reads the environment (and FLEET_CONFIG_FILE, if set); throws a ConfigError naming every bad value. */
export function loadAgentConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const settings = loadSettings(AGENT_SETTINGS, env);
  // The short-hostname default is checked too: a machine called `web.01` must name its agent explicitly.
  if (!isHostname(settings.FLEET_AGENT_HOSTNAME)) {
    throw new ConfigError(
      `FLEET_AGENT_HOSTNAME='${settings.FLEET_AGENT_HOSTNAME}' (this machine's short hostname) must be ` +
        `${AGENT_SETTINGS.FLEET_AGENT_HOSTNAME.must}`,
    );
  }
  return {
    natsUrl: settings.FLEET_NATS_URL,
    natsCreds: settings.FLEET_NATS_CREDS,
    identity: settings.FLEET_AGENT_IDENTITY_DIR
      ? {
          dir: settings.FLEET_AGENT_IDENTITY_DIR,
          joinToken: settings.FLEET_AGENT_JOIN_TOKEN?.trim(),
          gatewayUrl: settings.FLEET_GATEWAY_URL,
          // `fleet pki`'s one CA signs the gateway's certificate and the NATS server's.
          gatewayCaFile: settings.FLEET_GATEWAY_CA_FILE ?? settings.FLEET_NATS_CA_FILE,
          maxAgeSeconds: settings.FLEET_AGENT_IDENTITY_MAX_AGE_SECONDS,
        }
      : undefined,
    natsCaFile: settings.FLEET_NATS_CA_FILE,
    hostname: settings.FLEET_AGENT_HOSTNAME,
    labels: parseLabels(settings.FLEET_AGENT_LABELS ?? ''),
    dockerHost: settings.DOCKER_HOST,
    heartbeatMs: settings.FLEET_AGENT_HEARTBEAT_MS,
    refreshMs: settings.FLEET_AGENT_REFRESH_MS,
    concurrency: settings.FLEET_AGENT_CONCURRENCY,
    longRunningConcurrency: settings.FLEET_AGENT_LONG_RUNNING_CONCURRENCY,
    maxOutputBytes: settings.FLEET_AGENT_MAX_OUTPUT_BYTES,
    hostGrantPublicKey: settings.FLEET_HOST_GRANT_PUBLIC_KEY,
    hostPaths: settings.FLEET_AGENT_HOST_PATHS?.split(','),
    registries: registryAllowlist(settings.FLEET_REGISTRY_ALLOWLIST),
    metricsAddr: settings.FLEET_AGENT_METRICS_ADDR ? parseListenAddress(settings.FLEET_AGENT_METRICS_ADDR) : undefined,
    tlsExpiryWarningDays: settings.FLEET_TLS_EXPIRY_WARNING_DAYS,
    releasePublicKey: settings.FLEET_RELEASE_PUBLIC_KEY,
    launcherDir: settings.FLEET_LAUNCHER_DIR,
    logLevel: settings.FLEET_LOG_LEVEL,
  };
}

/** `role=web,zone=eu.west` → `{role: 'web', zone: 'eu.west'}`, refusing anything a selector could not match. */
export function parseLabels(raw: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of raw.split(',').filter(Boolean)) {
    const [key, value, ...rest] = pair.split('=');
    if (rest.length || !isLabel(key ?? '', value ?? '')) {
      throw new ConfigError(`FLEET_AGENT_LABELS: '${pair}' is not key=value: ${LABELS_RULE}`);
    }
    labels[key] = value;
  }
  return labels;
}
