/**
 * Issue 17, item 5: an audit that survives abuse. A viewer key floods reads to push the trail out of
 * its capped stream; an Engine API path padded to push its endpoint out of the audited path; and a
 * trail that is full. Each is checked on the broker (FLEET_AUDIT's first/last sequence, its entries
 * read back one by one), on the engine, in the gateway's metrics and in its log.
 */
import { connect as connectTcp } from 'node:net';
import { DiscardPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { AUDIT_STREAM, AUDIT_SUBJECT } from '@fleet/contracts/protocol';
import { BUSYBOX_IMAGE, defaultAgents } from '@fleet/deploy';
import type { AuditEntry } from '@fleet/sdk';
import { attack } from '../support/attacks';
import { api } from '../support/http';
import { connectToFleetNats } from '../support/nats';
import { metricValue, scrape } from '../support/metrics';
import { useTestFleet } from '../support/suite';

/** The smallest stream the gateway accepts: a flood of 1,200 calls written one entry each would overflow it. */
const AUDIT_MAX_MESSAGES = 1000;
const FULL_READS_PER_KEY = 20;
const WINDOW_SECONDS = 3;
const FLOOD_CALLS = 1200;
/** How often the gateway reads the stream's fill (audit/capacity.ts), plus slack. */
const CAPACITY_CHECK_MS = 6_000;

/** An entry as the gateway stores it in FLEET_AUDIT: the contract's AuditEntry. */
type StoredEntry = AuditEntry;

jest.setTimeout(300_000);
const fleet = useTestFleet({
  agents: defaultAgents(1),
  gatewayEnv: {
    FLEET_AUDIT_MAX_MESSAGES: String(AUDIT_MAX_MESSAGES),
    FLEET_AUDIT_FULL_READS_PER_KEY: String(FULL_READS_PER_KEY),
    FLEET_AUDIT_WINDOW_SECONDS: String(WINDOW_SECONDS),
  },
});
let nats: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  nats = await connectToFleetNats(fleet.state);
  jsm = await jetstreamManager(nats);
});

afterAll(async () => {
  await nats?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every entry the stream holds, read back from the broker by sequence (the gateway's list is not trusted here). */
async function storedEntries(): Promise<Array<StoredEntry & { seq: number }>> {
  const { state } = await jsm.streams.info(AUDIT_STREAM);
  const entries: Array<StoredEntry & { seq: number }> = [];
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const message = await jsm.streams.getMessage(AUDIT_STREAM, { seq });
    if (message) entries.push({ ...message.json<StoredEntry>(), seq });
  }
  return entries;
}

async function createContainer(name: string, key = fleet.adminKey): Promise<{ status: number; jobId: string }> {
  const res = await api(fleet, 'POST', '/node/web-01/container/docker', {
    key,
    body: { image: BUSYBOX_IMAGE, name, cmd: ['sleep', '600'] },
  });
  return { status: res.status, jobId: res.body.job_id };
}

async function containerNames(): Promise<string[]> {
  const containers = await fleet.docker('web-01').listContainers({ all: true });
  return containers.flatMap((container) => container.Names.map((name) => name.slice(1)));
}

/** Fills what is left of the audit stream as a flood would have, then waits for the gateway to see it full. */
async function fillAuditStream(): Promise<void> {
  const js = jetstream(nats);
  for (;;) {
    const refused = await js.publish(AUDIT_SUBJECT, JSON.stringify({ filler: true })).then(
      () => false,
      (err: Error) => /maximum messages exceeded/.test(err.message),
    );
    if (refused) break;
  }
  await sleep(CAPACITY_CHECK_MS);
}

/** Runs `count` calls, `concurrency` at a time. */
async function flood(count: number, concurrency: number, call: (index: number) => Promise<number>): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) statuses.push(await call(next++));
    }),
  );
  return statuses;
}

describe('the audit trail under abuse', () => {
  attack(
    `a viewer floods ${FLOOD_CALLS} reads into a ${AUDIT_MAX_MESSAGES}-entry trail: the admin's earlier change stays, the flood is ` +
      `summarised, changes during it are whole`,
    async () => {
      const before = await createContainer('audit-before-flood');
      expect(before.status).toBe(202);
      const viewer = fleet.mintKey('viewer', { subject: 'audit-flooder' });
      const operator = fleet.mintKey('operator', { subject: 'audit-operator' });
      await sleep(200);
      const firstSeqBefore = (await jsm.streams.info(AUDIT_STREAM)).state.first_seq;

      const changes: Array<Promise<{ status: number; jobId: string }>> = [];
      const statuses = await flood(FLOOD_CALLS, 8, async (index) => {
        // Every 200th call of the flood, an operator changes something on the engine.
        if (index % 200 === 0) changes.push(createContainer(`audit-during-flood-${index}`, operator));
        const path = index % 3 === 0 ? '/node/web-01/docker/v1.41/containers/json' : '/agent';
        return (await api(fleet, 'GET', path, { key: viewer })).status;
      });
      expect(statuses.every((status) => status === 200)).toBe(true);
      const made = await Promise.all(changes);
      expect(made.map((change) => change.status)).toEqual(Array(FLOOD_CALLS / 200).fill(202));
      expect(await containerNames()).toEqual(
        expect.arrayContaining(['audit-before-flood', ...made.map((_, i) => `audit-during-flood-${i * 200}`)]),
      );
      // The last window closes and its summaries are written.
      await sleep(WINDOW_SECONDS * 1000 + 1000);

      const info = await jsm.streams.info(AUDIT_STREAM);
      expect(info.config.discard).toBe(DiscardPolicy.New);
      expect(info.state.first_seq).toBe(firstSeqBefore);
      expect(info.state.messages).toBeLessThan(AUDIT_MAX_MESSAGES);
      const entries = await storedEntries();
      expect(entries.filter((entry) => entry.job_id === before.jobId)).toEqual([
        expect.objectContaining({ kind: 'call', method: 'POST', operation: 'docker.container.create', status: 202 }),
      ]);
      for (const change of made) {
        expect(entries.filter((entry) => entry.job_id === change.jobId)).toEqual([
          expect.objectContaining({
            kind: 'call',
            caller: 'audit-operator',
            operation: 'docker.container.create',
            params: { target: 'web-01' },
          }),
        ]);
      }
      const flooder = entries.filter((entry) => entry.caller === 'audit-flooder');
      const inFull = flooder.filter((entry) => entry.kind === 'call');
      const summaries = flooder.filter((entry) => entry.kind === 'summary');
      process.stdout.write(
        `[security] audit flood: ${FLOOD_CALLS} reads -> ${inFull.length} entries in full + ${summaries.length} summaries; stream ` +
          `${info.state.messages}/${AUDIT_MAX_MESSAGES} entries (${info.state.bytes} bytes), first_seq ${info.state.first_seq}\n`,
      );
      expect(summaries.length).toBeGreaterThan(0);
      // Every call of the flood is accounted for, in full or counted in a summary.
      expect(inFull.length + summaries.reduce((sum, entry) => sum + (entry.summary?.count ?? 0), 0)).toBe(FLOOD_CALLS);
      for (const summary of summaries) {
        for (const operation of Object.keys(summary.summary?.operations ?? {}))
          expect(['agent.list', 'GET /containers/json']).toContain(operation);
      }
    },
    240_000,
  );

  attack(
    'an Engine API path with a version padded by 600 zeros: refused with 400, and its entry holds the reason and a capped path, never ' +
      'the request whole',
    async () => {
      const padded = `/node/web-01/docker/v${'0'.repeat(600)}1.41/containers/json`;
      const res = await fetch(`${fleet.url}${padded}`, {
        headers: { authorization: `Bearer ${fleet.mintKey('viewer', { subject: 'audit-padder' })}` },
      });
      await res.arrayBuffer();
      expect(res.status).toBe(400);
      await sleep(200);
      const [entry] = (await storedEntries()).filter((stored) => stored.caller === 'audit-padder');
      expect(entry).toMatchObject({ status: 400, reason: 'invalid request' });
      expect(entry.path.length).toBeLessThanOrEqual(512);
    },
  );

  attack(
    'an Engine call with a 2,000-character container id and an 8 KB unmapped path: each entry is the endpoint with a capped parameter, ' +
      'or the refusal',
    async () => {
      const key = fleet.mintKey('operator', { subject: 'audit-odd-paths' });
      const longId = 'c'.repeat(2000);
      const started = await fetch(`${fleet.url}/node/web-01/docker/v1.41/containers/${longId}/start`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}` },
      });
      await started.arrayBuffer();
      const unmapped = await fetch(`${fleet.url}/node/web-01/docker/v1.41/${'x'.repeat(8000)}`, {
        headers: { authorization: `Bearer ${key}` },
      });
      await unmapped.arrayBuffer();
      expect(unmapped.status).toBe(404);
      await sleep(200);
      const [start, refused] = (await storedEntries()).filter((stored) => stored.caller === 'audit-odd-paths');
      expect(start).toMatchObject({ method: 'POST', operation: 'POST /containers/{id}/start', status: started.status });
      expect(start.params?.hostname).toBe('web-01');
      expect(start.params?.id).toMatch(/^c+…\(2000 chars\)$/);
      expect(start.params?.id.length).toBe(256);
      expect(start.path.startsWith('/node/web-01/docker/v1.41/containers/ccc')).toBe(true);
      expect(start.path.length).toBeLessThanOrEqual(512);
      expect(refused).toMatchObject({ method: 'GET', status: 404, reason: 'not found' });
      expect(refused.operation).toBeUndefined();
      expect(refused.path.length).toBeLessThanOrEqual(512);
    },
  );

  attack(
    'an operator starts an exec and hangs up before the answer: the command runs, and its entry is there, in full, as 499',
    async () => {
      const engine = fleet.docker('web-01');
      const container = await engine.createContainer({ Image: BUSYBOX_IMAGE, name: 'audit-hang-up', Cmd: ['sleep', '600'] });
      await container.start();
      const operator = fleet.mintKey('operator', { subject: 'audit-hang-up' });
      const body = JSON.stringify({ cmd: ['sh', '-c', 'sleep 1; touch /tmp/hung-up'] });
      const { hostname, port } = new URL(fleet.url);
      await new Promise<void>((resolve, reject) => {
        const socket = connectTcp({ host: hostname, port: Number(port) }, () => {
          socket.write(
            `POST /node/web-01/container/docker/audit-hang-up/exec HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ` +
              `${operator}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
          );
          // Gone a second before the command ends, and so before any answer.
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 300);
        });
        socket.once('error', reject);
      });
      const ran = async () =>
        container.getArchive({ path: '/tmp/hung-up' }).then(
          () => true,
          () => false,
        );
      for (let tries = 0; tries < 50 && !(await ran()); tries++) await sleep(200);
      expect(await ran()).toBe(true);
      await sleep(200);
      const entries = (await storedEntries()).filter((entry) => entry.caller === 'audit-hang-up');
      expect(entries).toEqual([
        expect.objectContaining({
          kind: 'call',
          method: 'POST',
          operation: 'docker.container.exec',
          params: { target: 'web-01', id: 'audit-hang-up' },
          status: 499,
          reason: 'the client closed the connection before the answer',
        }),
      ]);
    },
  );

  attack(
    'a full audit trail: new entries are refused and old ones kept, changes get 503 and never reach the engine, reads answer, the ' +
      'refusals are counted and logged',
    async () => {
      await fillAuditStream();
      const full = (await jsm.streams.info(AUDIT_STREAM)).state;
      expect(full.messages).toBe(AUDIT_MAX_MESSAGES);

      const operator = fleet.mintKey('operator', { subject: 'audit-when-full' });
      const viaApi = await api(fleet, 'POST', '/node/web-01/container/docker', {
        key: operator,
        body: { image: BUSYBOX_IMAGE, name: 'audit-when-full', cmd: ['true'] },
      });
      expect(viaApi.status).toBe(503);
      expect(viaApi.body).toMatchObject({ error: 'audit full', code: 503, details: expect.stringContaining('FLEET_AUDIT_MAX_BYTES') });
      const viaProxy = await fetch(`${fleet.url}/node/web-01/docker/v1.41/containers/create?name=audit-when-full-proxy`, {
        method: 'POST',
        headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
        body: JSON.stringify({ Image: BUSYBOX_IMAGE, Cmd: ['true'] }),
      });
      expect(viaProxy.status).toBe(503);
      expect(((await viaProxy.json()) as { message: string }).message).toContain('audit full');
      const names = await containerNames();
      expect(names).not.toContain('audit-when-full');
      expect(names).not.toContain('audit-when-full-proxy');
      expect((await api(fleet, 'GET', '/agent', { key: operator })).status).toBe(200);

      await sleep(500);
      const after = (await jsm.streams.info(AUDIT_STREAM)).state;
      expect({ first: after.first_seq, last: after.last_seq, messages: after.messages }).toEqual({
        first: full.first_seq,
        last: full.last_seq,
        messages: full.messages,
      });
      const metrics = await scrape(`${fleet.url}/metrics`, fleet.metricsToken);
      expect(metricValue(metrics, 'fleet_audit_refused_total', { reason: 'full' })).toBeGreaterThanOrEqual(3);
      expect(metricValue(metrics, 'fleet_audit_fill_ratio')).toBe(1);
      const log = fleet.log('gateway');
      // Each refused entry is in the log instead, whole, under the line that says what to do; the key never is.
      const refusedCalls = log
        .split('\n')
        .filter((line) => line.includes('audit full: the stream FLEET_AUDIT refused an entry'))
        .map((line) => (JSON.parse(line) as { audit_entry?: StoredEntry }).audit_entry)
        .filter((entry) => entry?.caller === 'audit-when-full');
      expect(refusedCalls.map((entry) => `${entry?.method} ${entry?.status}`)).toEqual(expect.arrayContaining(['POST 503', 'GET 200']));
      expect(log).not.toContain(operator);

      // The operator archives the trail and purges it: changes are taken again.
      await jsm.streams.purge(AUDIT_STREAM);
      await sleep(CAPACITY_CHECK_MS);
      const created = await createContainer('audit-after-purge', operator);
      expect(created.status).toBe(202);
      await sleep(200);
      expect((await storedEntries()).filter((entry) => entry.job_id === created.jobId)).toHaveLength(1);
    },
    120_000,
  );

  attack(
    'a revocation while the trail is full still revokes: the leaked key is refused at once',
    async () => {
      await fillAuditStream();
      const leaked = fleet.mintKey('operator', { subject: 'audit-leaked' });
      const jti = JSON.parse(Buffer.from(leaked.split('.')[1], 'base64url').toString()).jti as string;
      expect((await api(fleet, 'DELETE', `/token/${jti}`)).status).toBe(200);
      expect((await api(fleet, 'GET', '/agent', { key: leaked })).status).toBe(401);
      await jsm.streams.purge(AUDIT_STREAM);
    },
    60_000,
  );

  attack(
    'an audit stream left with discard old (an older gateway) is switched to discard new when the gateway starts',
    async () => {
      const { config } = await jsm.streams.info(AUDIT_STREAM);
      await jsm.streams.update(AUDIT_STREAM, { ...config, discard: DiscardPolicy.Old });
      expect((await jsm.streams.info(AUDIT_STREAM)).config.discard).toBe(DiscardPolicy.Old);
      await fleet.restartGateway();
      expect((await jsm.streams.info(AUDIT_STREAM)).config.discard).toBe(DiscardPolicy.New);
    },
    120_000,
  );
});
