/** The agent's start-up configuration (the gateway's, and the config file rules both share, are in apps/api/src/config.test.ts). */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '@fleet/runtime/config';
import { CONFIG_FILE_VARIABLE } from '@fleet/runtime/settings';
import { AGENT_SETTINGS, loadAgentConfig, parseLabels } from './config';

/** Every agent needs the gateway's public key: it runs no job without a seal that verifies. */
const GRANT = { FLEET_HOST_GRANT_PUBLIC_KEY: generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString() };

describe('parseLabels', () => {
  it('reads key=value pairs', () => {
    expect(parseLabels('role=web,zone=eu.west')).toEqual({ role: 'web', zone: 'eu.west' });
    expect(parseLabels('')).toEqual({});
  });

  it.each(['role', 'role=web=x', 'ro le=web', 'zone=eu..west', 'zone=eu.*'])('refuses %s', (raw) => {
    expect(() => parseLabels(raw)).toThrow(`'${raw}'`);
  });
});

describe('loadAgentConfig', () => {
  it('refuses a hostname that cannot be a subject token', () => {
    expect(() => loadAgentConfig({ ...GRANT, FLEET_AGENT_HOSTNAME: 'web.01' })).toThrow("FLEET_AGENT_HOSTNAME='web.01'");
  });
});

describe('how the agent joins', () => {
  const token = `fjt_${'Ab3_-'.repeat(8)}Ab3`;

  it('reads its identity directory, its join token (also from a file) and the gateway URL', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'agent-join-'));
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, `${token}\n`);
    const config = loadAgentConfig({
      ...GRANT,
      FLEET_AGENT_IDENTITY_DIR: '/var/lib/fleet-agent',
      FLEET_AGENT_JOIN_TOKEN_FILE: tokenFile,
      FLEET_GATEWAY_URL: 'https://fleet.example:8080',
    });
    expect(config.identity).toEqual({ dir: '/var/lib/fleet-agent', joinToken: token, gatewayUrl: 'https://fleet.example:8080' });
    rmSync(dir, { recursive: true, force: true });
  });

  it("verifies the gateway it joins through with FLEET_GATEWAY_CA_FILE, else with the NATS CA (fleet pki's one CA signs both)", () => {
    const base = { ...GRANT, FLEET_AGENT_IDENTITY_DIR: '/var/lib/fleet-agent', FLEET_GATEWAY_URL: 'https://fleet.example:8080' };
    expect(loadAgentConfig(base).identity?.gatewayCaFile).toBeUndefined();
    expect(loadAgentConfig({ ...base, FLEET_NATS_CA_FILE: '/etc/fleet/tls/ca.pem' }).identity?.gatewayCaFile).toBe('/etc/fleet/tls/ca.pem');
    expect(
      loadAgentConfig({ ...base, FLEET_NATS_CA_FILE: '/etc/fleet/tls/ca.pem', FLEET_GATEWAY_CA_FILE: '/etc/fleet/gateway-ca.pem' })
        .identity,
    ).toMatchObject({
      gatewayCaFile: '/etc/fleet/gateway-ca.pem',
    });
  });

  it('has no identity without a directory: it logs in with FLEET_NATS_CREDS or, on a dev NATS, with nothing', () => {
    expect(loadAgentConfig({ ...GRANT }).identity).toBeUndefined();
  });

  it('refuses a malformed join token without printing it, and a relative identity directory', () => {
    const message = (() => {
      try {
        loadAgentConfig({ ...GRANT, FLEET_AGENT_JOIN_TOKEN: 'secret-but-not-a-token', FLEET_AGENT_IDENTITY_DIR: 'relative/dir' });
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    })();
    expect(message).toContain('FLEET_AGENT_JOIN_TOKEN=(22 characters, not shown) must be a join token');
    expect(message).toContain("FLEET_AGENT_IDENTITY_DIR='relative/dir' must be an absolute directory path");
    expect(message).not.toContain('secret-but-not-a-token');
  });
});

describe('agent configuration', () => {
  it('refuses to start without the gateway key that verifies every job', () => {
    expect(() => loadAgentConfig({ FLEET_AGENT_HOSTNAME: 'web-01' })).toThrow(
      'FLEET_HOST_GRANT_PUBLIC_KEY or FLEET_HOST_GRANT_PUBLIC_KEY_FILE must be set',
    );
  });

  it('has defaults, with the short hostname', () => {
    const config = loadAgentConfig({ ...GRANT });
    expect(config).toMatchObject({
      labels: {},
      dockerHost: 'unix:///var/run/docker.sock',
      heartbeatMs: 5000,
      refreshMs: 30_000,
      concurrency: 32,
      metricsAddr: undefined,
      logLevel: 'info',
    });
    expect(config.hostname).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/);
  });

  it('reads labels, the engine and the metrics address', () => {
    const config = loadAgentConfig({
      ...GRANT,
      FLEET_AGENT_HOSTNAME: 'web-01',
      FLEET_AGENT_LABELS: 'role=web,zone=eu.west',
      DOCKER_HOST: 'unix:///run/docker.sock',
      FLEET_AGENT_METRICS_ADDR: '127.0.0.1:0',
    });
    expect(config).toMatchObject({
      hostname: 'web-01',
      labels: { role: 'web', zone: 'eu.west' },
      dockerHost: 'unix:///run/docker.sock',
      metricsAddr: { host: '127.0.0.1', port: 0 },
    });
    expect(loadAgentConfig({ ...GRANT, FLEET_AGENT_METRICS_ADDR: '[::1]:9464' }).metricsAddr).toEqual({ host: '::1', port: 9464 });
  });

  it('reads the registry allowlist: Docker Hub by default, hosts and host:port entries lower-cased', () => {
    expect(loadAgentConfig({ ...GRANT }).registries).toEqual(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
    expect(loadAgentConfig({ ...GRANT, FLEET_REGISTRY_ALLOWLIST: 'Registry.Example:5000, 127.0.0.1,[::1]:5000' }).registries).toEqual([
      'registry.example:5000',
      '127.0.0.1',
      '[::1]:5000',
    ]);
  });

  it.each([
    ['FLEET_AGENT_HOSTNAME', 'web.01', "FLEET_AGENT_HOSTNAME='web.01' must be a name matching [A-Za-z0-9][A-Za-z0-9_-]{0,62}"],
    ['FLEET_AGENT_LABELS', 'role=web,zone', "FLEET_AGENT_LABELS='role=web,zone' must be comma-separated key=value pairs"],
    ['FLEET_AGENT_LABELS', 'zone=eu..west', "FLEET_AGENT_LABELS='zone=eu..west' must be comma-separated key=value pairs"],
    ['DOCKER_HOST', 'tcp://10.0.0.5:2375', "DOCKER_HOST='tcp://10.0.0.5:2375' must be unix:///path/to/docker.sock"],
    ['FLEET_AGENT_HEARTBEAT_MS', '50', "FLEET_AGENT_HEARTBEAT_MS='50' must be an integer from 100 to 60000"],
    ['FLEET_AGENT_CONCURRENCY', '0', "FLEET_AGENT_CONCURRENCY='0' must be an integer from 1 to 1024"],
    ['FLEET_AGENT_METRICS_ADDR', '9464', "FLEET_AGENT_METRICS_ADDR='9464' must be host:port with a port from 0 to 65535"],
    ['FLEET_AGENT_METRICS_ADDR', '127.0.0.1:65536', "FLEET_AGENT_METRICS_ADDR='127.0.0.1:65536' must be host:port"],
    [
      'FLEET_REGISTRY_ALLOWLIST',
      'https://registry.example/v2',
      "FLEET_REGISTRY_ALLOWLIST='https://registry.example/v2' must be comma-separated registries",
    ],
    ['FLEET_REGISTRY_ALLOWLIST', 'docker.io,,x', "FLEET_REGISTRY_ALLOWLIST='docker.io,,x' must be comma-separated registries"],
  ])('refuses %s=%s', (name, value, message) => {
    expect(() => loadAgentConfig({ ...GRANT, [name]: value })).toThrow(ConfigError);
    expect(() => loadAgentConfig({ ...GRANT, [name]: value })).toThrow(message);
  });

  it('reads a YAML file whose labels the environment overrides', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fleet-agent-config-'));
    try {
      const yaml = path.join(dir, 'agent.yaml');
      writeFileSync(yaml, 'FLEET_AGENT_HOSTNAME: db-01\nFLEET_AGENT_LABELS: role=db\nFLEET_AGENT_CONCURRENCY: 8\n');
      expect(loadAgentConfig({ ...GRANT, [CONFIG_FILE_VARIABLE]: yaml, FLEET_AGENT_LABELS: 'role=db,zone=eu' })).toMatchObject({
        hostname: 'db-01',
        labels: { role: 'db', zone: 'eu' },
        concurrency: 8,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the README', () => {
  it('documents every agent variable in its Configuration table', () => {
    const readme = readFileSync(path.join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1));
    const undocumented = Object.keys(AGENT_SETTINGS).filter((name) => !new RegExp(`^\\|[^\\n]*\`${name}\``, 'm').test(table));
    expect(undocumented).toEqual([]);
  });
});
