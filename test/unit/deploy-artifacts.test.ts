/**
 * deploy/compose.yaml and deploy/systemd/*: parsed and checked for what they
 * must hold, and the settings each gives a service are run through that
 * service's own start-up validation. (`docker compose` is not installed
 * here; the units' `systemd-analyze verify` runs in test/e2e/operator.test.ts.)
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
// eslint-disable-next-line fleet/import-boundaries -- deploy's artifacts are checked against each app's own config validation
import { loadAgentConfig } from '../../apps/agent/src/config';
// eslint-disable-next-line fleet/import-boundaries -- (the same, for the gateway)
import { loadGatewayConfig } from '../../apps/api/src/config';
import { EX_CONFIG } from '@fleet/runtime/config';
import { createNatsOperator, NATS_CONFIG_FILE, type NatsOperator } from '@fleet/deploy';

const DEPLOY = path.join(__dirname, '..', '..', 'deploy');
const REPO_ROOT = path.join(DEPLOY, '..');
const SECRET = 'deploy-artifacts-signing-secret-0123456789';
const METRICS_TOKEN = 'deploy-artifacts-metrics-token-0123';
/** A host-access grant key pair as the set-up comments' openssl commands make it. */
const GRANT = generateKeyPairSync('ed25519', {
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});

let dir: string;
/** A real operator's files, as `fleet nats-config` writes them: what the secrets and credentials hold. */
let operator: NatsOperator;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fleet-deploy-'));
  operator = createNatsOperator(path.join(dir, 'operator'));
});

const read = (file: string) => readFileSync(file, 'utf8');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The source file `npm run build` compiles into `program` (a path relative to the repository, `dist/<name>.js`),
 * which must exist; undefined when the build makes no such program.
 */
function builtFrom(program: string): string | undefined {
  const { PROGRAMS } = require('../../scripts/build.cjs') as { PROGRAMS: Array<{ name: string; entry: string }> };
  const entry = PROGRAMS.find((candidate) => `dist/${candidate.name}.js` === program)?.entry;
  return entry !== undefined && existsSync(path.join(REPO_ROOT, entry)) ? entry : undefined;
}

/** A stand-in for a secret file the deployment mounts; returns its path. */
function secretFile(name: string, content: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `${content}\n`);
  return file;
}

describe('deploy/compose.yaml', () => {
  interface Service {
    image: string;
    command: string[];
    environment?: Record<string, string>;
    volumes?: string[];
    secrets?: string[];
    ports?: string[];
    depends_on?: Record<string, { condition: string }>;
    healthcheck?: { test: string[] };
  }
  const text = readFileSync(path.join(DEPLOY, 'compose.yaml'), 'utf8');
  const compose = YAML.parse(text, { merge: true }) as {
    services: Record<string, Service>;
    secrets: Record<string, { file: string }>;
    volumes: Record<string, unknown>;
  };
  const { nats, gateway, agent } = compose.services;

  /** Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}`, with `vars` as the environment. */
  function interpolate(value: string, vars: Record<string, string>): string {
    return value.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_match, name: string, kind?: string, rest?: string) => {
      if (vars[name]) return vars[name];
      if (kind === '?') throw new Error(`compose would refuse: ${rest}`);
      return kind === '-' ? (rest ?? '') : '';
    });
  }

  /** The service's environment as the container sees it: interpolated, secrets mounted at /run/secrets/<name>. */
  function containerEnv(service: Service, vars: Record<string, string>, secrets: Record<string, string>): Record<string, string> {
    return Object.fromEntries(
      Object.entries(service.environment ?? {}).map(([name, value]) => {
        const resolved = interpolate(String(value), vars);
        const secret = /^\/run\/secrets\/(\w+)$/.exec(resolved)?.[1];
        return [name, secret ? secrets[secret] : resolved];
      }),
    );
  }

  it('has NATS, the gateway and the agent, and nothing else', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['agent', 'gateway', 'nats']);
  });

  it('runs NATS with the config `fleet nats-config` writes, its JetStream store on a volume', () => {
    expect(nats.image).toMatch(/^nats:2\./);
    expect(nats.command).toEqual(['-c', '/etc/nats/nats-server.conf']);
    expect(nats.volumes).toContain(`./nats/${NATS_CONFIG_FILE}:/etc/nats/nats-server.conf:ro`);
    // The set-up comment generates the config with --store-dir /data: the volume must be there.
    expect(text).toContain('nats-config --store-dir /data --pki /etc/fleet/pki --out deploy/nats');
    // The config names the certificates under /etc/fleet/pki: the same path inside the container.
    expect(nats.volumes).toContain('/etc/fleet/pki:/etc/fleet/pki:ro');
    expect(nats.volumes).toContain('nats-data:/data');
    expect(compose.volumes).toHaveProperty('nats-data');
    expect(nats.healthcheck?.test.join(' ')).toContain('/healthz?js-enabled-only=true');
  });

  it('starts the gateway from the repository with settings its own validation accepts, secrets as files', () => {
    expect(gateway.command).toEqual(['node', 'dist/gateway.js']);
    expect(builtFrom(gateway.command[1])).toBe('apps/api/src/main.ts');
    expect(gateway.depends_on?.nats.condition).toBe('service_healthy');
    expect(gateway.healthcheck?.test.join(' ')).toContain('/health/ready');
    expect(gateway.secrets).toEqual([
      'jwt_secret',
      'nats_gateway',
      'nats_system',
      'nats_account_signer',
      'nats_account_seed',
      'nats_agent_user_signer',
      'host_grant_key',
      'metrics_token',
    ]);
    expect(compose.secrets.metrics_token.file).toBe('./metrics-token');
    expect(compose.secrets.host_grant_key.file).toBe('./host-grant.key');
    expect(compose.secrets.nats_gateway.file).toBe('./nats/operator/gateway.creds');
    expect(compose.secrets.nats_system.file).toBe('./nats/operator/sys.creds');
    for (const value of Object.values(gateway.environment ?? {})) expect(String(value)).not.toMatch(/secret-value|password=/i);

    const secrets = {
      jwt_secret: secretFile('jwt', SECRET),
      nats_gateway: operator.gatewayCredsFile,
      nats_system: operator.systemCredsFile,
      nats_account_signer: operator.accountSignerFile,
      nats_account_seed: operator.gatewayAccountSeedFile,
      nats_agent_user_signer: operator.agentUserSignerFile,
      host_grant_key: secretFile('grant.key', GRANT.privateKey),
      metrics_token: secretFile('metrics', METRICS_TOKEN),
    };
    const config = loadGatewayConfig(containerEnv(gateway, {}, secrets));
    // /metrics names every host: the example protects it.
    expect({ metricsToken: config.metricsToken, metricsPublic: config.metricsPublic }).toEqual({
      metricsToken: METRICS_TOKEN,
      metricsPublic: false,
    });
    expect(config).toMatchObject({
      natsUrl: 'tls://nats:4222',
      natsCreds: read(operator.gatewayCredsFile).trim(),
      jwtSecret: SECRET,
      host: '0.0.0.0',
      port: 8080,
    });
    expect(config.enrolment?.systemCreds).toBe(read(operator.systemCredsFile).trim());
    // HTTPS and NATS TLS, from the PKI directory it mounts.
    expect(config).toMatchObject({
      tls: { certFile: '/etc/fleet/pki/gateway.pem', keyFile: '/etc/fleet/pki/gateway-key.pem' },
      natsCaFile: '/etc/fleet/pki/ca.pem',
    });
    expect(gateway.volumes).toContain('/etc/fleet/pki:/etc/fleet/pki:ro');
    expect(gateway.healthcheck?.test.join(' ')).toContain('https://127.0.0.1:8080/health/ready');
    expect(config.hostGrantPrivateKey).toBe(GRANT.privateKey.trim());
    expect(gateway.ports).toContain(`${config.port}:${config.port}`);
  });

  it("gives each host's agent that host's Docker socket, a volume for the identity it makes, and its join token", () => {
    expect(agent.command).toEqual(['node', 'dist/agent.js']);
    expect(builtFrom(agent.command[1])).toBe('apps/agent/src/main.ts');
    expect(agent.volumes).toContain('/var/run/docker.sock:/var/run/docker.sock');
    expect(agent.volumes).toContain('agent-identity:/var/lib/fleet-agent');
    expect(agent.secrets).toEqual(['host_grant_pub', 'fleet_ca']);
    expect(compose.secrets.fleet_ca.file).toBe('/etc/fleet/pki/ca.pem');
    expect(compose.secrets.host_grant_pub.file).toBe('./host-grant.pub');

    const token = `fjt_${'a'.repeat(43)}`;
    const vars = { FLEET_AGENT_HOSTNAME: 'web-02', FLEET_AGENT_LABELS: 'role=web,zone=eu.west', FLEET_AGENT_JOIN_TOKEN: token };
    const agentSecrets = { host_grant_pub: secretFile('grant.pub', GRANT.publicKey), fleet_ca: '/run/secrets/fleet_ca' };
    const config = loadAgentConfig(containerEnv(agent, vars, agentSecrets));
    expect(config).toMatchObject({ hostGrantPublicKey: GRANT.publicKey.trim(), hostPaths: ['/srv'] });
    expect(config).toMatchObject({
      natsUrl: 'tls://nats:4222',
      natsCaFile: '/run/secrets/fleet_ca',
      // It joins over HTTPS, the gateway verified with the same CA as NATS.
      identity: {
        dir: '/var/lib/fleet-agent',
        joinToken: token,
        gatewayUrl: 'https://gateway:8080',
        gatewayCaFile: '/run/secrets/fleet_ca',
      },
      hostname: 'web-02',
      labels: { role: 'web', zone: 'eu.west' },
      dockerHost: 'unix:///var/run/docker.sock',
      metricsAddr: { host: '0.0.0.0', port: 9464 },
    });
    expect(agent.ports).toContain('9464:9464');
    // On another host the same file points the agent at the NATS host.
    expect(loadAgentConfig(containerEnv(agent, { ...vars, FLEET_NATS_URL: 'tls://10.0.0.5:4222' }, agentSecrets)).natsUrl).toBe(
      'tls://10.0.0.5:4222',
    );
    expect(() => containerEnv(agent, {}, {})).toThrow('set FLEET_AGENT_HOSTNAME');
  });

  it('keeps the gateway and agents read-only and without capabilities', () => {
    for (const service of [gateway, agent] as Array<Service & { read_only?: boolean; cap_drop?: string[]; security_opt?: string[] }>) {
      expect(service).toMatchObject({ read_only: true, cap_drop: ['ALL'], security_opt: ['no-new-privileges:true'] });
    }
  });
});

describe('deploy/systemd', () => {
  /** `[Section]` → key → every value given (keys such as Environment= repeat). */
  function parseUnit(file: string): Record<string, Record<string, string[]>> {
    const sections: Record<string, Record<string, string[]>> = {};
    let current = '';
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const header = /^\[(\w+)\]$/.exec(line);
      if (header) current = header[1];
      const entry = /^(\w+)=(.*)$/.exec(line);
      if (entry && current) ((sections[current] ??= {})[entry[1]] ??= []).push(entry[2]);
    }
    return sections;
  }

  /** Environment= then EnvironmentFile= (which wins), with the unit's specifiers filled in. */
  function unitEnv(service: Record<string, string[]>, envFile: string, specifiers: Record<string, string>): Record<string, string> {
    const fill = (value: string) => value.replace(/%(\w)/g, (_m, letter: string) => specifiers[letter] ?? `%${letter}`);
    const env: Record<string, string> = {};
    for (const assignment of service.Environment ?? []) {
      const [name, ...value] = fill(assignment).split('=');
      env[name] = value.join('=');
    }
    for (const line of readFileSync(envFile, 'utf8').split('\n')) {
      const entry = /^(\w+)=(.*)$/.exec(line);
      if (entry) env[entry[1]] = entry[2];
    }
    return env;
  }

  const HARDENING = {
    NoNewPrivileges: 'yes',
    ProtectSystem: 'strict',
    ProtectHome: 'yes',
    PrivateTmp: 'yes',
    PrivateDevices: 'yes',
    CapabilityBoundingSet: '',
    RestrictNamespaces: 'yes',
    SystemCallArchitectures: 'native',
  };

  it.each([
    ['fleet-gateway.service', 'dist/gateway.js', 'apps/api/src/main.ts'],
    ['fleet-agent@.service', 'dist/agent.js', 'apps/agent/src/main.ts'],
  ])('%s runs the compiled service (%s), restarts it on failure but not on a bad setting, and is hardened', (unit, program, source) => {
    const { Service: service, Install: install } = parseUnit(path.join(DEPLOY, 'systemd', unit));
    expect(service.ExecStart).toEqual([`/usr/bin/node ${program}`]);
    expect(builtFrom(program)).toBe(source);
    expect(service.Restart).toEqual(['on-failure']);
    expect(service.RestartPreventExitStatus).toEqual([String(EX_CONFIG)]);
    expect(service.EnvironmentFile?.length).toBeGreaterThan(0);
    expect(service.User).toEqual(['fleet']);
    for (const [key, value] of Object.entries(HARDENING)) expect({ key, value: service[key] }).toEqual({ key, value: [value] });
    expect(install.WantedBy).toEqual(['multi-user.target']);
  });

  it("the gateway unit with its example environment file passes the gateway's validation, secrets as credentials", () => {
    const { Service: service } = parseUnit(path.join(DEPLOY, 'systemd', 'fleet-gateway.service'));
    expect(service.LoadCredential).toEqual([
      'jwt-secret:/etc/fleet/jwt-secret',
      'nats-creds:/etc/fleet/nats/operator/gateway.creds',
      'nats-system-creds:/etc/fleet/nats/operator/sys.creds',
      'nats-account-signer:/etc/fleet/nats/operator/operator-signing.seed',
      'nats-account-seed:/etc/fleet/nats/operator/fleet-account.seed',
      'nats-agent-user-signer:/etc/fleet/nats/operator/agent-users.seed',
      'host-grant-key:/etc/fleet/host-grant.key',
      'metrics-token:/etc/fleet/metrics-token',
    ]);
    const credentials = path.join(dir, 'gateway-credentials');
    mkdirSync(credentials);
    writeFileSync(path.join(credentials, 'jwt-secret'), SECRET);
    writeFileSync(path.join(credentials, 'nats-creds'), read(operator.gatewayCredsFile));
    writeFileSync(path.join(credentials, 'nats-system-creds'), read(operator.systemCredsFile));
    writeFileSync(path.join(credentials, 'nats-account-signer'), read(operator.accountSignerFile));
    writeFileSync(path.join(credentials, 'nats-account-seed'), read(operator.gatewayAccountSeedFile));
    writeFileSync(path.join(credentials, 'nats-agent-user-signer'), read(operator.agentUserSignerFile));
    writeFileSync(path.join(credentials, 'host-grant-key'), GRANT.privateKey);
    writeFileSync(path.join(credentials, 'metrics-token'), `${METRICS_TOKEN}\n`);
    const config = loadGatewayConfig(unitEnv(service, path.join(DEPLOY, 'systemd', 'gateway.env.example'), { d: credentials }));
    expect({ metricsToken: config.metricsToken, metricsPublic: config.metricsPublic }).toEqual({
      metricsToken: METRICS_TOKEN,
      metricsPublic: false,
    });
    expect(config).toMatchObject({
      natsCreds: read(operator.gatewayCredsFile).trim(),
      jwtSecret: SECRET,
      host: '0.0.0.0',
      port: 8080,
      replicas: 3,
    });
    expect(config.enrolment?.accountSigner).toBe(read(operator.accountSignerFile).trim());
    expect(config.natsUrl.split(',')).toHaveLength(3);
    // HTTPS, and NATS over TLS verified with the fleet's CA, beside the NKey login.
    expect(config.natsUrl.split(',').every((url) => url.startsWith('tls://'))).toBe(true);
    expect(config).toMatchObject({
      tls: { certFile: '/etc/fleet/tls/gateway.pem', keyFile: '/etc/fleet/tls/gateway-key.pem' },
      natsCaFile: '/etc/fleet/tls/ca.pem',
    });
  });

  it('the agent template names the agent and its identity directory after its instance, with the Docker socket', () => {
    const { Service: service } = parseUnit(path.join(DEPLOY, 'systemd', 'fleet-agent@.service'));
    expect(service.LoadCredential).toEqual(['host-grant-pub:/etc/fleet/host-grant.pub']);
    expect(service.StateDirectory).toEqual(['fleet-agent/%i']);
    expect(service.StateDirectoryMode).toEqual(['0700']);
    expect(service.SupplementaryGroups).toEqual(['docker']);
    expect(service.RestrictAddressFamilies?.[0].split(' ')).toContain('AF_UNIX');
    expect(service.EnvironmentFile).toEqual(['/etc/fleet/agent.env', '-/etc/fleet/agent-%i.env']);
    const credentials = path.join(dir, 'agent-credentials');
    mkdirSync(credentials);
    writeFileSync(path.join(credentials, 'host-grant-pub'), GRANT.publicKey);
    const config = loadAgentConfig(unitEnv(service, path.join(DEPLOY, 'systemd', 'agent.env.example'), { i: 'web-01', d: credentials }));
    expect(config).toMatchObject({
      hostname: 'web-01',
      identity: { dir: '/var/lib/fleet-agent/web-01', gatewayUrl: 'https://fleet.example:8080' },
      dockerHost: 'unix:///run/docker.sock',
      metricsAddr: { host: '0.0.0.0', port: 9464 },
    });
    // NATS over TLS, and the join over HTTPS, both verified with the fleet's one CA.
    expect(config.natsUrl.split(',').every((url) => url.startsWith('tls://'))).toBe(true);
    expect(config).toMatchObject({ natsCaFile: '/etc/fleet/tls/ca.pem', identity: { gatewayCaFile: '/etc/fleet/tls/ca.pem' } });
  });

  it("the nats-server drop-in points Debian's unit at the generated config and store", () => {
    const { Service: service } = parseUnit(path.join(DEPLOY, 'systemd', 'nats-server.service.d', 'fleet.conf'));
    expect(service.ExecStart).toEqual(['', `/usr/sbin/nats-server -c /etc/fleet/nats/${NATS_CONFIG_FILE}`]);
    expect(service.StateDirectory).toEqual(['nats']);
    expect(service.Environment).toEqual(['NATS_SERVER_NAME=%H']);
  });
});
