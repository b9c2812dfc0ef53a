import { hostname as osHostname } from 'node:os';
import { ConfigError, readInt, readSecret } from '@fleet/runtime/config';

export interface AgentConfig {
  natsUrl: string;
  natsUser?: string;
  natsPass?: string;
  hostname: string;
  labels: Record<string, string>;
  dockerHost: string;
  heartbeatMs: number;
  /** Docker calls run at once on this host; the rest queue. */
  concurrency: number;
}

const HOSTNAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const LABEL_KEY = /^[A-Za-z0-9_-]+$/;
const LABEL_VALUE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export function loadAgentConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const hostname = env.FLEET_AGENT_HOSTNAME ?? osHostname().split('.')[0];
  if (!HOSTNAME.test(hostname)) {
    throw new ConfigError(`FLEET_AGENT_HOSTNAME='${hostname}' must match [A-Za-z0-9][A-Za-z0-9_-]{0,62} (it becomes a NATS subject token)`);
  }
  return {
    natsUrl: env.FLEET_NATS_URL ?? 'nats://127.0.0.1:4222',
    natsUser: env.FLEET_NATS_USER,
    natsPass: readSecret(env, 'FLEET_NATS_PASSWORD', false),
    hostname,
    labels: parseLabels(env.FLEET_AGENT_LABELS ?? ''),
    dockerHost: env.DOCKER_HOST ?? 'unix:///var/run/docker.sock',
    heartbeatMs: readInt(env, 'FLEET_AGENT_HEARTBEAT_MS', 5000, 100, 60_000),
    concurrency: readInt(env, 'FLEET_AGENT_CONCURRENCY', 32, 1, 1024),
  };
}

/** `role=web,zone=eu.west` → `{role: 'web', zone: 'eu.west'}`, refusing anything a selector could not match. */
export function parseLabels(raw: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of raw.split(',').filter(Boolean)) {
    const [key, value, ...rest] = pair.split('=');
    if (rest.length || !LABEL_KEY.test(key ?? '') || !LABEL_VALUE.test(value ?? '')) {
      throw new ConfigError(`FLEET_AGENT_LABELS: '${pair}' is not key=value with key [A-Za-z0-9_-]+ and dot-separated value segments [A-Za-z0-9_-]+`);
    }
    labels[key] = value;
  }
  return labels;
}
