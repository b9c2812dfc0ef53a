/**
 * The fleet across real hosts (README "Multi-host lab"): three NATS servers, two gateways and three
 * engine hosts, each in a network namespace of its own, every hop on the lab's bridge. Effects are
 * read on the engines (their sockets) and on the brokers (their monitoring port, from inside their
 * own namespace), never from HTTP statuses alone.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { pack } from 'tar-stream';
import {
  createPki,
  findExecutable,
  logFileOf,
  type Registry,
  spawnService,
  startRegistry,
  stopByPid,
  stopRegistry,
  waitFor,
  waitForClusterHealth,
} from '@fleet/deploy';
import { nodeHttp } from '@fleet/sdk';
import { attack } from '../support/attacks';
import { countContainers, imageIdOn } from '../support/docker';
import { eventually } from '../support/faults';
import { api } from '../support/http';
import type { LabSecret } from '../support/lab-capture';
import { foreignClientCertificate } from '../support/lab-identity';
import { waitForJetStreamSettled } from '../support/lab-jetstream';
import { inNetns } from '../support/lab-network';
import { useLab } from '../support/lab-suite';
import { registryAuthHeader } from '../support/registry-auth';

const IMAGE = 'local/busybox:latest';
const HOSTS = ['db-01', 'web-01', 'web-02'];
const NATS_HOSTS = ['nats-1', 'nats-2', 'nats-3'];
const PROBE = 'probe';

const lab = useLab({ capture: true });
/** Every secret this suite sends or makes, searched for in the capture at the end. */
const secrets: LabSecret[] = [];
const envSecret = randomBytes(16).toString('hex');
/** What the probe's exec prints: the secret reversed, so it is on the wire only if an answer is. */
const outputMarker = [...envSecret].reverse().join('');

/** What a server's monitoring port answers on /connz (the fields read here). */
interface Connz {
  connections?: Array<{ ip: string; reason?: string; authorized_user?: string }>;
}

/**
 * The connections from `address` on every NATS server: the open ones that logged in, and closed ones with why they
 * closed. A connection still in its TLS handshake or login is listed open too, with no user yet: an agent that keeps
 * reconnecting after its identity was revoked has one now and then, and it is refused like the others.
 */
function connectionsFrom(address: string): { open: number; closed: Array<{ reason?: string }> } {
  const on = (path: string) =>
    NATS_HOSTS.flatMap((name) => (lab.monitor<Connz>(name, path).connections ?? []).filter((conn) => conn.ip === address));
  return { open: on('/connz?auth=true').filter((conn) => conn.authorized_user).length, closed: on('/connz?state=closed') };
}

/** The lab's CA file, which any host may hold (it is public). */
function caFile(): string {
  if (!lab.pki) throw new Error('the lab runs without TLS');
  return lab.pki.ca;
}

/** fetch that verifies the lab's gateways with the lab's CA (the global fetch takes no CA of its own). */
function labFetch(url: string, init: RequestInit): Promise<Response> {
  return lab.ca ? nodeHttp({ ca: lab.ca }).fetch(url, init) : fetch(url, init);
}

/** ctl-2's gateway, with the admin key and the lab's CA. */
function ctl2(): { url: string; adminKey: string; ca?: string } {
  return { url: lab.gateway('ctl-2').url, adminKey: lab.adminKey, ca: lab.ca };
}

/** An HTTP call made from inside a lab host's namespace (curl there, with the lab's CA): its status and parsed body. */
function httpFrom(hostName: string, method: string, url: string, body: unknown): { status: number; body: Record<string, unknown> } {
  const out = inNetns(
    lab.host(hostName).netns,
    'curl',
    '-s',
    '--max-time',
    '20',
    ...(lab.pki ? ['--cacert', lab.pki.ca] : []),
    '-X',
    method,
    '-H',
    'content-type: application/json',
    '-d',
    JSON.stringify(body),
    '-w',
    '\n%{http_code}',
    url,
  );
  const status = Number(out.slice(out.lastIndexOf('\n') + 1));
  return { status, body: JSON.parse(out.slice(0, out.lastIndexOf('\n')) || '{}') as Record<string, unknown> };
}

function rowsOf(res: { body: { results?: Array<{ hostname: string }> } }): Array<Record<string, unknown> & { hostname: string }> {
  return (res.body.results ?? []) as Array<Record<string, unknown> & { hostname: string }>;
}

function hostnamesOf(res: { body: { results?: Array<{ hostname: string }> } }): string[] {
  return rowsOf(res)
    .map((row) => row.hostname)
    .sort();
}

async function agentLive(hostname: string): Promise<boolean> {
  const res = await api(lab, 'GET', '/agent', { timeoutMs: 5_000 });
  return (res.body.agents as Array<{ hostname: string; live: boolean }>).some((agent) => agent.hostname === hostname && agent.live);
}

/** What the file /count holds in the probe container on a host's engine, read on the engine itself. */
async function engineExec(hostname: string, cmd: string[]): Promise<string> {
  const exec = await lab.docker(hostname).getContainer(PROBE).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  // The engine multiplexes stdout and stderr in frames of an 8-byte header and a payload.
  const raw = Buffer.concat(chunks);
  let out = '';
  for (let at = 0; at + 8 <= raw.length;) {
    const size = raw.readUInt32BE(at + 4);
    out += raw.subarray(at + 8, at + 8 + size).toString();
    at += 8 + size;
  }
  return out;
}

beforeAll(async () => {
  secrets.push(...lab.ownSecrets());
  secrets.push({ what: 'a secret environment value given to a container', value: envSecret });
  secrets.push({ what: "an exec's output marker", value: outputMarker });
  const created = await api(lab, 'POST', '/node/_all/container/docker', {
    body: { image: IMAGE, name: PROBE, cmd: ['sleep', '3600'], env: { LAB_SECRET: envSecret }, auto_start: true },
  });
  expect(created.status).toBe(202);
  expect(rowsOf(created).map((row) => row.status)).toEqual(['ok', 'ok', 'ok']);
}, 120_000);

describe('every target kind, across the hosts', () => {
  const cases: Array<[string, string[]]> = [
    ['web-01', ['web-01']],
    ['_all', HOSTS],
    ['role:web', ['web-01', 'web-02']],
    ['role:web,zone:eu', ['web-01']],
  ];
  it.each(cases)(
    "runs an exec on %s: each targeted host answers the output marker, read from its container's environment",
    async (target, expected) => {
      const res = await api(lab, 'POST', `/node/${target}/container/docker/${PROBE}/exec`, {
        body: { cmd: ['sh', '-c', 'echo "$LAB_SECRET" | rev'] },
      });
      expect(res.status).toBe(202);
      expect(hostnamesOf(res)).toEqual(expected);
      for (const row of rowsOf(res)) expect(row).toMatchObject({ status: 'ok', stdout: `${outputMarker}\n`, exit_code: 0 });
    },
  );

  it('runs a create on _any on exactly one engine', async () => {
    const run = `any-${randomBytes(3).toString('hex')}`;
    const res = await api(lab, 'POST', '/node/_any/container/docker', {
      body: { image: IMAGE, cmd: ['true'], labels: { 'lab.run': run } },
    });
    expect(res.status).toBe(202);
    expect(rowsOf(res)).toHaveLength(1);
    const counts = await Promise.all(HOSTS.map((host) => countContainers(lab.docker(host), `lab.run=${run}`)));
    expect(counts.reduce((sum, count) => sum + count, 0)).toBe(1);
    expect(counts[HOSTS.indexOf(rowsOf(res)[0].hostname)]).toBe(1);
  });

  it('answers the same job from the other gateway, on another host', async () => {
    const res = await api(lab, 'GET', '/node/_all/container/docker', {});
    const again = await api(ctl2(), 'GET', `/job/${res.body.job_id}`);
    expect(again.status).toBe(200);
    expect(hostnamesOf(again)).toEqual(HOSTS);
  });
});

describe('a registry with a password, on a host of its own', () => {
  let registry: Registry | undefined;
  const password = randomBytes(12).toString('hex');

  beforeAll(async () => {
    const host = lab.network.addHost('registry', 41);
    registry = await startRegistry({
      dir: join(lab.dir, 'registry'),
      port: 5000,
      htpasswd: { user: 'fleet', password },
      placement: { netns: host.netns, host: host.address },
      tls: await registryCertificate(host.address),
    });
    secrets.push({ what: 'the registry password', value: password });
  });

  afterAll(async () => {
    if (registry) await stopRegistry(registry);
  });

  /**
   * A server certificate for the registry's address from the lab's own CA: createPki in a dir of its own that
   * holds a copy of that CA, so it issues from it rather than making a new one.
   */
  async function registryCertificate(address: string): Promise<{ certFile: string; keyFile: string; caFile: string } | undefined> {
    if (!lab.pki) return undefined;
    const dir = join(lab.dir, 'pki-registry');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    copyFileSync(lab.pki.ca, join(dir, 'ca.pem'));
    copyFileSync(lab.pki.caKey, join(dir, 'ca-key.pem'));
    const issued = await createPki(dir, { gatewayHosts: [address] });
    if (!issued.gateway) throw new Error('no registry certificate issued');
    return { certFile: issued.gateway.cert, keyFile: issued.gateway.key, caFile: issued.ca };
  }

  it('pushes from web-01 and pulls on _all with X-Registry-Auth: every engine holds the pushed image', async () => {
    if (!registry) throw new Error('no registry');
    const remote = `${registry.address}/busybox`;
    const auth = registryAuthHeader({ username: 'fleet', password, serveraddress: registry.address });
    secrets.push({ what: 'the X-Registry-Auth header', value: auth });
    secrets.push({
      what: "the registry's Basic credentials (engine to registry)",
      value: Buffer.from(`fleet:${password}`).toString('base64'),
    });
    await lab.docker('web-01').getImage(IMAGE).tag({ repo: remote, tag: 't1' });
    const pushed = await api(lab, 'POST', `/node/web-01/container/docker/image/${encodeURIComponent(remote)}/push?tag=t1`, {
      headers: { 'x-registry-auth': auth },
    });
    expect(pushed.status).toBe(202);
    const pulled = await api(lab, 'POST', `/node/_all/container/docker/image/pull?fromImage=${encodeURIComponent(remote)}&tag=t1`, {
      headers: { 'x-registry-auth': auth },
    });
    expect(pulled.status).toBe(202);
    expect(rowsOf(pulled).map((row) => row.status)).toEqual(['ok', 'ok', 'ok']);
    const expected = await imageIdOn(lab.docker('web-01'), IMAGE);
    for (const host of HOSTS) expect(await imageIdOn(lab.docker(host), `${remote}:t1`)).toBe(expected);
  });
});

describe('the docker CLI and a file upload, through a gateway on another host', () => {
  it("creates a container on web-01 with the real docker binary (DOCKER_HOST at ctl-2's proxy)", async () => {
    const configDir = join(lab.dir, 'docker-config');
    mkdirSync(configDir, { recursive: true });
    const key = lab.mintKey('operator', { subject: 'lab-cli' });
    secrets.push({ what: "the docker CLI's API key", value: key });
    writeFileSync(join(configDir, 'config.json'), JSON.stringify({ HttpHeaders: { Authorization: `Bearer ${key}` } }));
    // DOCKER_CERT_PATH holds the lab's CA only: the gateway asks for no client certificate, the API key is the login.
    const certPath = join(lab.dir, 'docker-certs');
    mkdirSync(certPath, { recursive: true });
    copyFileSync(caFile(), join(certPath, 'ca.pem'));
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: lab.dir,
      DOCKER_CONFIG: configDir,
      DOCKER_HOST: `tcp://${new URL(lab.gateway('ctl-2').url).host}/node/web-01/docker`,
      DOCKER_TLS_VERIFY: '1',
      DOCKER_CERT_PATH: certPath,
    };
    execFileSync('docker', ['create', '--name', 'cli-made', '--label', 'lab.run=cli', IMAGE, 'sleep', '60'], { env, timeout: 60_000 });
    const listed = execFileSync('docker', ['ps', '-a', '--format', '{{.Names}}'], { env, encoding: 'utf8', timeout: 60_000 });
    expect(listed.split('\n')).toContain('cli-made');
    expect(await countContainers(lab.docker('web-01'), 'lab.run=cli')).toBe(1);
    for (const host of ['web-02', 'db-01']) expect(await countContainers(lab.docker(host), 'lab.run=cli')).toBe(0);
  });

  it('uploads a file into the probe on role:web: both web engines hold it, db-01 does not', async () => {
    const content = `upload-${randomBytes(8).toString('hex')}\n`;
    const tar = pack();
    tar.entry({ name: 'upload.txt' }, content);
    tar.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of tar as AsyncIterable<Buffer>) chunks.push(chunk);
    const res = await labFetch(`${lab.url}/node/role:web/container/docker/${PROBE}/archive?path=/tmp`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${lab.adminKey}`, 'content-type': 'application/x-tar' },
      body: Buffer.concat(chunks),
      signal: AbortSignal.timeout(60_000),
    });
    expect(res.status).toBe(202);
    for (const host of ['web-01', 'web-02']) expect(await engineExec(host, ['cat', '/tmp/upload.txt'])).toBe(content);
    expect(await engineExec('db-01', ['sh', '-c', 'test -e /tmp/upload.txt && echo present || echo absent'])).toBe('absent\n');
  });
});

describe('impostors on the lab network', () => {
  beforeAll(() => {
    lab.network.addHost('intruder', 51);
  });

  attack(
    "a host on the lab network with no credentials, or web-01's user JWT with an NKey of its own, logs in to a NATS server: refused, no connection from it stays open",
    async () => {
      const intruder = lab.host('intruder').address;
      const server = lab.natsServerUrl('nats-1');
      expect(lab.natsLoginFrom('intruder', server)).toMatch(/^REFUSED .*Authorization Violation/i);
      // web-01's creds (public JWT) with another key's seed: the server's nonce signed by the wrong NKey.
      const web01 = lab.agentLogin('web-01').creds ?? '';
      const wrongSeed = new TextDecoder().decode(nkeys.createUser().getSeed());
      const wrongKey = web01.replace(/(-----BEGIN USER NKEY SEED-----\s*)\S+/, `$1${wrongSeed}`);
      expect(wrongKey).not.toBe(web01);
      expect(lab.natsLoginFrom('intruder', server, { creds: wrongKey })).toMatch(/^REFUSED .*Authorization Violation/i);
      const open = lab.monitor<Connz>('nats-1', '/connz?auth=true');
      expect((open.connections ?? []).filter((conn) => conn.ip === intruder)).toEqual([]);
      const closed = lab.monitor<Connz>('nats-1', '/connz?state=closed&auth=true');
      const refused = (closed.connections ?? []).filter((conn) => conn.ip === intruder);
      expect(refused.length).toBe(2);
      for (const conn of refused) expect(conn).toMatchObject({ reason: 'Authentication Failure' });
    },
  );

  attack('a host on the lab network with no API key calls a gateway: 401, nothing created on any engine', async () => {
    const res = await labFetch(`${lab.url}/node/_all/container/docker`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: IMAGE, cmd: ['true'], labels: { 'lab.run': 'keyless' } }),
    });
    expect(res.status).toBe(401);
    expect((await res.json()) as unknown).toMatchObject({ error: expect.any(String), details: expect.any(String), code: 401 });
    for (const host of HOSTS) expect(await countContainers(lab.docker(host), 'lab.run=keyless')).toBe(0);
  });

  attack(
    "a host with a certificate from a foreign CA: refused at the TLS handshake by every NATS server's routes, and its certificate logs it in to no client port",
    async () => {
      for (const name of NATS_HOSTS) {
        const varz = lab.monitor<{ tls_required?: boolean; cluster?: { tls_required?: boolean; tls_verify?: boolean } }>(name, '/varz');
        expect({ client: varz.tls_required, routes: varz.cluster?.tls_required, verified: varz.cluster?.tls_verify }).toEqual({
          client: true,
          routes: true,
          verified: true,
        });
      }
      const thief = lab.network.addHost('intruder-2', 52);
      const dir = join(lab.dir, 'foreign-ca');
      const foreign = foreignClientCertificate(dir, 'intruder-2');
      // A nats-server of its own on the thief's host, routed to every lab server with the foreign certificate.
      const routes = NATS_HOSTS.map((name) => `nats-route://${lab.host(name).address}:${lab.natsNode(name).routePort}`);
      const config = join(dir, 'nats.conf');
      writeFileSync(
        config,
        [
          'server_name: "intruder-2"',
          `listen: "${thief.address}:4222"`,
          'cluster {',
          '  name: "fleet"',
          `  listen: "${thief.address}:6222"`,
          `  routes: [${routes.map((route) => JSON.stringify(route)).join(', ')}]`,
          `  tls { cert_file: ${JSON.stringify(foreign.certFile)}, key_file: ${JSON.stringify(foreign.keyFile)}, ca_file: ` +
            `${JSON.stringify(foreign.caFile)}, verify: true, timeout: 5 }`,
          '}',
          '',
        ].join('\n'),
      );
      const pid = spawnService({
        command: findExecutable('nats-server'),
        args: ['-c', config],
        logFile: join(dir, 'nats.log'),
        detached: false,
        netns: thief.netns,
      });
      try {
        const refusedBy = (index: number) =>
          readFileSync(logFileOf(lab.dir, `nats-${index}`), 'utf8')
            .split('\n')
            .some((line) => line.includes(`${thief.address}:`) && /TLS route handshake error/.test(line));
        await waitFor(
          'every lab server to refuse the foreign certificate at the route handshake',
          () => NATS_HOSTS.every((_, at) => refusedBy(at + 1)),
          { timeoutMs: 20_000, intervalMs: 250 },
        );
      } finally {
        await stopByPid(pid, { marker: config });
      }
      for (const name of NATS_HOSTS) {
        const routez = lab.monitor<{ routes?: Array<{ ip: string; remote_id: string }> }>(name, '/routez');
        expect((routez.routes ?? []).filter((route) => route.ip === thief.address)).toEqual([]);
        expect(routez.routes ?? []).toHaveLength(NATS_HOSTS.length - 1);
      }
      // On the client port the server asks for no certificate: presenting one buys nothing, the login is still refused.
      for (const name of NATS_HOSTS) {
        expect(
          lab.natsLoginFrom('intruder-2', lab.natsServerUrl(name), {
            tls: { caFile: caFile(), certFile: foreign.certFile, keyFile: foreign.keyFile },
          }),
        ).toMatch(/^REFUSED .*Authorization Violation/i);
      }
      const seen = connectionsFrom(thief.address);
      expect(seen.open).toBe(0);
      expect(seen.closed).toHaveLength(NATS_HOSTS.length);
      for (const conn of seen.closed) expect(conn.reason).toBe('Authentication Failure');
    },
  );
});

describe('partitions', () => {
  it('an agent cut off mid-job gets its timeout row, comes back live when healed, and ran the job exactly once', async () => {
    await engineExec('web-01', ['sh', '-c', ': > /count']);
    const slow = api(lab, 'POST', `/node/web-01/container/docker/${PROBE}/exec?timeout=6`, {
      body: { cmd: ['sh', '-c', 'sleep 3; echo A >> /count'] },
      timeoutMs: 30_000,
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    lab.network.pullCable('web-01', NATS_HOSTS);
    try {
      const res = await slow;
      expect(res.status).toBe(504);
      expect(res.body).toMatchObject({ error: 'timeout: agent did not respond within 6s', code: 504 });
      const job = await api(lab, 'GET', `/job/${res.body.job_id}`);
      expect(rowsOf(job)).toEqual([
        expect.objectContaining({ hostname: 'web-01', status: 'failed', error_code: 504, error: expect.stringMatching(/^timeout/) }),
      ]);
      await waitFor('web-01 to be seen gone', async () => !(await agentLive('web-01')), { timeoutMs: 30_000, intervalMs: 500 });
    } finally {
      lab.network.heal('web-01');
    }
    await waitFor('web-01 to be live again', () => agentLive('web-01'), { timeoutMs: 90_000, intervalMs: 500 });
    const after = await api(lab, 'POST', `/node/web-01/container/docker/${PROBE}/exec`, {
      body: { cmd: ['sh', '-c', 'echo B >> /count'] },
    });
    expect(rowsOf(after)[0]).toMatchObject({ status: 'ok', exit_code: 0 });
    // A redelivery of the first job after the heal would show as a second A.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await engineExec('web-01', ['cat', '/count'])).toBe('A\nB\n');
  }, 180_000);

  it('a NATS server cut off from every other host: jobs go on through the other two, each run once per host', async () => {
    lab.network.cut('nats-3', [...NATS_HOSTS.filter((name) => name !== 'nats-3'), 'ctl-1', 'ctl-2', ...HOSTS]);
    try {
      // Its clients were reset and went to the other two; the raft groups it led elect new leaders there.
      // nats-3 itself still lists the clients it lost until its next ping; the other two must hold them all now.
      const clients = ['ctl-1', 'ctl-2', ...HOSTS].map((name) => lab.host(name).address);
      await waitFor(
        'every client to reconnect to nats-1 or nats-2',
        () => {
          const held = new Set(
            ['nats-1', 'nats-2'].flatMap((name) => (lab.monitor<Connz>(name, '/connz').connections ?? []).map((conn) => conn.ip)),
          );
          const missing = clients.filter((address) => !held.has(address));
          if (missing.length > 0) throw new Error(`not on nats-1 or nats-2 yet: ${missing.join(', ')}`);
          return true;
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      await waitFor('every agent live without nats-3', async () => (await Promise.all(HOSTS.map(agentLive))).every(Boolean), {
        timeoutMs: 30_000,
        intervalMs: 500,
      });
      for (let i = 0; i < 3; i++) {
        const run = `nats-cut-${i}`;
        const res = await api(lab, 'POST', '/node/_all/container/docker', {
          body: { image: IMAGE, cmd: ['true'], labels: { 'lab.run': run } },
          timeoutMs: 60_000,
        });
        expect(res.status).toBe(202);
        expect(rowsOf(res).map((row) => row.status)).toEqual(['ok', 'ok', 'ok']);
        for (const host of HOSTS) expect(await countContainers(lab.docker(host), `lab.run=${run}`)).toBe(1);
      }
    } finally {
      lab.network.heal('nats-3');
    }
    if (!lab.cluster) throw new Error('no cluster');
    await waitForClusterHealth(lab.cluster, 60_000);
    // Back, nats-3 makes the leaders it outbid while cut off step down: the suite goes on once every stream has one again.
    const healthy = Date.now();
    await waitForJetStreamSettled(lab, NATS_HOSTS);
    process.stdout.write(`[multihost] every stream led again ${Date.now() - healthy} ms after the cluster reported healthy\n`);
  }, 180_000);

  it("a gateway cut off from NATS answers 503 with the error body by the job's deadline, not a hang; nothing runs", async () => {
    await waitFor(
      'ctl-2 to list every agent live',
      async () => {
        const listed = await api(ctl2(), 'GET', '/agent', { timeoutMs: 5_000 });
        return (listed.body.agents as Array<{ live: boolean }>).filter((agent) => agent.live).length === HOSTS.length;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    lab.network.cut('ctl-2', NATS_HOSTS);
    try {
      const started = Date.now();
      const res = await api(ctl2(), 'POST', '/node/_all/container/docker?timeout=5', {
        body: { image: IMAGE, cmd: ['true'], labels: { 'lab.run': 'gateway-cut' } },
        timeoutMs: 40_000,
      });
      const elapsedMs = Date.now() - started;
      process.stdout.write(`[multihost] a gateway cut off from NATS answered ${res.status} in ${elapsedMs} ms\n`);
      expect(res.status).toBe(503);
      // Answered by the job's own deadline (5 s), as a broker that is there but slow would be.
      expect(elapsedMs).toBeLessThan(10_000);
      expect(res.body).toMatchObject({ error: expect.any(String), details: expect.any(String), code: 503 });
      for (const host of HOSTS) expect(await countContainers(lab.docker(host), 'lab.run=gateway-cut')).toBe(0);
    } finally {
      lab.network.heal('ctl-2');
    }
  }, 120_000);
});

/*
 * What only the agents' own identities stop (issue 18: one-time join tokens, NKeys, revocation), checked on the
 * brokers themselves: connz asked from inside each NATS server's namespace.
 */
describe('impostors that only agent identities stop', () => {
  attack('a stolen join token its host already used: refused on its second use, and the thief logs in nowhere', async () => {
    const issued = await api(lab, 'POST', '/agent/web-09/join-token', { body: { ttl_seconds: 300 } });
    expect(issued.status).toBe(201);
    const token = String(issued.body.token);
    secrets.push({ what: 'a join token', value: token });
    const owner = nkeys.createUser();
    const joined = await api(lab, 'POST', '/agent/join', {
      key: null,
      body: { hostname: 'web-09', token, public_key: owner.getPublicKey() },
    });
    expect(joined.status).toBe(200);
    const thief = lab.network.addHost('intruder-3', 53);
    const thiefKey = nkeys.createUser();
    const replay = httpFrom('intruder-3', 'POST', `${lab.url}/agent/join`, {
      hostname: 'web-09',
      token,
      public_key: thiefKey.getPublicKey(),
    });
    expect(replay.status).toBeGreaterThanOrEqual(400);
    expect(replay.status).toBeLessThan(500);
    expect(replay.body).toMatchObject({ error: expect.any(String), details: expect.any(String), code: replay.status });
    const seed = new TextDecoder().decode(thiefKey.getSeed());
    for (const name of NATS_HOSTS)
      expect(lab.natsLoginFrom('intruder-3', lab.natsServerUrl(name), { nkeySeed: seed })).toMatch(/^REFUSED /);
    expect(connectionsFrom(thief.address).open).toBe(0);
  });

  // Last of the attacks: web-02 has no identity after it.
  attack(
    'an agent identity an admin revoked: the agent is cut off at once, and what it logged in with, copied to another host, logs in nowhere',
    async () => {
      const stolen = lab.agentLogin('web-02');
      const agent = lab.host('web-02').address;
      expect(connectionsFrom(agent).open).toBe(1);
      const revoked = await api(lab, 'DELETE', '/agent/web-02/identity');
      expect(revoked.status).toBe(200);
      // Cut off at once: no server keeps its connection, and its reconnects are refused.
      await eventually("no server keeps web-02's connection", () => connectionsFrom(agent).open === 0, 5_000);
      await eventually(
        "web-02's reconnect refused",
        () => connectionsFrom(agent).closed.some((conn) => conn.reason === 'Authentication Failure'),
        10_000,
      );
      expect(connectionsFrom(agent).open).toBe(0);
      const thief = lab.network.addHost('intruder-4', 54);
      for (const name of NATS_HOSTS) expect(lab.natsLoginFrom('intruder-4', lab.natsServerUrl(name), stolen)).toMatch(/^REFUSED /);
      const seen = connectionsFrom(thief.address);
      expect(seen.open).toBe(0);
      expect(seen.closed).toHaveLength(NATS_HOSTS.length);
    },
  );
});

describe('the wire', () => {
  it('the bridge capture of the whole suite holds none of its secrets in cleartext', async () => {
    const capture = lab.capture;
    if (!capture) throw new Error('the lab was built without a capture');
    await capture.stop();
    const size = capture.bytes().length;
    const found = capture.found(secrets);
    process.stdout.write(`[multihost] capture ${size} bytes, ${secrets.length} secrets searched, ${found.length} found\n`);
    if (found.length > 0) process.stdout.write(`[multihost] in cleartext on the bridge: ${found.join('; ')}\n`);
    // The suite's own traffic is far more than this: a smaller capture would mean tcpdump saw nothing.
    expect(size).toBeGreaterThan(1_000_000);
    expect(found).toEqual([]);
  });
});
