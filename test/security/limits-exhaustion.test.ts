/**
 * Issue finding 8: resource exhaustion. Each attack is replayed on a real fleet and measured on the
 * processes themselves (VmRSS from /proc) and on the broker (the audit stream's bytes), not only
 * on HTTP statuses: a huge exec output, a follow stream nobody reads, parked long-running jobs,
 * and a flood of unauthenticated requests with 8 KB paths.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { AUDIT_STREAM } from '@fleet/contracts/protocol';
import { BUSYBOX_IMAGE } from '@fleet/deploy';
import { attack } from '../support/attacks';
import { api } from '../support/http';
import { connectToFleetNats } from '../support/nats';
import { mib, rssBytes } from '../support/proc';
import { useTestFleet } from '../support/suite';

const PRE_AUTH_LIMIT = 20;
const AUDIT_MAX_BYTES = 256 * 1024;
const OUTPUT_CAP = 256 * 1024;
const STREAM_BUFFER = 1024 * 1024;
const LONG_RUNNING_PER_KEY = 16;
/** Generous: the point is that growth does not follow the output (20 MB, 60 MB), not a tight figure. */
const RSS_GROWTH_BOUND = 64 * 1024 * 1024;

// Starting three engines on a loaded 2-core machine can take longer than jest's default.
jest.setTimeout(300_000);
const fleet = useTestFleet({
  gatewayEnv: {
    FLEET_PRE_AUTH_RATE_LIMIT_PER_MINUTE: String(PRE_AUTH_LIMIT),
    FLEET_AUDIT_MAX_BYTES: String(AUDIT_MAX_BYTES),
    FLEET_STREAM_BUFFER_BYTES: String(STREAM_BUFFER),
    FLEET_LONG_RUNNING_PER_KEY: String(LONG_RUNNING_PER_KEY),
  },
  agentEnv: { FLEET_AGENT_MAX_OUTPUT_BYTES: String(OUTPUT_CAP) },
});
let nats: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  nats = await connectToFleetNats(fleet.state);
  jsm = await jetstreamManager(nats);
  await startContainer('web-01', 'sleeper', ['sleep', '600']);
});

afterAll(async () => {
  await nats?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startContainer(host: string, name: string, cmd: string[]): Promise<void> {
  const res = await api(fleet, 'POST', `/node/${host}/container/docker`, { body: { image: BUSYBOX_IMAGE, name, cmd, auto_start: true } });
  expect(res.status).toBe(202);
}

/** Runs `work` while sampling the process's RSS every 100 ms; returns its result, the RSS before and the highest seen. */
async function watchingRss<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; before: number; peak: number }> {
  const before = rssBytes(pid);
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 100);
  try {
    const result = await work();
    peak = Math.max(peak, rssBytes(pid));
    return { result, before, peak };
  } finally {
    clearInterval(timer);
  }
}

describe('resource limits', () => {
  attack(
    'a 20 MB exec output: the row is capped with truncated and byte counts, stored, and the agent does not grow with it',
    async () => {
      const operator = fleet.mintKey('operator');
      const script = 'yes aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa | head -c 20000000; yes bbbbbbb | head -c 3000000 >&2';
      const {
        result: res,
        before,
        peak,
      } = await watchingRss(fleet.agentPid('web-01'), () =>
        api(fleet, 'POST', '/node/web-01/container/docker/sleeper/exec?timeout=120', {
          key: operator,
          body: { cmd: ['sh', '-c', script] },
          timeoutMs: 150_000,
        }),
      );
      process.stdout.write(`[security] 20 MB exec: agent RSS ${mib(before)} -> peak ${mib(peak)}\n`);
      expect(res.status).toBe(202);
      const row = res.body.results[0];
      expect(row).toMatchObject({ status: 'ok', exit_code: 0, truncated: true, stdout_bytes: 20_000_000, stderr_bytes: 3_000_000 });
      expect(Buffer.byteLength(row.stdout)).toBe(OUTPUT_CAP);
      expect(Buffer.byteLength(row.stderr)).toBe(OUTPUT_CAP);
      expect(peak - before).toBeLessThan(RSS_GROWTH_BOUND);
      // Stored: any replica reads the same row back.
      const stored = await api(fleet, 'GET', `/job/${res.body.job_id}`);
      expect(stored.body.results[0]).toMatchObject({ status: 'ok', truncated: true, stdout_bytes: 20_000_000 });
    },
    200_000,
  );

  attack(
    'a client that never reads a logs?follow=true stream: the gateway stays bounded and ends the stream with overflow',
    async () => {
      const line = 'x'.repeat(1000);
      await startContainer('web-02', 'chatty', ['sh', '-c', `yes ${line} | head -c 60000000; sleep 600`]);
      const viewer = fleet.mintKey('viewer', { subject: 'slow-reader' });
      const socket = await openUnreadStream(`/node/web-02/container/docker/chatty/logs?follow=true&timeout=240`, viewer);
      try {
        const {
          result: jobId,
          before,
          peak,
        } = await watchingRss(fleet.gatewayPid, async () => {
          const id = await followJobOf('slow-reader');
          await finalJob(id, 120_000);
          return id;
        });
        process.stdout.write(`[security] unread follow stream: gateway RSS ${mib(before)} -> peak ${mib(peak)}\n`);
        expect(peak - before).toBeLessThan(RSS_GROWTH_BOUND);
        // Cancelled on the host long before its 240 s deadline: the agent ended the stream itself.
        const job = await api(fleet, 'GET', `/job/${jobId}`);
        expect(job.body.results[0]).toMatchObject({ status: 'ok', message: 'log stream ended' });
        const text = await readRest(socket);
        expect(text).toContain('event: overflow');
        expect(text).toContain(`"limit_bytes":${STREAM_BUFFER}`);
        expect(text).not.toContain('event: end');
      } finally {
        socket.destroy();
      }
    },
    240_000,
  );

  attack(
    "a viewer parks 32 wait jobs on a host: past its per-key limit it gets 429, and an admin's ping there still answers",
    async () => {
      const viewer = fleet.mintKey('viewer', { subject: 'parker' });
      const answers = await Promise.all(
        Array.from({ length: 32 }, () =>
          api(fleet, 'POST', '/node/web-01/container/docker/sleeper/wait?async=true&timeout=45', { key: viewer }),
        ),
      );
      const statuses = answers.map((res) => res.status);
      expect(statuses.filter((status) => status === 202)).toHaveLength(LONG_RUNNING_PER_KEY);
      expect(statuses.filter((status) => status === 429)).toHaveLength(32 - LONG_RUNNING_PER_KEY);
      const refused = answers.find((res) => res.status === 429);
      expect(Number(refused?.headers['retry-after'])).toBeGreaterThan(0);
      expect(refused?.body).toMatchObject({ reason: 'long_running_limit', details: expect.stringContaining('long-running') });
      const ping = await api(fleet, 'GET', '/node/web-01/container/docker/system/ping?timeout=10');
      expect(ping.status).toBe(200);
      expect(ping.body.results[0].status).toBe('ok');
    },
    120_000,
  );

  attack(
    "32 wait jobs parked on a host by several viewer keys do not take the slots an admin's ping needs",
    async () => {
      const keys = Array.from({ length: 4 }, (_, index) => fleet.mintKey('viewer', { subject: `parker-${index}` }));
      const answers = await Promise.all(
        keys.flatMap((key) =>
          Array.from({ length: 8 }, () => api(fleet, 'POST', '/node/web-01/container/docker/sleeper/wait?async=true&timeout=45', { key })),
        ),
      );
      expect(answers.map((res) => res.status)).toEqual(Array(32).fill(202));
      await sleep(1000); // the agent takes every wait
      const pingStarted = Date.now();
      const ping = await api(fleet, 'GET', '/node/web-01/container/docker/system/ping?timeout=10');
      expect(ping.status).toBe(200);
      expect(ping.body.results[0].status).toBe('ok');
      // End the waits: each row says how long it held an agent slot, which must cover the whole ping,
      // or the ping would not have been competing with 32 running waits.
      await fleet.docker('web-01').getContainer('sleeper').kill();
      const stoppedAt = Date.now();
      for (const { body } of answers) {
        const job = await api(fleet, 'GET', `/job/${body.job_id}?wait=20`);
        expect(job.body.results[0]).toMatchObject({ status: 'ok' });
        expect(job.body.results[0].duration_ms).toBeGreaterThanOrEqual(stoppedAt - pingStarted - 100);
      }
    },
    120_000,
  );

  attack(
    '300 unauthenticated requests with 8 KB paths: 429 past the pre-auth limit, the audit stream stays small',
    async () => {
      const before = await jsm.streams.info(AUDIT_STREAM);
      const statuses: number[] = [];
      const reasons = new Set<unknown>();
      let retryAfter: string | null = null;
      for (let i = 0; i < 300; i++) {
        const path = `/node/${'a'.repeat(8000)}${i}/container/docker`;
        const headers: Record<string, string> = i % 2 === 0 ? {} : { authorization: 'Bearer not.a.key' };
        const res = await fetch(`${fleet.url}${path}`, { headers, signal: AbortSignal.timeout(10_000) });
        statuses.push(res.status);
        if (res.status === 429) retryAfter = res.headers.get('retry-after');
        reasons.add(((await res.json()) as { reason?: unknown }).reason);
      }
      expect([...reasons].sort()).toEqual(['auth_rate_limited', 'unauthenticated']);
      expect(statuses.filter((status) => status === 401)).toHaveLength(PRE_AUTH_LIMIT);
      expect(statuses.filter((status) => status === 429)).toHaveLength(300 - PRE_AUTH_LIMIT);
      expect(Number(retryAfter)).toBeGreaterThan(0);
      // A valid key from the same address is not refused.
      expect((await api(fleet, 'GET', '/agent')).status).toBe(200);
      await sleep(1000);
      const info = await jsm.streams.info(AUDIT_STREAM);
      expect(info.config.max_bytes).toBe(AUDIT_MAX_BYTES);
      expect(info.state.bytes).toBeLessThanOrEqual(AUDIT_MAX_BYTES);
      // Only the 20 refusals under the limit were audited, each with its path and target cut to 512
      // characters (and the refusal's reason). The stream's entries are read one by one rather than
      // its byte count compared, because the previous test's own calls may still be landing in it.
      const flood = await unauthenticatedEntriesSince(before.state.last_seq, info.state.last_seq);
      const floodBytes = flood.reduce((sum, size) => sum + size, 0);
      process.stdout.write(
        `[security] pre-auth flood: ${flood.length} audit entries, ${floodBytes} bytes (cap ${info.config.max_bytes})\n`,
      );
      expect(flood).toHaveLength(PRE_AUTH_LIMIT);
      for (const size of flood) expect(size).toBeLessThan(1300);
      const audited = await api(fleet, 'GET', `/audit?status=401&limit=${PRE_AUTH_LIMIT}`);
      expect(audited.body.entries.length).toBe(PRE_AUTH_LIMIT);
      for (const entry of audited.body.entries) expect(entry.path.length).toBeLessThanOrEqual(512);
    },
    180_000,
  );
});

/** The sizes of the audit entries of unauthenticated calls stored after `fromSeq`, up to `toSeq`. */
async function unauthenticatedEntriesSince(fromSeq: number, toSeq: number): Promise<number[]> {
  const sizes: number[] = [];
  for (let seq = fromSeq + 1; seq <= toSeq; seq++) {
    const message = await jsm.streams.getMessage(AUDIT_STREAM, { seq });
    if (message?.json<{ caller: unknown }>().caller === null) sizes.push(message.data.length);
  }
  return sizes;
}

/** A raw HTTP request whose answer is never read: the socket is paused, so the gateway's writes back up. */
function openUnreadStream(path: string, key: string): Promise<Socket> {
  const { hostname, port } = new URL(fleet.url);
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host: hostname, port: Number(port) }, () => {
      socket.pause();
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${key}\r\nAccept: text/event-stream\r\n\r\n`);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Everything the paused socket holds and still receives, until the gateway closes it. */
function readRest(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), 30_000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    socket.resume();
  });
}

/** The id of the newest logs job of `caller` (the stream's own answer is never read). */
async function followJobOf(caller: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const res = await api(fleet, 'GET', `/job?operation=docker.container.logs&caller=${caller}&limit=1`);
    const id = res.body.jobs?.[0]?.job_id;
    if (id) return id;
    await sleep(200);
  }
  throw new Error(`no logs job of ${caller}`);
}

async function finalJob(jobId: string, withinMs: number): Promise<void> {
  const giveUpAt = Date.now() + withinMs;
  while (Date.now() < giveUpAt) {
    const res = await api(fleet, 'GET', `/job/${jobId}`);
    if (['ok', 'failed', 'partial'].includes(res.body.status)) return;
    await sleep(500);
  }
  throw new Error(`job ${jobId} did not end within ${withinMs} ms`);
}
