/**
 * Issue 18: every hop over TLS (README "TLS"). On a fleet as `fleet up` runs it, an attacker on the network
 * neither reads nor impersonates: a client that speaks plain NATS gets nothing but "TLS required", a rogue
 * broker or a rogue gateway with a certificate of another CA, or of the fleet's CA but expired (broker, route,
 * client), is refused before any login (a NATS identity's
 * signature, a join token) or API key crosses, and a gateway asked to serve plain HTTP on a public address does not start. Each attack is checked
 * where it would have landed: the broker's connection list, the rogue server's own record, the port.
 */
import 'reflect-metadata';
import { spawn, spawnSync } from 'node:child_process';
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { connect as connectTcp, type AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import * as x509 from '@peculiar/x509';
import {
  agentCredsFile,
  AGENT_ENTRYPOINT,
  createPki,
  defaultAgents,
  findExecutable,
  freePort,
  GATEWAY_ENTRYPOINT,
  hostGrantKeyFiles,
  issueJoinToken,
  natsServerConfig,
  pkiFilesOf,
  type NatsServer,
  type NatsTlsFiles,
  spawnService,
  startNats,
  stopByPid,
  stopNats,
} from '@fleet/deploy';
import { connect } from '@nats-io/transport-node';
import { EX_CONFIG } from '@fleet/runtime/config';
import { attack } from '../support/attacks';
import { useScratchDir, useTestFleet } from '../support/suite';
import { firstLine, natsCertificateSerial } from '../support/tls';

jest.setTimeout(300_000);
const REPO = resolve(__dirname, '../..');
const fleet = useTestFleet({ tls: true, agents: defaultAgents(1) });
const scratch = useScratchDir('/tmp/flt-tls-attack-');

const sleep = (ms: number) => new Promise((resolvePromise) => setTimeout(resolvePromise, ms));
const caFile = () => fleet.state.tls!.caFile;

const DAY_MS = 86_400_000;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ECDSA = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

/**
 * A certificate signed by the fleet's own CA (its key, as `fleet pki` keeps it) for 127.0.0.1 and
 * localhost, with every extension a valid one has, that expired yesterday: what a decommissioned
 * host's leaked certificate looks like. Written as PEM files into `dir`.
 */
async function expiredFleetCertificate(
  dir: string,
  caPem: string,
  usages: string[],
): Promise<{ certFile: string; keyFile: string; caFile: string }> {
  const caKeyDer = createPrivateKey(readFileSync(pkiFilesOf(dirname(caPem)).caKey)).export({ format: 'der', type: 'pkcs8' });
  const caKey = await webcrypto.subtle.importKey('pkcs8', caKeyDer, ECDSA, false, ['sign']);
  const ca = new x509.X509Certificate(readFileSync(caPem, 'utf8'));
  const keys = (await webcrypto.subtle.generateKey(ECDSA, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(16).toString('hex').replace(/^./, '1'),
    subject: 'CN=fleet expired',
    issuer: ca.subject,
    notBefore: new Date(now - 30 * DAY_MS),
    notAfter: new Date(now - DAY_MS),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: ECDSA,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(usages),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'dns', value: 'localhost' },
      ]),
    ],
  });
  mkdirSync(dir, { recursive: true });
  const files = { certFile: join(dir, 'expired.pem'), keyFile: join(dir, 'expired-key.pem'), caFile: caPem };
  const keyDer = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  writeFileSync(files.keyFile, createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }), {
    mode: 0o600,
  });
  writeFileSync(files.certFile, cert.toString('pem'));
  return files;
}

/** What nats-server's monitoring says about its clients. */
async function connectionsOf(monitorPort: number): Promise<Array<{ name?: string; tls_version?: string }>> {
  const connz = (await (await fetch(`http://127.0.0.1:${monitorPort}/connz`)).json()) as {
    connections?: Array<{ name?: string; tls_version?: string }>;
  };
  return connz.connections ?? [];
}

attack(
  'a client speaks plain NATS to the broker (to read jobs off the wire): the broker announces TLS as required, answers nothing in clear ' +
    'and drops it',
  async () => {
    const nats = fleet.state.nats!;
    const before = await connectionsOf(nats.monitorPort);
    const handshakeErrors = () => (fleet.log('nats').match(/TLS handshake error/g) ?? []).length;
    const errorsBefore = handshakeErrors();
    const socket = connectTcp({ host: '127.0.0.1', port: nats.port });
    const info = JSON.parse((await firstLine(socket)).replace(/^INFO /, '')) as { tls_required?: boolean };
    expect(info.tls_required).toBe(true);
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.resume();
    const closed = new Promise<void>((resolvePromise) => socket.once('close', () => resolvePromise()));
    socket.write('CONNECT {"verbose":false,"name":"plain-eavesdropper","user":"gateway","pass":"guess"}\r\nPING\r\nSUB > 1\r\n');
    await Promise.race([closed, sleep(5_000)]);
    // nats-server expects a TLS handshake right after its INFO: plain protocol is a failed handshake, answered by closing.
    expect(answer).toBe('');
    expect(socket.destroyed).toBe(true);
    await sleep(200);
    expect(handshakeErrors()).toBe(errorsBefore + 1);
    const after = await connectionsOf(nats.monitorPort);
    expect(after.some((connection) => connection.name === 'plain-eavesdropper')).toBe(false);
    expect(after.length).toBe(before.length);
    // Every client the broker does hold speaks TLS.
    for (const connection of after) expect(connection.tls_version).toMatch(/^1\.[23]$/);
  },
);

/** The fleet's own gateway or agent, with its own login and CA, pointed at `rogue` instead of the fleet's broker. */
async function pointedAtRogue(
  rogue: NatsServer,
  entrypoint: string,
  env: Record<string, string>,
  credsFile: string,
): Promise<{ pid: number; log: string }> {
  const log = join(scratch(), `${entrypoint === GATEWAY_ENTRYPOINT ? 'gateway' : 'agent'}-to-rogue-${rogue.port}.log`);
  const pid = spawnService({
    command: process.execPath,
    args: [entrypoint],
    cwd: REPO,
    env: {
      ...process.env,
      ...env,
      FLEET_NATS_URL: `nats://127.0.0.1:${rogue.port}`,
      FLEET_NATS_CA_FILE: caFile(),
      FLEET_NATS_CREDS_FILE: credsFile,
    },
    logFile: log,
    detached: false,
  });
  return { pid, log };
}

/** Points the gateway and web-01's agent at `rogue` for a few seconds: neither may connect, log in, or come up. */
async function expectBothRefuse(rogue: NatsServer): Promise<void> {
  const keys = hostGrantKeyFiles(dirname(fleet.state.jwtSecretFile));
  const apiPort = await freePort();
  const gateway = await pointedAtRogue(
    rogue,
    GATEWAY_ENTRYPOINT,
    {
      FLEET_HTTP_INSECURE: 'loopback',
      FLEET_API_PORT: String(apiPort),
      FLEET_JWT_SECRET_FILE: fleet.state.jwtSecretFile,
      FLEET_HOST_GRANT_PRIVATE_KEY_FILE: keys.privateKey,
    },
    fleet.state.natsOperator!.gatewayCredsFile,
  );
  const agent = await pointedAtRogue(
    rogue,
    AGENT_ENTRYPOINT,
    { FLEET_AGENT_HOSTNAME: 'web-01', FLEET_HOST_GRANT_PUBLIC_KEY_FILE: keys.publicKey, DOCKER_HOST: `unix://${fleet.socketOf('web-01')}` },
    agentCredsFile(fleet.state, 'web-01'),
  );
  try {
    // Both keep retrying: a few seconds is many attempts.
    await sleep(4_000);
    expect(await connectionsOf(rogue.monitorPort)).toEqual([]);
    const rogueLog = readFileSync(rogue.logFile, 'utf8');
    expect(rogueLog).not.toMatch(/authorization|authentication/i);
    expect(rogueLog).toMatch(/TLS handshake error/);
    // The gateway never came up on the rogue broker's word.
    await expect(fetch(`http://127.0.0.1:${apiPort}/health`)).rejects.toThrow();
  } finally {
    await stopByPid(gateway.pid, { marker: GATEWAY_ENTRYPOINT });
    await stopByPid(agent.pid, { marker: AGENT_ENTRYPOINT });
  }
}

describe('a rogue broker (a certificate of another CA, no users: it would take any login)', () => {
  let rogue: NatsServer;
  beforeAll(async () => {
    const foreign = await createPki(join(scratch(), 'rogue-pki'), { natsHosts: ['127.0.0.1', 'localhost'] });
    rogue = await startNats({
      dir: join(scratch(), 'rogue-nats'),
      logFile: join(scratch(), 'rogue-nats.log'),
      detached: false,
      tls: { certFile: foreign.nats!.cert, keyFile: foreign.nats!.key, caFile: foreign.ca },
    });
  });
  afterAll(async () => {
    if (rogue) await stopNats(rogue);
  });

  attack('the gateway and an agent are pointed at it (DNS or route hijack): both refuse its certificate, neither logs in', async () => {
    await expectBothRefuse(rogue);
  });
});

describe("a rogue broker with a certificate of the fleet's own CA that has expired (a decommissioned server's, leaked)", () => {
  let rogue: NatsServer;
  beforeAll(async () => {
    const expired = await expiredFleetCertificate(join(scratch(), 'expired-server'), caFile(), [SERVER_AUTH]);
    rogue = await startNats({
      dir: join(scratch(), 'expired-nats'),
      logFile: join(scratch(), 'expired-nats.log'),
      detached: false,
      tls: expired,
    });
  });
  afterAll(async () => {
    if (rogue) await stopNats(rogue);
  });

  attack(
    'the gateway and an agent are pointed at it: both refuse the expired certificate before any login, the gateway never serves',
    async () => {
      // Why, as a client that trusts the fleet's CA sees it (the fleet's own broker, the control, passes the same check).
      await expect(natsCertificateSerial(rogue.port, readFileSync(caFile(), 'utf8'))).rejects.toMatchObject({ code: 'CERT_HAS_EXPIRED' });
      await expect(natsCertificateSerial(fleet.state.nats!.port, readFileSync(caFile(), 'utf8'))).resolves.toMatch(/^[0-9A-F]+$/i);
      await expectBothRefuse(rogue);
    },
  );
});

attack(
  "a client presents a certificate of the fleet's CA that has expired, and no NKey: the broker admits no connection (connz)",
  async () => {
    const expired = await expiredFleetCertificate(join(scratch(), 'expired-client'), caFile(), [CLIENT_AUTH]);
    const nats = fleet.state.nats!;
    const before = await connectionsOf(nats.monitorPort);
    // A certificate is never a login here: agents and the gateway log in with NKeys (README "TLS").
    await expect(connect({ servers: fleet.natsUrl, name: 'expired-impostor', tls: expired, maxReconnectAttempts: 0 })).rejects.toThrow(
      /authorization|authentication|certificate/i,
    );
    const after = await connectionsOf(nats.monitorPort);
    expect(after.some((connection) => connection.name === 'expired-impostor')).toBe(false);
    expect(after.length).toBe(before.length);
  },
);

describe('a NATS cluster whose routes use mutual TLS (`fleet nats-config --pki` with --cluster-routes)', () => {
  interface Node {
    name: string;
    client: number;
    monitor: number;
    route: number;
    configFile: string;
    logFile: string;
    pid: number;
  }
  const nodes: Node[] = [];
  const natsServer = () => findExecutable('nats-server');
  /** The cluster's two good nodes: their route ports and PKI (set by the first attack). */
  const cluster = { routePorts: [] as number[], pkiDir: '', caFile: '' };

  async function routesOf(node: Node): Promise<number> {
    const routez = (await (await fetch(`http://127.0.0.1:${node.monitor}/routez`)).json()) as { num_routes: number };
    return routez.num_routes;
  }

  /** One node's config as `fleet nats-config` writes it, on loopback ports of its own: routes admitted by their certificate alone. */
  async function writeNode(name: string, routeTls: NatsTlsFiles, routePorts: number[]): Promise<Node> {
    const node = {
      name,
      client: await freePort(),
      monitor: await freePort(),
      route: routePorts[nodes.length] ?? (await freePort()),
      configFile: join(scratch(), `${name}.conf`),
      logFile: join(scratch(), `${name}.log`),
      pid: 0,
    };
    const config = natsServerConfig(
      {
        listen: `127.0.0.1:${node.client}`,
        http: `127.0.0.1:${node.monitor}`,
        storeDir: join(scratch(), `${name}-store`),
        clusterRoutes: routePorts.map((port) => `nats://127.0.0.1:${port}`),
        clusterName: 'fleet',
        clusterListen: `127.0.0.1:${node.route}`,
        tls: routeTls,
        routeTls,
      },
      '',
    );
    expect(config).not.toMatch(/password:/);
    writeFileSync(node.configFile, config, { mode: 0o600 });
    node.pid = spawnService({
      command: natsServer(),
      args: ['-c', node.configFile],
      env: { ...process.env, NATS_SERVER_NAME: name },
      logFile: node.logFile,
      detached: false,
    });
    return node;
  }

  afterAll(async () => {
    for (const node of nodes) await stopByPid(node.pid, { marker: node.configFile });
  });

  attack('a rogue node with a certificate of another CA tries to join: refused, the cluster keeps its one route', async () => {
    const pki = await createPki(join(scratch(), 'cluster-pki'), {
      natsHosts: ['127.0.0.1', 'localhost'],
      routeHosts: ['127.0.0.1', 'localhost'],
    });
    const foreign = await createPki(join(scratch(), 'rogue-route-pki'), {
      natsHosts: ['127.0.0.1', 'localhost'],
      routeHosts: ['127.0.0.1', 'localhost'],
    });
    const routeTls = { certFile: pki.route!.cert, keyFile: pki.route!.key, caFile: pki.ca };
    const routePorts = [await freePort(), await freePort()];
    nodes.push(await writeNode('nats-a', routeTls, routePorts));
    nodes.push(await writeNode('nats-b', routeTls, routePorts));
    Object.assign(cluster, { routePorts, pkiDir: pki.dir, caFile: pki.ca });
    // The two nodes of the fleet's CA route to each other over mutual TLS.
    for (
      let attempt = 0;
      attempt < 100 && ((await routesOf(nodes[0]).catch(() => 0)) < 1 || (await routesOf(nodes[1]).catch(() => 0)) < 1);
      attempt++
    )
      await sleep(200);
    expect([await routesOf(nodes[0]), await routesOf(nodes[1])]).toEqual([1, 1]);

    const handshakeErrors = () => (readFileSync(nodes[0].logFile, 'utf8').match(/TLS route handshake error/g) ?? []).length;
    const errorsBefore = handshakeErrors();
    const rogueTls = { certFile: foreign.route!.cert, keyFile: foreign.route!.key, caFile: foreign.ca };
    nodes.push(await writeNode('nats-rogue', rogueTls, [...routePorts]));
    await sleep(4_000);
    expect([await routesOf(nodes[0]), await routesOf(nodes[1]), await routesOf(nodes[2])]).toEqual([1, 1, 0]);
    expect(handshakeErrors()).toBeGreaterThan(errorsBefore);
  });

  attack("a rogue node with a route certificate of the cluster's own CA, expired: refused, the cluster keeps its one route", async () => {
    expect(cluster.caFile).not.toBe('');
    const expired = await expiredFleetCertificate(join(scratch(), 'expired-route'), cluster.caFile, [SERVER_AUTH, CLIENT_AUTH]);
    const expiredErrors = () => (readFileSync(nodes[0].logFile, 'utf8').match(/TLS route handshake error.*expired/gi) ?? []).length;
    const errorsBefore = expiredErrors();
    nodes.push(await writeNode('nats-expired', expired, [...cluster.routePorts]));
    await sleep(4_000);
    expect([await routesOf(nodes[0]), await routesOf(nodes[1]), await routesOf(nodes[nodes.length - 1])]).toEqual([1, 1, 0]);
    expect(expiredErrors()).toBeGreaterThan(errorsBefore);
  });

  attack(
    "a node with a valid client certificate of the cluster's own CA (a reverse proxy's) tries to join: not the route subject, refused",
    async () => {
      expect(cluster.pkiDir).not.toBe('');
      const { clients } = await createPki(cluster.pkiDir, { clients: ['proxy'] });
      const proxyTls = { certFile: clients.proxy.cert, keyFile: clients.proxy.key, caFile: cluster.caFile };
      // The handshake passes (same CA, a client certificate): the subject mapping is what refuses it.
      const refusals = () => (readFileSync(nodes[0].logFile, 'utf8').match(/authentication error/g) ?? []).length;
      const refusalsBefore = refusals();
      nodes.push(await writeNode('nats-proxy-cert', proxyTls, [...cluster.routePorts]));
      await sleep(4_000);
      expect([await routesOf(nodes[0]), await routesOf(nodes[1]), await routesOf(nodes[nodes.length - 1])]).toEqual([1, 1, 0]);
      expect(refusals()).toBeGreaterThan(refusalsBefore);
    },
  );
});

attack('a rogue HTTPS server with a certificate of another CA poses as the gateway: the fleet CLI never sends its API key', async () => {
  const foreign = await createPki(join(scratch(), 'rogue-gateway-pki'), { gatewayHosts: ['127.0.0.1', 'localhost'] });
  const seen: string[] = [];
  const server = createServer({ cert: readFileSync(foreign.gateway!.cert), key: readFileSync(foreign.gateway!.key) }, (req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
    res.end('{}');
  });
  await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', () => resolvePromise()));
  try {
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FLEET_')));
    // Not spawnSync: the rogue server lives in this process and must keep answering.
    const cli = await new Promise<{ status: number | null; stderr: string }>((resolvePromise, reject) => {
      const child = spawn(process.execPath, ['apps/cli/bin/fleet.js', '--url', url, '--ca-file', caFile(), 'agent', 'ls'], {
        cwd: REPO,
        env: { ...inherited, HOME: scratch(), FLEET_API_KEY: fleet.adminKey },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (status) => resolvePromise({ status, stderr }));
    });
    expect(cli.status).toBe(5);
    expect(cli.stderr).toMatch(/certificate/i);
    expect(seen).toEqual([]);
  } finally {
    server.close();
  }
});

attack(
  'a rogue HTTPS server with a certificate of another CA poses as the gateway an agent joins through: the agent never sends its join token',
  async () => {
    const foreign = await createPki(join(scratch(), 'rogue-join-pki'), { gatewayHosts: ['127.0.0.1', 'localhost'] });
    const seen: string[] = [];
    const server = createServer({ cert: readFileSync(foreign.gateway!.cert), key: readFileSync(foreign.gateway!.key) }, (req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.end('{}');
    });
    await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', () => resolvePromise()));
    const token = await issueJoinToken(fleet.state, 'web-77');
    const logFile = join(scratch(), 'agent-join-rogue.log');
    try {
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const keys = hostGrantKeyFiles(dirname(fleet.state.jwtSecretFile));
      const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FLEET_')));
      // Not spawnSync: the rogue server lives in this process and must keep answering.
      const status = await new Promise<number | null>((resolvePromise, reject) => {
        const child = spawn(process.execPath, [AGENT_ENTRYPOINT], {
          cwd: REPO,
          env: {
            ...inherited,
            FLEET_AGENT_HOSTNAME: 'web-77',
            FLEET_AGENT_IDENTITY_DIR: join(scratch(), 'rogue-join-identity'),
            FLEET_AGENT_JOIN_TOKEN: token,
            FLEET_GATEWAY_URL: url,
            // No FLEET_GATEWAY_CA_FILE: the gateway is verified with the fleet's CA, the NATS one.
            FLEET_NATS_CA_FILE: caFile(),
            FLEET_NATS_URL: fleet.natsUrl,
            FLEET_HOST_GRANT_PUBLIC_KEY_FILE: keys.publicKey,
            DOCKER_HOST: `unix://${fleet.socketOf('web-01')}`,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.on('error', reject);
        child.on('close', (code) => {
          writeFileSync(logFile, output);
          resolvePromise(code);
        });
      });
      expect(status).toBe(1);
      const output = readFileSync(logFile, 'utf8');
      expect(output).toMatch(/certificate/i);
      expect(output).not.toContain(token);
      // The TLS handshake failed before any request: the rogue server never saw the join, let alone the token.
      expect(seen).toEqual([]);
      expect(existsSync(join(scratch(), 'rogue-join-identity', 'agent.creds'))).toBe(false);
    } finally {
      server.close();
    }
  },
);

attack(
  'the gateway is asked for plain HTTP on a public address, or given no certificate: it refuses to start, nothing listens',
  async () => {
    const keys = hostGrantKeyFiles(dirname(fleet.state.jwtSecretFile));
    const port = await freePort();
    const base = {
      ...process.env,
      FLEET_API_PORT: String(port),
      FLEET_JWT_SECRET_FILE: fleet.state.jwtSecretFile,
      FLEET_HOST_GRANT_PRIVATE_KEY_FILE: keys.privateKey,
      FLEET_NATS_URL: fleet.natsUrl,
    };
    const start = (env: Record<string, string>) =>
      spawnSync(process.execPath, [GATEWAY_ENTRYPOINT], { cwd: REPO, env: { ...base, ...env }, encoding: 'utf8', timeout: 60_000 });
    const publicPlain = start({ FLEET_HTTP_INSECURE: 'loopback', FLEET_API_HOST: '0.0.0.0' });
    expect(publicPlain.status).toBe(EX_CONFIG);
    expect(publicPlain.stderr).toContain("FLEET_API_HOST='0.0.0.0' is not a loopback address");
    const noCertificate = start({ FLEET_API_HOST: '0.0.0.0' });
    expect(noCertificate.status).toBe(EX_CONFIG);
    expect(noCertificate.stderr).toContain('the gateway serves HTTPS: set FLEET_TLS_CERT_FILE and FLEET_TLS_KEY_FILE');
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  },
);
