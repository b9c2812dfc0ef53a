import { readInt, readSecret } from '@fleet/runtime/config';

export interface GatewayConfig {
  natsUrl: string;
  natsUser?: string;
  natsPass?: string;
  host: string;
  port: number;
  jwtSecret: string;
  /** How long job records and results are kept in JetStream. */
  jobRetentionSeconds: number;
  /** An agent not heard from for this long is no longer live. */
  agentTtlMs: number;
  /** Largest JSON body accepted. */
  bodyLimit: string;
  /** How long audit entries are kept. */
  auditRetentionSeconds: number;
  /** Requests one API key may make per minute (per gateway replica); 0 turns the limit off. */
  rateLimitPerMinute: number;
  /** JetStream replicas of every stream and bucket (3 on a 3-node NATS cluster). */
  replicas: number;
}

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return {
    natsUrl: env.FLEET_NATS_URL ?? 'nats://127.0.0.1:4222',
    natsUser: env.FLEET_NATS_USER,
    natsPass: readSecret(env, 'FLEET_NATS_PASSWORD', false),
    host: env.FLEET_API_HOST ?? '127.0.0.1',
    port: readInt(env, 'FLEET_API_PORT', 8080, 0, 65535),
    jwtSecret: readSecret(env, 'FLEET_JWT_SECRET', true) as string,
    jobRetentionSeconds: readInt(env, 'FLEET_JOB_RETENTION_SECONDS', 7 * 24 * 3600, 60, 365 * 24 * 3600),
    agentTtlMs: readInt(env, 'FLEET_AGENT_TTL_MS', 15_000, 1_000, 600_000),
    bodyLimit: env.FLEET_BODY_LIMIT ?? '256kb',
    auditRetentionSeconds: readInt(env, 'FLEET_AUDIT_RETENTION_SECONDS', 90 * 24 * 3600, 60, 10 * 365 * 24 * 3600),
    rateLimitPerMinute: readInt(env, 'FLEET_RATE_LIMIT_PER_MINUTE', 60_000, 0, 10_000_000),
    replicas: readInt(env, 'FLEET_JETSTREAM_REPLICAS', 1, 1, 5),
  };
}
