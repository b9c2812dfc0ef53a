/**
 * The gateway's start-up configuration: environment first, then the
 * optional FLEET_CONFIG_FILE (JSON or YAML, same variable names), secrets
 * from `<NAME>_FILE`; every bad value is named with its value and what it
 * must be, all of them in one message.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gatewayPermissions } from '@fleet/contracts/nats-permissions';
import { ConfigError } from '@fleet/runtime/config';
import { credsFileContent, newAccountKey, newOperatorKey, newUserKey, userJwt } from '@fleet/runtime/nats-identity';
import { CONFIG_FILE_VARIABLE } from '@fleet/runtime/settings';
import { GATEWAY_SETTINGS, loadGatewayConfig } from './config';

const SECRET = 'a-signing-secret-of-at-least-32-characters';
const CREDS = credsFileContent(
  userJwt(newAccountKey(), newUserKey().getPublicKey(), 'gateway', gatewayPermissions()),
  newUserKey().getSeed(),
);
/** Every gateway needs its job-sealing key (README "What an agent's NATS login can and cannot do"). */
const GRANT_PEM = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const GRANT = { FLEET_HOST_GRANT_PRIVATE_KEY: GRANT_PEM };
/** The gateway serves HTTPS (README "TLS"): these paths are only named here, not read. */
const TLS = { FLEET_TLS_CERT_FILE: '/etc/fleet/tls/gateway.pem', FLEET_TLS_KEY_FILE: '/etc/fleet/tls/gateway-key.pem' };
/** ... or plain HTTP on loopback, when asked for. */
const LOOPBACK_HTTP = { FLEET_HTTP_INSECURE: 'loopback' };
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fleet-config-'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const full = path.join(dir, name);
  writeFileSync(full, content);
  return full;
}

/** The ConfigError's message, or a failure when none was thrown. */
function refusal(load: () => unknown): string {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('gateway configuration', () => {
  it('refuses to start without the key that seals every job', () => {
    expect(refusal(() => loadGatewayConfig({ FLEET_JWT_SECRET: SECRET }))).toBe(
      'FLEET_HOST_GRANT_PRIVATE_KEY or FLEET_HOST_GRANT_PRIVATE_KEY_FILE must be set',
    );
  });

  it('needs only the signing secret, the sealing key and its certificate; everything else has its documented default', () => {
    expect(loadGatewayConfig({ ...GRANT, ...TLS, FLEET_JWT_SECRET: SECRET })).toEqual({
      tls: { certFile: TLS.FLEET_TLS_CERT_FILE, keyFile: TLS.FLEET_TLS_KEY_FILE },
      tlsExpiryWarningDays: 30,
      natsUrl: 'nats://127.0.0.1:4222',
      natsCreds: undefined,
      enrolment: undefined,
      natsCaFile: undefined,
      host: '127.0.0.1',
      port: 8080,
      jwtSecret: SECRET,
      jobRetentionSeconds: 604_800,
      dispatchRetention: 'workqueue',
      agentTtlMs: 75_000,
      bodyLimit: '256kb',
      auditRetentionSeconds: 7_776_000,
      rateLimitPerMinute: 60_000,
      replicas: 1,
      maxKeyTtlSeconds: 7_776_000,
      metricsToken: undefined,
      metricsPublic: false,
      hostGrantPrivateKey: GRANT_PEM,
      streamBufferBytes: 1_048_576,
      longRunningPerKey: 16,
      preAuthRateLimitPerMinute: 120,
      auditMaxBytes: 1_073_741_824,
      auditMaxMessages: 10_000_000,
      auditFullReadsPerKey: 120,
      auditWindowSeconds: 60,
      uploadMaxBytes: 1024 ** 3,
      uploadStoreMaxBytes: 4 * 1024 ** 3,
      registries: ['docker.io', 'index.docker.io', 'registry-1.docker.io'],
      logLevel: 'info',
    });
  });

  it('reads every variable from the environment, numbers included', () => {
    const config = loadGatewayConfig({
      ...GRANT,
      ...TLS,
      FLEET_JWT_SECRET: SECRET,
      FLEET_NATS_URL: 'nats://10.0.0.5:4222, tls://10.0.0.6:4222',
      FLEET_NATS_CREDS: CREDS,
      FLEET_NATS_CA_FILE: '/etc/fleet/tls/ca.pem',
      FLEET_TLS_EXPIRY_WARNING_DAYS: '14',
      FLEET_API_HOST: '0.0.0.0',
      FLEET_API_PORT: '0',
      FLEET_JOB_RETENTION_SECONDS: '3600',
      FLEET_AGENT_TTL_MS: '5000',
      FLEET_BODY_LIMIT: '1mb',
      FLEET_AUDIT_RETENTION_SECONDS: '86400',
      FLEET_RATE_LIMIT_PER_MINUTE: '0',
      FLEET_JETSTREAM_REPLICAS: '3',
      FLEET_LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      natsUrl: 'nats://10.0.0.5:4222, tls://10.0.0.6:4222',
      natsCreds: CREDS,
      natsCaFile: '/etc/fleet/tls/ca.pem',
      tlsExpiryWarningDays: 14,
      host: '0.0.0.0',
      port: 0,
      jobRetentionSeconds: 3600,
      agentTtlMs: 5000,
      bodyLimit: '1mb',
      auditRetentionSeconds: 86_400,
      rateLimitPerMinute: 0,
      replicas: 3,
      logLevel: 'debug',
    });
  });

  it.each([
    ['FLEET_API_PORT', 'http', "FLEET_API_PORT='http' must be an integer from 0 to 65535"],
    ['FLEET_API_PORT', '70000', "FLEET_API_PORT='70000' must be an integer from 0 to 65535"],
    ['FLEET_API_PORT', '80.5', "FLEET_API_PORT='80.5' must be an integer from 0 to 65535"],
    ['FLEET_JOB_RETENTION_SECONDS', '59', "FLEET_JOB_RETENTION_SECONDS='59' must be an integer from 60 to 31536000"],
    ['FLEET_JETSTREAM_REPLICAS', '0', "FLEET_JETSTREAM_REPLICAS='0' must be an integer from 1 to 5"],
    ['FLEET_BODY_LIMIT', 'lots', "FLEET_BODY_LIMIT='lots' must be a size in bytes, optionally with a unit: 262144, 256kb, 1mb"],
    ['FLEET_NATS_URL', 'http://10.0.0.5:4222', "FLEET_NATS_URL='http://10.0.0.5:4222' must be one or more comma-separated NATS URLs"],
    ['FLEET_NATS_URL', 'nats://a:4222,not a url', "FLEET_NATS_URL='nats://a:4222,not a url' must be one or more"],
    ['FLEET_LOG_LEVEL', 'loud', "FLEET_LOG_LEVEL='loud' must be one of fatal, error, warn, info, debug, trace, silent"],
    ['FLEET_API_HOST', 'my host', "FLEET_API_HOST='my host' must be a host name or IP address to listen on"],
    [
      'FLEET_NATS_ACCOUNT_SIGNER',
      'SUSEED',
      "FLEET_NATS_ACCOUNT_SIGNER=(6 characters, not shown) must be the operator's signing key seed (SO…)",
    ],
  ])('refuses %s=%s, naming the variable, the value and what it must be', (name, value, message) => {
    expect(refusal(() => loadGatewayConfig({ ...GRANT, FLEET_JWT_SECRET: SECRET, [name]: value }))).toContain(message);
  });

  it('lists every bad value at once', () => {
    const message = refusal(() =>
      loadGatewayConfig({ ...GRANT, FLEET_JWT_SECRET: SECRET, FLEET_API_PORT: '-1', FLEET_AGENT_TTL_MS: 'soon', FLEET_LOG_LEVEL: 'LOUD' }),
    );
    expect(message.split('\n')).toEqual([
      'invalid configuration:',
      "  FLEET_LOG_LEVEL='LOUD' must be one of fatal, error, warn, info, debug, trace, silent",
      "  FLEET_API_PORT='-1' must be an integer from 0 to 65535",
      "  FLEET_AGENT_TTL_MS='soon' must be an integer from 1000 to 600000",
    ]);
  });

  it('requires the signing secret, and never prints a secret it refuses', () => {
    expect(refusal(() => loadGatewayConfig({ ...GRANT }))).toBe('FLEET_JWT_SECRET or FLEET_JWT_SECRET_FILE must be set');
    const short = refusal(() => loadGatewayConfig({ ...GRANT, FLEET_JWT_SECRET: 'hunter2' }));
    expect(short).toBe('FLEET_JWT_SECRET=(7 characters, not shown) must be at least 32 characters');
    expect(short).not.toContain('hunter2');
  });

  it('reads secrets from their _FILE, which wins over the plain variable', () => {
    const secretFile = file('jwt-secret', `${SECRET}-from-file\n`);
    const credsFile = file('gateway.creds', CREDS);
    const config = loadGatewayConfig({
      ...GRANT,
      ...LOOPBACK_HTTP,
      FLEET_JWT_SECRET: 'ignored-because-the-file-is-set-too-xxxxxxxx',
      FLEET_JWT_SECRET_FILE: secretFile,
      FLEET_NATS_CREDS_FILE: credsFile,
    });
    expect(config.jwtSecret).toBe(`${SECRET}-from-file`);
    expect(config.natsCreds?.trim()).toBe(CREDS.trim());
  });

  it('names a secret file it cannot read', () => {
    expect(refusal(() => loadGatewayConfig({ ...GRANT, FLEET_JWT_SECRET_FILE: '/nonexistent/jwt-secret' }))).toContain(
      "FLEET_JWT_SECRET_FILE='/nonexistent/jwt-secret' (env) cannot be read: ENOENT",
    );
  });

  it('refuses some of the enrolment secrets without the others, naming the missing ones', () => {
    const signer = Buffer.from(newOperatorKey().getSeed()).toString();
    expect(refusal(() => loadGatewayConfig({ ...GRANT, FLEET_JWT_SECRET: SECRET, FLEET_NATS_ACCOUNT_SIGNER: signer }))).toContain(
      'missing: FLEET_NATS_SYSTEM_CREDS, FLEET_NATS_ACCOUNT_SEED, FLEET_NATS_AGENT_USER_SIGNER',
    );
  });
});

describe('HTTPS or plain HTTP on loopback (README "TLS")', () => {
  const load = (env: Record<string, string>) => loadGatewayConfig({ ...GRANT, FLEET_JWT_SECRET: SECRET, ...env });

  it('refuses to start with neither a certificate nor the loopback flag, saying how to get either', () => {
    expect(refusal(() => load({}))).toBe(
      'the gateway serves HTTPS: set FLEET_TLS_CERT_FILE and FLEET_TLS_KEY_FILE (`fleet pki --gateway-host <names>` makes them), or ' +
        'FLEET_HTTP_INSECURE=loopback for plain HTTP on a loopback FLEET_API_HOST',
    );
  });

  it.each(['0.0.0.0', '10.0.0.5', '::', 'fleet.example'])('refuses plain HTTP on the non-loopback address %s', (host) => {
    expect(refusal(() => load({ ...LOOPBACK_HTTP, FLEET_API_HOST: host }))).toContain(
      `FLEET_HTTP_INSECURE=loopback but FLEET_API_HOST='${host}' is not a loopback address`,
    );
  });

  it.each(['127.0.0.1', '127.0.0.2', '::1', 'localhost'])('serves plain HTTP on the loopback address %s when asked', (host) => {
    expect(load({ ...LOOPBACK_HTTP, FLEET_API_HOST: host }).tls).toBeUndefined();
  });

  it('refuses a certificate without its key (and a key without its certificate)', () => {
    expect(refusal(() => load({ FLEET_TLS_CERT_FILE: TLS.FLEET_TLS_CERT_FILE }))).toBe(
      'FLEET_TLS_CERT_FILE and FLEET_TLS_KEY_FILE go together: set both, or neither',
    );
    expect(refusal(() => load({ FLEET_TLS_KEY_FILE: TLS.FLEET_TLS_KEY_FILE }))).toBe(
      'FLEET_TLS_CERT_FILE and FLEET_TLS_KEY_FILE go together: set both, or neither',
    );
  });

  it('refuses both a certificate and the plain-HTTP flag', () => {
    expect(refusal(() => load({ ...TLS, ...LOOPBACK_HTTP }))).toContain('the gateway serves either HTTPS or plain HTTP');
  });

  it('refuses any other value of the flag', () => {
    expect(refusal(() => load({ FLEET_HTTP_INSECURE: 'true' }))).toBe("FLEET_HTTP_INSECURE='true' must be one of loopback");
  });
});

describe('the config file (FLEET_CONFIG_FILE)', () => {
  it('reads YAML with the variable names as keys; numbers may be numbers', () => {
    const yaml = file(
      'gateway.yaml',
      `FLEET_API_PORT: 9090\nFLEET_NATS_URL: nats://10.0.0.5:4222\nFLEET_JWT_SECRET: ${SECRET}\nFLEET_LOG_LEVEL: warn\n`,
    );
    expect(loadGatewayConfig({ ...GRANT, ...LOOPBACK_HTTP, [CONFIG_FILE_VARIABLE]: yaml })).toMatchObject({
      port: 9090,
      natsUrl: 'nats://10.0.0.5:4222',
      jwtSecret: SECRET,
      logLevel: 'warn',
    });
  });

  it('reads JSON, and the environment overrides the file', () => {
    const json = file('gateway.json', JSON.stringify({ FLEET_API_PORT: 9090, FLEET_API_HOST: '0.0.0.0', FLEET_JWT_SECRET: SECRET }));
    expect(loadGatewayConfig({ ...GRANT, ...TLS, [CONFIG_FILE_VARIABLE]: json, FLEET_API_PORT: '9191' })).toMatchObject({
      port: 9191,
      host: '0.0.0.0',
    });
  });

  it('takes a secret file named in the config file', () => {
    const secretFile = file('jwt-secret-2', `${SECRET}-2\n`);
    const yaml = file('with-secret-file.yaml', `FLEET_JWT_SECRET_FILE: ${secretFile}\n`);
    expect(loadGatewayConfig({ ...GRANT, ...LOOPBACK_HTTP, [CONFIG_FILE_VARIABLE]: yaml }).jwtSecret).toBe(`${SECRET}-2`);
  });

  it('names the file a bad value came from', () => {
    const yaml = file('bad-port.yaml', `FLEET_API_PORT: 99999\nFLEET_JWT_SECRET: ${SECRET}\n`);
    expect(refusal(() => loadGatewayConfig({ ...GRANT, [CONFIG_FILE_VARIABLE]: yaml }))).toBe(
      `FLEET_API_PORT='99999' (from ${yaml}) must be an integer from 0 to 65535`,
    );
  });

  it('refuses an unknown key (a typo would otherwise be silently ignored)', () => {
    const yaml = file('typo.yaml', `FLEET_API_PROT: 9090\nFLEET_JWT_SECRET: ${SECRET}\n`);
    expect(refusal(() => loadGatewayConfig({ ...GRANT, [CONFIG_FILE_VARIABLE]: yaml }))).toContain(
      `${CONFIG_FILE_VARIABLE}='${yaml}': 'FLEET_API_PROT' is not a setting of this service`,
    );
  });

  it('refuses a file that is missing, unparsable or not a mapping', () => {
    expect(refusal(() => loadGatewayConfig({ ...GRANT, [CONFIG_FILE_VARIABLE]: '/nonexistent.yaml', FLEET_JWT_SECRET: SECRET }))).toContain(
      `${CONFIG_FILE_VARIABLE}='/nonexistent.yaml' cannot be read as YAML or JSON: ENOENT`,
    );
    const broken = file('broken.yaml', 'FLEET_API_PORT: [8080\n');
    expect(refusal(() => loadGatewayConfig({ ...GRANT, [CONFIG_FILE_VARIABLE]: broken, FLEET_JWT_SECRET: SECRET }))).toContain(
      'cannot be read as YAML or JSON',
    );
    const list = file('list.yaml', '- FLEET_API_PORT\n');
    expect(refusal(() => loadGatewayConfig({ ...GRANT, [CONFIG_FILE_VARIABLE]: list, FLEET_JWT_SECRET: SECRET }))).toContain(
      'must hold a mapping of variable names to values',
    );
  });

  it('refuses an agent-only key in a gateway file', () => {
    const yaml = file('agent-key.yaml', `FLEET_AGENT_LABELS: role=web\nFLEET_JWT_SECRET: ${SECRET}\n`);
    expect(refusal(() => loadGatewayConfig({ ...GRANT, [CONFIG_FILE_VARIABLE]: yaml }))).toContain(
      "'FLEET_AGENT_LABELS' is not a setting of this service",
    );
  });
});

describe('the README', () => {
  const readme = readFileSync(path.join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1));

  it.each([...Object.keys(GATEWAY_SETTINGS), CONFIG_FILE_VARIABLE])('documents %s in the Configuration table', (name) => {
    expect(table).toMatch(new RegExp(`^\\|[^\\n]*\`${name}\``, 'm'));
  });
});
