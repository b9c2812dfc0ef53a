/**
 * What an operator deploys, exercised as far as this machine allows:
 * `fleet nats-config` writes a nats-server config that nats-server accepts
 * (`-t`) and runs; the real gateway and agent processes log in with the users
 * it generated and answer /health/ready and /metrics; a bad setting stops a
 * service with EX_CONFIG; the systemd units pass `systemd-analyze verify`
 * and its offline security review (skipped, and said so, without systemd).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { EX_CONFIG } from '@fleet/runtime/config';
import {
  abortIfDead,
  AGENT_ENTRYPOINT,
  ensureHostGrantKeys,
  hostGrantKeyFiles,
  findExecutable,
  freePort,
  GATEWAY_ENTRYPOINT,
  NATS_CONFIG_FILE,
  natsServerConfig,
  type PkiFiles,
  REPO_ROOT,
  respawnNats,
  spawnService,
  stopByPid,
  stopNats,
  waitFor,
  gatewayIdentityEnv,
  type GeneratedNatsConfig,
} from '@fleet/deploy';
import { natsLogin } from '@fleet/runtime/nats';
import { metricValue, scrape } from '../support/metrics';

const SYSTEMD_DIR = path.join(REPO_ROOT, 'deploy', 'systemd');
/** The `fleet` bin: the compiled CLI, as an operator runs it. */
const CLI = path.join(REPO_ROOT, 'apps', 'cli', 'bin', 'fleet.js');
const JWT_SECRET = 'operator-test-signing-secret-0123456789';
const METRICS_TOKEN = 'operator-test-metrics-token-0123';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync('/tmp/flt-op-');
});

afterAll(() => {
  if (process.env.FLEET_KEEP_TEST_DIR !== '1') rmSync(dir, { recursive: true, force: true });
});

/** Runs the real CLI; resolves with its exit status and output. */
function fleet(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `nats-server -t -c <file>`: parses the config (and every value in it) and exits. */
function natsServerTest(configFile: string, env: NodeJS.ProcessEnv = {}): { status: number | null; output: string } {
  const { NATS_SERVER_NAME: _inherited, ...inherited } = process.env;
  const result = spawnSync(findExecutable('nats-server'), ['-t', '-c', configFile], {
    env: { ...inherited, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

describe('fleet nats-config', () => {
  it('refuses a route with credentials', () => {
    const badRoute = fleet(['nats-config', '--cluster-routes', 'nats://u:p@10.0.0.5:6222', '--out', path.join(dir, 'bad')]);
    expect(badRoute.stderr).toContain('is not a route URL');
    expect(existsSync(path.join(dir, 'bad'))).toBe(false);
  });

  it('writes a clustered config nats-server accepts once each node has its name', () => {
    const out = path.join(dir, 'cluster');
    const run = fleet([
      '--json',
      'nats-config',
      '--cluster-routes',
      'nats://10.0.0.5:6222,nats://10.0.0.6:6222,nats://10.0.0.7:6222',
      '--out',
      out,
    ]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const generated = JSON.parse(run.stdout) as GeneratedNatsConfig;
    const config = readFileSync(generated.configFile, 'utf8');
    expect(config).toContain('server_name: $NATS_SERVER_NAME');
    expect(config).toMatch(/cluster \{\n {2}name: "fleet"\n {2}listen: "0\.0\.0\.0:6222"/);
    // Routes log in with the generated route user; all three nodes share the file and so the password.
    expect(config.match(/"nats:\/\/fleet-route:[0-9a-f]{48}@10\.0\.0\.[567]:6222"/g)).toHaveLength(3);

    expect(natsServerTest(generated.configFile, { NATS_SERVER_NAME: 'nats-1' })).toEqual({
      status: 0,
      output: `nats-server: configuration file ${generated.configFile} is valid`,
    });
    const unnamed = natsServerTest(generated.configFile);
    expect(unnamed.status).not.toBe(0);
    expect(unnamed.output).toContain("'NATS_SERVER_NAME'");
  });

  it('with --pki, requires TLS of clients and mutual TLS of routes, in a config nats-server accepts', () => {
    const pkiDir = path.join(dir, 'pki');
    const missing = fleet(['nats-config', '--pki', pkiDir, '--cluster-routes', 'nats://10.0.0.5:6222', '--out', path.join(dir, 'tls-bad')]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain(`--pki ${pkiDir} lacks`);
    expect(existsSync(path.join(dir, 'tls-bad'))).toBe(false);

    const badHost = fleet(['pki', '--out', pkiDir, '--nats-host', 'nats_1,10.0.0.5']);
    expect(badHost.status).toBe(2);
    expect(badHost.stderr).toContain("'nats_1' is neither a DNS name nor an IP address");
    expect(existsSync(pkiDir)).toBe(false);
    const pki = fleet([
      '--json',
      'pki',
      '--out',
      pkiDir,
      '--nats-host',
      'nats-1.example,10.0.0.5',
      '--route-host',
      'nats-1.example,10.0.0.5,10.0.0.6',
    ]);
    expect(pki.status).toBe(0);
    const files = JSON.parse(pki.stdout) as PkiFiles;
    const run = fleet([
      '--json',
      'nats-config',
      '--pki',
      pkiDir,
      '--cluster-routes',
      'nats://10.0.0.5:6222,nats://10.0.0.6:6222',
      '--out',
      path.join(dir, 'tls'),
    ]);
    expect(run.status).toBe(0);
    const config = readFileSync((JSON.parse(run.stdout) as GeneratedNatsConfig).configFile, 'utf8');
    // Compared line by line without indentation.
    const flat = config.replace(/^ +/gm, '');
    expect(flat).toContain(
      `\ntls {\ncert_file: "${files.nats!.cert}"\nkey_file: "${files.nats!.key}"\nca_file: "${files.ca}"\ntimeout: 5\n}\n`,
    );
    // Inside the cluster block: the route certificate, verified both ways and mapped to the one route user
    // (its subject); no route password, none in the route URLs.
    expect(flat).toContain(
      `tls {\ncert_file: "${files.route!.cert}"\nkey_file: "${files.route!.key}"\nca_file: "${files.ca}"\ntimeout: 5\nverify_and_map: true\n}\n}`,
    );
    expect(config).toContain('authorization { user: "CN=fleet nats-route" }');
    expect(config).not.toMatch(/password:|fleet-route:/);
    expect(config).toContain('"nats://10.0.0.5:6222"');
    // TLS and operator mode together: clients still log in with NKey identities, over TLS.
    expect(config).toMatch(/\noperator: "[^"]+"/);
    expect(config).toMatch(/resolver: \{\n {2}type: full/);
    // The monitoring port stays on loopback.
    expect(config).toContain('http: "127.0.0.1:8222"');
    expect(natsServerTest(path.join(dir, 'tls', NATS_CONFIG_FILE), { NATS_SERVER_NAME: 'nats-1' })).toEqual({
      status: 0,
      output: `nats-server: configuration file ${path.join(dir, 'tls', NATS_CONFIG_FILE)} is valid`,
    });
  });

  it('will not overwrite a config without --force, and keeps the operator it trusts when forced', () => {
    const out = path.join(dir, 'cluster');
    const operatorBefore = readFileSync(path.join(out, 'operator', 'operator.jwt'), 'utf8');
    const again = fleet(['nats-config', '--out', out]);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toContain('exists; --force replaces it');
    expect(fleet(['nats-config', '--out', out, '--force']).status).toBe(0);
    expect(readFileSync(path.join(out, 'operator', 'operator.jwt'), 'utf8')).toBe(operatorBefore);
  });

  it('nats-server -t rejects what it should: the check is not a rubber stamp', () => {
    const config = natsServerConfig(
      { listen: '127.0.0.1:4222', http: '127.0.0.1:8222', storeDir: dir, clusterName: 'fleet', clusterListen: '0.0.0.0:6222' },
      'authorization: { users: [ { user: "a", password: 1, bogus: true } ] }\n',
    );
    const file = path.join(dir, 'broken.conf');
    writeFileSync(file, config.replace('jetstream {', 'jetstream {\n  max_file_store: "lots"'));
    expect(natsServerTest(file).status).not.toBe(0);
  });
});

describe('a NATS server from the generated config, with the real gateway, and an agent that joins with a token', () => {
  const out = () => path.join(dir, 'single');
  let generated: GeneratedNatsConfig;
  let nats: { pid: number; configFile: string; logFile: string; port: number; monitorPort: number };
  let gateway: { pid: number; url: string; logFile: string };
  let agentPid = 0;
  const adminKey = () =>
    execFileSync(process.execPath, [CLI, 'token', 'create', '--role', 'admin', '--ttl', '1h'], {
      cwd: REPO_ROOT,
      env: { ...process.env, FLEET_JWT_SECRET: JWT_SECRET },
      encoding: 'utf8',
    }).trim();

  beforeAll(async () => {
    const [port, monitorPort] = [await freePort(), await freePort()];
    const run = fleet([
      '--json',
      'nats-config',
      '--listen',
      `127.0.0.1:${port}`,
      '--http',
      `127.0.0.1:${monitorPort}`,
      '--store-dir',
      path.join(out(), 'store'),
      '--out',
      out(),
    ]);
    expect(run.status).toBe(0);
    generated = JSON.parse(run.stdout) as GeneratedNatsConfig;
    nats = { pid: 0, configFile: generated.configFile, logFile: path.join(dir, 'nats.log'), port, monitorPort };
    ensureHostGrantKeys(out());
  });

  afterAll(async () => {
    if (agentPid) await stopByPid(agentPid, { marker: AGENT_ENTRYPOINT });
    if (gateway) await stopByPid(gateway.pid, { marker: GATEWAY_ENTRYPOINT });
    if (nats?.pid) await stopNats(nats);
  });

  it("writes the config, in operator mode, and the operator's keys and the gateway's logins, all mode 600", () => {
    expect(natsServerTest(generated.configFile)).toEqual({
      status: 0,
      output: `nats-server: configuration file ${generated.configFile} is valid`,
    });
    const config = readFileSync(generated.configFile, 'utf8');
    expect(config).toContain(`operator: "${generated.operator.operatorJwt}"`);
    expect(config).toMatch(/resolver: \{\n {2}type: full/);
    expect(config).not.toMatch(/password:|S[UAO][A-Z2-7]{56}/);
    const operator = generated.operator;
    const files = [
      generated.configFile,
      operator.gatewayCredsFile,
      operator.systemCredsFile,
      operator.accountSignerFile,
      operator.gatewayAccountSeedFile,
      operator.agentUserSignerFile,
    ];
    for (const file of files) expect({ file, mode: (statSync(file).mode & 0o777).toString(8) }).toEqual({ file, mode: '600' });
  });

  it('starts with JetStream on its file store, and admits the gateway by its creds only', async () => {
    nats.pid = await respawnNats(nats, { detached: false });
    const varz = await (await fetch(`http://127.0.0.1:${nats.monitorPort}/varz`)).json();
    expect(varz).toMatchObject({ server_name: 'fleet-nats', port: nats.port });
    expect(varz.jetstream.config.store_dir).toBe(path.join(out(), 'store', 'jetstream'));

    const nc = await connect({
      servers: `127.0.0.1:${nats.port}`,
      ...natsLogin(readFileSync(generated.operator.gatewayCredsFile, 'utf8')),
    });
    expect((await (await jetstreamManager(nc)).getAccountInfo()).limits).toBeDefined();
    await nc.close();
    await expect(connect({ servers: `127.0.0.1:${nats.port}`, maxReconnectAttempts: 0 })).rejects.toThrow(/authorization/i);
    await expect(connect({ servers: `127.0.0.1:${nats.port}`, user: 'gateway', pass: 'gateway', maxReconnectAttempts: 0 })).rejects.toThrow(
      /authorization/i,
    );
  });

  it('a gateway with a bad setting exits with EX_CONFIG, naming the variable', () => {
    const result = spawnSync(process.execPath, [GATEWAY_ENTRYPOINT], {
      cwd: REPO_ROOT,
      env: { ...process.env, FLEET_JWT_SECRET: JWT_SECRET, FLEET_API_PORT: 'eighty', FLEET_NATS_URL: 'http://nats:4222' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(EX_CONFIG);
    expect(result.stderr).toContain("FLEET_API_PORT='eighty' must be an integer from 0 to 65535");
    expect(result.stderr).toContain("FLEET_NATS_URL='http://nats:4222' must be one or more comma-separated NATS URLs");
  });

  it('the gateway logs in with its creds and is ready; an agent started with only a join token joins, and registers its metrics_url', async () => {
    const port = await freePort();
    gateway = { pid: 0, url: `http://127.0.0.1:${port}`, logFile: path.join(dir, 'gateway.log') };
    gateway.pid = spawnService({
      command: process.execPath,
      args: [GATEWAY_ENTRYPOINT],
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        ...gatewayIdentityEnv(generated.operator),
        FLEET_NATS_URL: `nats://127.0.0.1:${nats.port}`,
        FLEET_API_PORT: String(port),
        FLEET_JWT_SECRET: JWT_SECRET,
        FLEET_METRICS_TOKEN: METRICS_TOKEN,
        FLEET_HOST_GRANT_PRIVATE_KEY_FILE: hostGrantKeyFiles(out()).privateKey,
        FLEET_HTTP_INSECURE: 'loopback',
      },
      logFile: gateway.logFile,
      detached: false,
    });
    await waitForReady(200);
    const key = adminKey();
    const issued = fleet(['--json', 'agent', 'join-token', 'web-01', '--ttl', '5m'], { FLEET_URL: gateway.url, FLEET_API_KEY: key });
    expect(issued.stderr).toBe('');
    const { token } = JSON.parse(issued.stdout) as { token: string };

    // No engine behind this agent: it registers anyway and reports the engine down.
    mkdirSync(path.join(dir, 'agent'), { recursive: true });
    agentPid = spawnService({
      command: process.execPath,
      args: [AGENT_ENTRYPOINT],
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        FLEET_AGENT_IDENTITY_DIR: path.join(dir, 'agent', 'identity'),
        FLEET_AGENT_JOIN_TOKEN: token,
        FLEET_GATEWAY_URL: gateway.url,
        FLEET_NATS_URL: `nats://127.0.0.1:${nats.port}`,
        FLEET_AGENT_HOSTNAME: 'web-01',
        FLEET_HOST_GRANT_PUBLIC_KEY_FILE: hostGrantKeyFiles(out()).publicKey,
        FLEET_AGENT_METRICS_ADDR: '127.0.0.1:0',
        FLEET_AGENT_HEARTBEAT_MS: '500',
        DOCKER_HOST: `unix://${path.join(dir, 'agent', 'no-engine.sock')}`,
      },
      logFile: path.join(dir, 'agent.log'),
      detached: false,
    });
    const agent = await waitFor(
      'web-01 listed by GET /agent',
      async () => {
        const res = await fetch(`${gateway.url}/agent`, { headers: { authorization: `Bearer ${key}` } });
        const body = (await res.json()) as { agents: Array<{ hostname: string; metrics_url?: string; engine: { healthy: boolean } }> };
        return body.agents.find((candidate) => candidate.hostname === 'web-01');
      },
      { timeoutMs: 60_000, abortIf: abortIfDead('agent', agentPid, path.join(dir, 'agent.log')) },
    );
    expect(agent.engine.healthy).toBe(false);
    expect((statSync(path.join(dir, 'agent', 'identity', 'agent.creds')).mode & 0o777).toString(8)).toBe('600');
    expect(agent.metrics_url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9][0-9]*\/metrics$/);

    const agentSamples = await scrape(agent.metrics_url as string);
    expect(metricValue(agentSamples, 'fleet_agent_engine_healthy', { hostname: 'web-01' })).toBe(0);
    expect(metricValue(agentSamples, 'fleet_agent_nats_connected', { hostname: 'web-01' })).toBe(1);
    const gatewaySamples = await scrape(`${gateway.url}/metrics`, METRICS_TOKEN);
    expect(metricValue(gatewaySamples, 'fleet_engine_healthy', { hostname: 'web-01' })).toBe(0);
    expect(metricValue(gatewaySamples, 'fleet_agents', { state: 'live' })).toBe(1);
    expect(metricValue(gatewaySamples, 'fleet_nats_connected')).toBe(1);
  });

  it('/health/ready says 503 naming NATS while it is down, and both services count the reconnect', async () => {
    const key = adminKey();
    const metricsUrl = (
      (await (await fetch(`${gateway.url}/agent/web-01`, { headers: { authorization: `Bearer ${key}` } })).json()) as {
        metrics_url: string;
      }
    ).metrics_url;
    await stopByPid(nats.pid, { marker: nats.configFile });
    const down = await waitForReady(503);
    expect(down).toMatchObject({ error: 'not ready', code: 503, nats: 'disconnected' });
    expect(down.details).toContain('nats: disconnected');
    expect(metricValue(await scrape(`${gateway.url}/metrics`, METRICS_TOKEN), 'fleet_nats_connected')).toBe(0);

    nats.pid = await respawnNats(nats, { detached: false });
    await waitForReady(200);
    expect(metricValue(await scrape(`${gateway.url}/metrics`, METRICS_TOKEN), 'fleet_nats_reconnects_total')).toBeGreaterThanOrEqual(1);
    await waitFor(
      'the agent to count its reconnect',
      async () => metricValue(await scrape(metricsUrl), 'fleet_agent_nats_reconnects_total') >= 1,
      { timeoutMs: 30_000 },
    );
  });

  /** Polls /health/ready until it answers `status`; returns that body. */
  async function waitForReady(status: 200 | 503): Promise<Record<string, string>> {
    return waitFor(
      `GET ${gateway.url}/health/ready to answer ${status}`,
      async () => {
        const res = await fetch(`${gateway.url}/health/ready`, { signal: AbortSignal.timeout(5_000) });
        return res.status === status ? ((await res.json()) as Record<string, string>) : undefined;
      },
      { timeoutMs: 90_000, abortIf: abortIfDead('gateway', gateway.pid, gateway.logFile) },
    );
  }
});

describe('systemd units', () => {
  const systemdAnalyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((candidate) => existsSync(candidate));
  if (!systemdAnalyze)
    process.stderr.write('operator.test: systemd-analyze not found: `systemd-analyze verify` and `security` are SKIPPED, not passed\n');
  const withSystemd = systemdAnalyze ? it : it.skip;
  const units = ['fleet-gateway.service', 'fleet-agent@.service'];

  /** Template instances are checked as an instance (the %i specifiers filled in), like systemd would load them. */
  function unitCopy(unit: string): string {
    const copies = path.join(dir, 'units');
    mkdirSync(copies, { recursive: true });
    const name = unit.replace('@.', '@web-01.');
    copyFileSync(path.join(SYSTEMD_DIR, unit), path.join(copies, name));
    return path.join(copies, name);
  }

  it.each([
    ['fleet-gateway.service', GATEWAY_ENTRYPOINT],
    ['fleet-agent@.service', AGENT_ENTRYPOINT],
  ])('%s starts the compiled program this suite and `fleet up` run (%s)', (unit, program) => {
    // WorkingDirectory=/opt/fleet is the repository.
    const execStart = /^ExecStart=\/usr\/bin\/node (\S+)$/m.exec(readFileSync(path.join(SYSTEMD_DIR, unit), 'utf8'))?.[1];
    expect(path.join(REPO_ROOT, execStart ?? '(no ExecStart)')).toBe(program);
    expect(path.relative(REPO_ROOT, program)).toMatch(/^dist\/\w+\.js$/);
    expect(existsSync(program)).toBe(true);
  });

  withSystemd.each(units)('%s passes systemd-analyze verify without a warning', (unit) => {
    for (const file of [path.join(SYSTEMD_DIR, unit), unitCopy(unit)]) {
      const result = spawnSync(systemdAnalyze as string, ['verify', file], { encoding: 'utf8', timeout: 30_000 });
      expect({ file, status: result.status, output: `${result.stdout}${result.stderr}`.trim() }).toEqual({ file, status: 0, output: '' });
    }
  });

  withSystemd.each(units)("%s is hardened: systemd-analyze security rates its exposure 'OK' (≤ 2.5 of 10)", (unit) => {
    const result = spawnSync(systemdAnalyze as string, ['security', '--offline=true', '--no-pager', unitCopy(unit)], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    const level = /Overall exposure level for \S+: ([0-9.]+)/.exec(`${result.stdout}${result.stderr}`);
    expect(level).not.toBeNull();
    expect(Number(level?.[1])).toBeLessThanOrEqual(2.5);
  });

  const debianNatsUnit = '/lib/systemd/system/nats-server.service';
  const withNatsUnit = systemdAnalyze && existsSync(debianNatsUnit) ? it : it.skip;
  if (systemdAnalyze && !existsSync(debianNatsUnit))
    process.stderr.write(`operator.test: ${debianNatsUnit} not found: the nats-server drop-in check is SKIPPED\n`);

  withNatsUnit("the drop-in turns Debian's nats-server unit to the generated config, and the result verifies", () => {
    const copies = path.join(dir, 'nats-unit');
    mkdirSync(path.join(copies, 'nats-server.service.d'), { recursive: true });
    copyFileSync(debianNatsUnit, path.join(copies, 'nats-server.service'));
    copyFileSync(path.join(SYSTEMD_DIR, 'nats-server.service.d', 'fleet.conf'), path.join(copies, 'nats-server.service.d', 'fleet.conf'));
    const result = spawnSync(systemdAnalyze as string, ['verify', path.join(copies, 'nats-server.service')], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect({ status: result.status, output: `${result.stdout}${result.stderr}`.trim() }).toEqual({ status: 0, output: '' });
  });
});
