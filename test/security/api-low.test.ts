/**
 * Issue 10, finding 9 (low): prototype-named selectors, keys without a lifetime limit, a gateway
 * replica that misses revocations made while it was cut off from NATS, and a public /metrics.
 */
import { readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Kvm } from '@nats-io/kv';
import jwt from 'jsonwebtoken';
import { DRAINS_BUCKET } from '@fleet/contracts/protocol';
import { type GatewayReplica, startGatewayReplica, stopGatewayReplica } from '@fleet/deploy';
import { createFleetClient } from '@fleet/sdk';
import { attack } from '../support/attacks';
import { countContainers } from '../support/docker';
import { fleetCliFromSource } from '../support/fleet-cli';
import { eventually } from '../support/faults';
import { api, errorBody } from '../support/http';
import { connectToFleetNats } from '../support/nats';
import { useTestFleet } from '../support/suite';

const MAX_KEY_TTL_SECONDS = 2 * 86_400;
const METRICS_TOKEN = 'g2-metrics-token-0123456789';
const fleet = useTestFleet({ gatewayEnv: { FLEET_MAX_KEY_TTL_SECONDS: String(MAX_KEY_TTL_SECONDS), FLEET_METRICS_TOKEN: METRICS_TOKEN } });
const IMAGE = 'local/busybox:latest';
const HOSTS = ['db-01', 'web-01', 'web-02'];

async function drainedHosts(): Promise<string[]> {
  const nc = await connectToFleetNats(fleet.state);
  try {
    const keys: string[] = [];
    for await (const key of await (await new Kvm(nc).open(DRAINS_BUCKET)).keys()) keys.push(key);
    return keys;
  } finally {
    await nc.close();
  }
}

describe('selectors named after Object.prototype members', () => {
  attack('targets __proto__:x, constructor:x and toString:x (a 500 before)', async () => {
    for (const target of ['__proto__:x', 'constructor:x', 'toString:x', 'role:web,__proto__:x']) {
      const write = await api(fleet, 'POST', `/node/${target}/container/docker`, {
        body: { image: IMAGE, cmd: ['true'], labels: { 'g2.proto': target } },
      });
      expect({ target, status: write.status, error: write.body.error }).toEqual({ target, status: 404, error: 'no agent matches target' });
      const read = await api(fleet, 'GET', `/node/${target}/container/docker`);
      expect({ target, status: read.status }).toEqual({ target, status: 404 });
      expect((await api(fleet, 'GET', `/job?target=${encodeURIComponent(target)}`)).status).toBe(200);
      expect((await api(fleet, 'GET', `/audit?target=${encodeURIComponent(target)}`)).status).toBe(200);
    }
    for (const host of HOSTS) expect({ host, made: await countContainers(fleet.docker(host), 'g2.proto') }).toEqual({ host, made: 0 });
  });

  attack('a key scoped to __proto__:x or constructor:x sees no agent', async () => {
    for (const scope of ['__proto__:x', 'constructor:x']) {
      const key = fleet.mintKey('admin', { scope });
      const agents = await api(fleet, 'GET', '/agent', { key });
      expect({ scope, status: agents.status, agents: agents.body.agents }).toEqual({ scope, status: 200, agents: [] });
      const drain = await api(fleet, 'POST', '/agent/web-01/drain', { key });
      expect({ scope, status: drain.status }).toEqual({ scope, status: 404 });
    }
    expect(await drainedHosts()).toEqual([]);
  });
});

describe('key lifetime', () => {
  attack('a 100-year key signed with the real secret', async () => {
    const secret = readFileSync(fleet.state.jwtSecretFile, 'utf8').trim();
    const century = jwt.sign({ role: 'admin' }, secret, {
      algorithm: 'HS256',
      expiresIn: 100 * 365 * 86_400,
      subject: 'forever',
      jwtid: 'century-key',
      issuer: 'fleet',
    });
    const drain = await api(fleet, 'POST', '/agent/web-01/drain', { key: century });
    expect(drain.status).toBe(401);
    expect(drain.body.details).toContain(`longer than the maximum of ${MAX_KEY_TTL_SECONDS} s`);
    expect(await drainedHosts()).toEqual([]);
  });

  attack('POST /token and the CLI asked for a key over FLEET_MAX_KEY_TTL_SECONDS', async () => {
    const minted = await api(fleet, 'POST', '/token', { body: { role: 'viewer', ttl_seconds: MAX_KEY_TTL_SECONDS + 1 } });
    expect(minted.status).toBe(400);
    expect(minted.body).toEqual(
      errorBody({ code: 400, reason: 'validation_failed', error: 'invalid request', details: `at most ${MAX_KEY_TTL_SECONDS} s` }),
    );
    const cli = await fleetCliFromSource(['token', 'create', '--role', 'admin', '--ttl', '36500d'], {
      FLEET_JWT_SECRET_FILE: fleet.state.jwtSecretFile,
    });
    expect({ code: cli.code, stdout: cli.stdout }).toEqual({ code: 2, stdout: '' });
  });

  it('keys within the limit work, minted by the API or offline', async () => {
    const minted = await createFleetClient({ url: fleet.url, apiKey: fleet.adminKey }).tokens.create({
      role: 'viewer',
      ttl_seconds: 3600,
      subject: 'sdk-minted',
    });
    expect(minted).toMatchObject({ role: 'viewer', sub: 'sdk-minted', key: expect.any(String) });
    expect((await api(fleet, 'GET', '/agent', { key: minted.key })).status).toBe(200);
    expect((await api(fleet, 'GET', '/agent', { key: fleet.mintKey('viewer', { ttlSeconds: MAX_KEY_TTL_SECONDS }) })).status).toBe(200);
  });
});

/** A TCP relay between one gateway replica and NATS that the test can cut and restore. */
class NatsLink {
  private readonly sockets = new Set<Socket>();
  private server?: Server;
  port = 0;

  constructor(private readonly upstreamPort: number) {}

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.upstreamPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((done) => server.listen(this.port, '127.0.0.1', done));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = new Promise((done) => server?.close(done));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}

describe('revocation on a replica cut off from NATS', () => {
  let link: NatsLink;
  let replica: GatewayReplica | undefined;

  afterAll(async () => {
    if (replica) await stopGatewayReplica(replica);
    await link?.cut();
  });

  attack('a key revoked while one replica was disconnected is still let in by that replica', async () => {
    link = new NatsLink(Number(new URL(fleet.natsUrl.split(',')[0]).port));
    await link.open();
    replica = await startGatewayReplica({ ...fleet.state, natsUrl: `nats://127.0.0.1:${link.port}` }, 'g2-cut-off');
    const key = fleet.mintKey('admin', { subject: 'stolen-key' });
    const { jti } = jwt.decode(key) as { jti: string };
    expect((await api({ url: replica.url, adminKey: key }, 'GET', '/agent')).status).toBe(200);

    await link.cut();
    const url = replica.url;
    await eventually(
      'the replica to notice it is cut off',
      async () => (await api({ url, adminKey: key }, 'GET', '/health/ready', { key: null })).status === 503,
      20_000,
    );
    expect((await api(fleet, 'DELETE', `/token/${jti}`)).status).toBe(200);
    await link.open();
    await eventually(
      'the replica to reconnect',
      async () => (await api({ url, adminKey: key }, 'GET', '/health/ready', { key: null })).status === 200,
      30_000,
    );

    await eventually(
      'the replica to refuse the revoked key',
      async () => (await api({ url, adminKey: key }, 'GET', '/agent')).status === 401,
      10_000,
    );
    const drain = await api({ url, adminKey: key }, 'POST', '/agent/web-01/drain');
    expect(drain.status).toBe(401);
    expect(drain.body.error).toBe('Unauthorized - API key revoked');
    expect(await drainedHosts()).toEqual([]);
  });
});

describe('/metrics with FLEET_METRICS_TOKEN', () => {
  attack('an anonymous scrape, or one with an API key instead of the metrics token', async () => {
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: `Bearer ${fleet.adminKey}` },
      { authorization: `Bearer ${METRICS_TOKEN}x` },
    ];
    for (const headers of attempts) {
      const res = await api(fleet, 'GET', '/metrics', { key: null, headers });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(errorBody({ code: 401, reason: 'unauthenticated', error: 'Unauthorized - metrics token required' }));
      expect(JSON.stringify(res.body)).not.toContain('fleet_');
    }
  });

  it('the scraper with the token reads the metrics', async () => {
    const res = await api(fleet, 'GET', '/metrics', { key: null, headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.body).toContain('fleet_agents');
  });
});
