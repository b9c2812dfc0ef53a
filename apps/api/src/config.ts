import { DEFAULT_MAX_KEY_TTL_SECONDS } from '@fleet/api-keys';
import { ConfigError } from '@fleet/runtime/config';
import { COMMON_SETTINGS, loadSettings, NKEY_SEED_PATTERN, registryAllowlist, type SettingsSchema } from '@fleet/runtime/settings';

export interface GatewayConfig {
  natsUrl: string;
  /** The gateway's NATS login (creds file content), in the FLEET account. */
  natsCreds?: string;
  /** What enrolling agents needs (README "Enrolling an agent"); absent on a NATS without operator. */
  enrolment?: EnrolmentSecrets;
  /** Set: NATS over TLS, the server verified against this CA (README "TLS"). */
  natsCaFile?: string;
  host: string;
  port: number;
  /** HTTPS with this certificate and key; absent only for plain HTTP on loopback, asked for by FLEET_HTTP_INSECURE. */
  tls?: { certFile: string; keyFile: string };
  /** Days before a certificate expires from which the log warns, daily. */
  tlsExpiryWarningDays: number;
  jwtSecret: string;
  /** How long job records and results are kept in JetStream. */
  jobRetentionSeconds: number;
  /** How the job streams keep dispatch messages: `workqueue` until acked; `limits` (the layout before) for an hour. */
  dispatchRetention: 'workqueue' | 'limits';
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
  /** The longest lifetime a key may have; longer keys are refused, whoever signed them. */
  maxKeyTtlSeconds: number;
  /** When set, GET /metrics requires `Authorization: Bearer <this>`. */
  metricsToken?: string;
  /** GET /metrics without any credential (FLEET_METRICS_PUBLIC=true); without it or a token, /metrics answers no one. */
  metricsPublic: boolean;
  /** PEM Ed25519 private key that seals every job message and signs host-access grants. */
  hostGrantPrivateKey: string;
  /** PEM Ed25519 public key of the fleet's release key: agent builds must be signed by it (README "Upgrading agents"). */
  releasePublicKey?: string;
  /** Bytes a streaming client may leave unread before its stream ends with `overflow`. */
  streamBufferBytes: number;
  /** Long-running calls one API key may have open at once (per replica); 0 turns the limit off. */
  longRunningPerKey: number;
  /** Failed authentications per client address per minute (per replica) before 429; 0 turns the limit off. */
  preAuthRateLimitPerMinute: number;
  /** Size caps of the audit stream (oldest entries go first). */
  auditMaxBytes: number;
  auditMaxMessages: number;
  /** Calls that change nothing one key may have audited in full per window (per replica); past it they are summarised. 0: all in full. */
  auditFullReadsPerKey: number;
  /** The audit budget's window. */
  auditWindowSeconds: number;
  /** The largest file a request may upload (image load, archive put); past it, 413 while streaming. */
  uploadMaxBytes: number;
  /** What the upload store may hold at once, all uploads together; past it, 507. */
  uploadStoreMaxBytes: number;
  /** Registries an engine may be aimed at without docker:host (FLEET_REGISTRY_ALLOWLIST). */
  registries: string[];
  /** pino level. */
  logLevel?: string;
}

export interface EnrolmentSecrets {
  /** A login in nats-server's system account (creds file content): pushes account JWTs. */
  systemCreds: string;
  /** The operator's signing key seed: signs agents' account JWTs. */
  accountSigner: string;
  /** The FLEET account's seed: signs the activations of agents' imports. */
  accountSeed: string;
  /** The seed that signs agents' users. */
  agentUserSigner: string;
}

const DAY = 24 * 3600;

/** Every variable the gateway reads; the README's Configuration table documents each one. */
export const GATEWAY_SETTINGS = {
  ...COMMON_SETTINGS,
  FLEET_NATS_SYSTEM_CREDS: {
    type: 'string',
    secret: true,
    pattern: '-----BEGIN NATS USER JWT-----',
    must: 'a NATS creds file of the system account',
  },
  FLEET_NATS_ACCOUNT_SIGNER: { type: 'string', secret: true, pattern: NKEY_SEED_PATTERN, must: "the operator's signing key seed (SO…)" },
  FLEET_NATS_ACCOUNT_SEED: { type: 'string', secret: true, pattern: NKEY_SEED_PATTERN, must: 'the FLEET account seed (SA…)' },
  FLEET_NATS_AGENT_USER_SIGNER: {
    type: 'string',
    secret: true,
    pattern: NKEY_SEED_PATTERN,
    must: "the agents' user signing key seed (SA…)",
  },
  FLEET_API_HOST: {
    type: 'string',
    default: '127.0.0.1',
    pattern: '^[A-Za-z0-9.:_-]+$',
    must: 'a host name or IP address to listen on, e.g. 127.0.0.1 or 0.0.0.0',
  },
  FLEET_API_PORT: { type: 'integer', default: 8080, minimum: 0, maximum: 65535 },
  FLEET_TLS_CERT_FILE: { type: 'string', must: "the path of the gateway's certificate (PEM; its chain may follow it)" },
  FLEET_TLS_KEY_FILE: { type: 'string', must: "the path of the certificate's private key (PEM)" },
  FLEET_HTTP_INSECURE: { type: 'enum', values: ['loopback'] },
  FLEET_JWT_SECRET: { type: 'string', secret: true, required: true, pattern: '^[\\s\\S]{32,}$', must: 'at least 32 characters' },
  FLEET_JOB_RETENTION_SECONDS: { type: 'integer', default: 7 * DAY, minimum: 60, maximum: 365 * DAY },
  FLEET_DISPATCH_RETENTION: { type: 'enum', values: ['workqueue', 'limits'], default: 'workqueue' },
  // 2.5 times the agents' FLEET_AGENT_REFRESH_MS (30 s): one lost refresh does not take an agent offline.
  FLEET_AGENT_TTL_MS: { type: 'integer', default: 75_000, minimum: 1_000, maximum: 600_000 },
  FLEET_BODY_LIMIT: { type: 'string', default: '256kb', format: 'byte-size' },
  FLEET_AUDIT_RETENTION_SECONDS: { type: 'integer', default: 90 * DAY, minimum: 60, maximum: 10 * 365 * DAY },
  FLEET_RATE_LIMIT_PER_MINUTE: { type: 'integer', default: 60_000, minimum: 0, maximum: 10_000_000 },
  FLEET_JETSTREAM_REPLICAS: { type: 'integer', default: 1, minimum: 1, maximum: 5 },
  FLEET_MAX_KEY_TTL_SECONDS: { type: 'integer', default: DEFAULT_MAX_KEY_TTL_SECONDS, minimum: 60, maximum: 10 * 365 * DAY },
  FLEET_METRICS_TOKEN: {
    type: 'string',
    secret: true,
    pattern: '^[\\x21-\\x7e]{16,}$',
    must: 'at least 16 printable characters, no spaces',
  },
  FLEET_METRICS_PUBLIC: { type: 'enum', values: ['false', 'true'], default: 'false' },
  FLEET_HOST_GRANT_PRIVATE_KEY: {
    type: 'string',
    secret: true,
    required: true,
    pattern: '^-----BEGIN PRIVATE KEY-----[\\s\\S]+-----END PRIVATE KEY-----\\s*$',
    must: 'a PEM (PKCS#8) Ed25519 private key',
  },
  // Not a secret, but a key is easiest handed over as a file: `secret` is what enables `_FILE`.
  FLEET_RELEASE_PUBLIC_KEY: {
    type: 'string',
    secret: true,
    pattern: '^-----BEGIN PUBLIC KEY-----[\\s\\S]+-----END PUBLIC KEY-----\\s*$',
    must: "a PEM Ed25519 public key: the fleet release key's (`fleet agent build keygen`)",
  },
  FLEET_STREAM_BUFFER_BYTES: { type: 'integer', default: 1024 * 1024, minimum: 64 * 1024, maximum: 64 * 1024 * 1024 },
  FLEET_LONG_RUNNING_PER_KEY: { type: 'integer', default: 16, minimum: 0, maximum: 100_000 },
  FLEET_PRE_AUTH_RATE_LIMIT_PER_MINUTE: { type: 'integer', default: 120, minimum: 0, maximum: 10_000_000 },
  FLEET_AUDIT_MAX_BYTES: { type: 'integer', default: 1024 * 1024 * 1024, minimum: 64 * 1024, maximum: 2 ** 50 },
  FLEET_AUDIT_MAX_MESSAGES: { type: 'integer', default: 10_000_000, minimum: 1_000, maximum: 2 ** 50 },
  FLEET_AUDIT_FULL_READS_PER_KEY: { type: 'integer', default: 120, minimum: 0, maximum: 10_000_000 },
  FLEET_AUDIT_WINDOW_SECONDS: { type: 'integer', default: 60, minimum: 1, maximum: 3600 },
  FLEET_UPLOAD_MAX_BYTES: { type: 'integer', default: 1024 ** 3, minimum: 1024, maximum: 2 ** 40 },
  FLEET_UPLOAD_STORE_MAX_BYTES: { type: 'integer', default: 4 * 1024 ** 3, minimum: 1024 * 1024, maximum: 2 ** 50 },
} as const satisfies SettingsSchema;

/** Reads the environment (and FLEET_CONFIG_FILE, if set); throws a ConfigError naming every bad value. */
export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const settings = loadSettings(GATEWAY_SETTINGS, env);
  const enrolment = enrolmentSecrets(settings);
  if (settings.FLEET_METRICS_PUBLIC === 'true' && settings.FLEET_METRICS_TOKEN) {
    throw new ConfigError(
      'FLEET_METRICS_PUBLIC=true and FLEET_METRICS_TOKEN are both set: /metrics is either public or needs the token; set one',
    );
  }
  return {
    tls: transportOf(settings),
    tlsExpiryWarningDays: settings.FLEET_TLS_EXPIRY_WARNING_DAYS,
    natsUrl: settings.FLEET_NATS_URL,
    natsCreds: settings.FLEET_NATS_CREDS,
    enrolment,
    natsCaFile: settings.FLEET_NATS_CA_FILE,
    host: settings.FLEET_API_HOST,
    port: settings.FLEET_API_PORT,
    jwtSecret: settings.FLEET_JWT_SECRET,
    jobRetentionSeconds: settings.FLEET_JOB_RETENTION_SECONDS,
    dispatchRetention: settings.FLEET_DISPATCH_RETENTION,
    agentTtlMs: settings.FLEET_AGENT_TTL_MS,
    bodyLimit: settings.FLEET_BODY_LIMIT,
    auditRetentionSeconds: settings.FLEET_AUDIT_RETENTION_SECONDS,
    rateLimitPerMinute: settings.FLEET_RATE_LIMIT_PER_MINUTE,
    replicas: settings.FLEET_JETSTREAM_REPLICAS,
    maxKeyTtlSeconds: settings.FLEET_MAX_KEY_TTL_SECONDS,
    metricsToken: settings.FLEET_METRICS_TOKEN,
    metricsPublic: settings.FLEET_METRICS_PUBLIC === 'true',
    hostGrantPrivateKey: settings.FLEET_HOST_GRANT_PRIVATE_KEY,
    releasePublicKey: settings.FLEET_RELEASE_PUBLIC_KEY,
    streamBufferBytes: settings.FLEET_STREAM_BUFFER_BYTES,
    longRunningPerKey: settings.FLEET_LONG_RUNNING_PER_KEY,
    preAuthRateLimitPerMinute: settings.FLEET_PRE_AUTH_RATE_LIMIT_PER_MINUTE,
    auditMaxBytes: settings.FLEET_AUDIT_MAX_BYTES,
    auditMaxMessages: settings.FLEET_AUDIT_MAX_MESSAGES,
    auditFullReadsPerKey: settings.FLEET_AUDIT_FULL_READS_PER_KEY,
    auditWindowSeconds: settings.FLEET_AUDIT_WINDOW_SECONDS,
    uploadMaxBytes: settings.FLEET_UPLOAD_MAX_BYTES,
    uploadStoreMaxBytes: settings.FLEET_UPLOAD_STORE_MAX_BYTES,
    registries: registryAllowlist(settings.FLEET_REGISTRY_ALLOWLIST),
    logLevel: settings.FLEET_LOG_LEVEL,
  };
}

const ENROLMENT_VARIABLES = [
  'FLEET_NATS_SYSTEM_CREDS',
  'FLEET_NATS_ACCOUNT_SIGNER',
  'FLEET_NATS_ACCOUNT_SEED',
  'FLEET_NATS_AGENT_USER_SIGNER',
] as const;

/** All four enrolment secrets, or none (a NATS without operator, which enrols no agents); some only is a mistake. */
function enrolmentSecrets(settings: Partial<Record<(typeof ENROLMENT_VARIABLES)[number], string>>): EnrolmentSecrets | undefined {
  const missing = ENROLMENT_VARIABLES.filter((name) => !settings[name]);
  if (missing.length === ENROLMENT_VARIABLES.length) return undefined;
  if (missing.length > 0)
    throw new ConfigError(`enrolling agents needs ${ENROLMENT_VARIABLES.join(', ')} (or each one's _FILE); missing: ${missing.join(', ')}`);
  return {
    systemCreds: settings.FLEET_NATS_SYSTEM_CREDS ?? '',
    accountSigner: settings.FLEET_NATS_ACCOUNT_SIGNER ?? '',
    accountSeed: settings.FLEET_NATS_ACCOUNT_SEED ?? '',
    agentUserSigner: settings.FLEET_NATS_AGENT_USER_SIGNER ?? '',
  };
}

/**
 * HTTPS, or plain HTTP only where nobody else can listen in: a loopback address the operator named with
 * FLEET_HTTP_INSECURE=loopback (development, or behind a reverse proxy on the same host; README "TLS").
 */
function transportOf(settings: {
  FLEET_TLS_CERT_FILE?: string;
  FLEET_TLS_KEY_FILE?: string;
  FLEET_HTTP_INSECURE?: string;
  FLEET_API_HOST: string;
}): GatewayConfig['tls'] {
  const { FLEET_TLS_CERT_FILE: certFile, FLEET_TLS_KEY_FILE: keyFile } = settings;
  if (certFile && keyFile) {
    if (settings.FLEET_HTTP_INSECURE)
      throw new ConfigError(
        'FLEET_HTTP_INSECURE is set with FLEET_TLS_CERT_FILE and FLEET_TLS_KEY_FILE: the gateway serves either HTTPS or plain HTTP; set ' +
          'one',
      );
    return { certFile, keyFile };
  }
  if (certFile || keyFile) throw new ConfigError('FLEET_TLS_CERT_FILE and FLEET_TLS_KEY_FILE go together: set both, or neither');
  if (!settings.FLEET_HTTP_INSECURE) {
    throw new ConfigError(
      'the gateway serves HTTPS: set FLEET_TLS_CERT_FILE and FLEET_TLS_KEY_FILE (`fleet pki --gateway-host <names>` makes them), or ' +
        'FLEET_HTTP_INSECURE=loopback for plain HTTP on a loopback FLEET_API_HOST',
    );
  }
  if (!isLoopback(settings.FLEET_API_HOST)) {
    throw new ConfigError(
      `FLEET_HTTP_INSECURE=loopback but FLEET_API_HOST='${settings.FLEET_API_HOST}' is not a loopback address (127.0.0.1, ::1, ` +
        `localhost): plain HTTP is served on loopback only`,
    );
  }
  return undefined;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
