/**
 * Load: 50 concurrent clients (each loop with an operator key of its own) for 60 s against a real
 * gateway, three agents and their engines, after a 30 s warm-up (the gateway's heap grows to its working size). Each client repeats a mixed
 * sequence — create a container on one host, list containers on every host, read the job back,
 * remove the container, list the agents — so 2 of every 5 requests are writes that reach an engine.
 * Must see zero errors (connection errors, timeouts, non-2xx); prints p50/p99. Memory: the gateway's
 * live heap (a heap snapshot's reachable objects, after a full collection) once the warm-up has
 * settled and again once the main run has, must stay within 20%: that is what a leak moves. RSS is
 * printed beside it but not judged: V8 keeps the heap space a busy spell grew to, so RSS follows
 * the machine's load more than what the gateway holds. Load generation: autocannon.
 * LOAD_SECONDS / LOAD_WARMUP_SECONDS / LOAD_CONNECTIONS resize it.
 */
import autocannon from 'autocannon';
import { labelCounts } from '../support/docker';
import { startTestFleet, type TestFleet } from '../support/fleet';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { heapSnapshotOptions, liveHeapBytes, mib, rssBytes } from '../support/proc';
import { report } from '../support/report';

const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const WARMUP_SECONDS = Number(process.env.LOAD_WARMUP_SECONDS ?? 30);
const HOSTS = ['web-01', 'web-02', 'db-01'];
const LABEL = 'fleet.load';

let fleet: TestFleet;
const snapshotDir = mkdtempSync(join(tmpdir(), 'fleet-load-heap-'));

beforeAll(async () => {
  fleet = await startTestFleet({ gatewayEnv: { NODE_OPTIONS: heapSnapshotOptions(snapshotDir) } });
});

afterAll(async () => {
  await fleet?.stop();
  rmSync(snapshotDir, { recursive: true, force: true });
});

interface Context {
  n?: number;
  host?: string;
  name?: string;
  key?: string;
  jobId?: string;
}

/** Non-2xx answers, by request kind and status, with the first body of each for the report. */
const failures = new Map<string, { count: number; body: string }>();

function recordFailure(kind: string, status: number, body: string): void {
  const key = `${kind} ${status}`;
  const seen = failures.get(key);
  if (seen) seen.count++;
  else failures.set(key, { count: 1, body: body.slice(0, 300) });
}

/** Numbers every create of the suite (warm-up and main run alike), so container names never repeat. */
let counter = 0;

function mixedRequests(keys: string[]): autocannon.Request[] {
  const headers = (ctx: Context) => ({ authorization: `Bearer ${ctx.key}`, 'content-type': 'application/json' });
  const check = (kind: string) => (status: number, body: string) => {
    if (status < 200 || status >= 300) recordFailure(kind, status, body);
  };
  return [
    {
      method: 'POST',
      setupRequest: (req, context) => {
        const ctx = context as Context;
        ctx.n = counter++;
        ctx.host = HOSTS[ctx.n % HOSTS.length];
        ctx.name = `load-${ctx.n}`;
        ctx.key = keys[ctx.n % keys.length];
        const body = JSON.stringify({
          image: 'local/busybox:latest',
          name: ctx.name,
          cmd: ['sleep', '3600'],
          labels: { [LABEL]: ctx.name },
        });
        return { ...req, path: `/node/${ctx.host}/container/docker?timeout=30`, headers: headers(ctx), body };
      },
      onResponse: (status, body, context) => {
        check('create')(status, body);
        if (status === 202) (context as Context).jobId = (JSON.parse(body) as { job_id: string }).job_id;
      },
    },
    {
      method: 'GET',
      setupRequest: (req, context) => ({
        ...req,
        path: '/node/_all/container/docker?all=true',
        headers: headers(context as Context),
        body: undefined,
      }),
      onResponse: check('list'),
    },
    {
      method: 'GET',
      setupRequest: (req, context) => ({
        ...req,
        path: `/job/${(context as Context).jobId}`,
        headers: headers(context as Context),
        body: undefined,
      }),
      onResponse: check('job'),
    },
    {
      method: 'DELETE',
      setupRequest: (req, context) => {
        const ctx = context as Context;
        return {
          ...req,
          path: `/node/${ctx.host}/container/docker/${ctx.name}?force=true&timeout=30`,
          headers: headers(ctx),
          body: undefined,
        };
      },
      onResponse: check('remove'),
    },
    {
      method: 'GET',
      setupRequest: (req, context) => ({ ...req, path: '/agent', headers: headers(context as Context), body: undefined }),
      onResponse: check('agents'),
    },
  ];
}

/** The gateway keeps the rows it answered with for 10 s (so a GET /job right after agrees with the answer). */
const ANSWERED_ROWS_KEPT_MS = 10_000;

/**
 * The gateway's memory once a run is over: wait until the rows it answered with have expired, make
 * one call (expired rows are dropped on the next answer), then weigh. Both readings are taken the
 * same way, so what differs between them is what the gateway kept.
 */
async function settledMemory(pid: number, key: string): Promise<{ rss: number; heap: number }> {
  await new Promise((resolve) => setTimeout(resolve, ANSWERED_ROWS_KEPT_MS + 2_000));
  const res = await fetch(`${fleet.url}/node/web-01/container/docker`, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  const rss = rssBytes(pid);
  return { rss, heap: await liveHeapBytes(pid, snapshotDir) };
}

async function run(keys: string[], seconds: number): Promise<autocannon.Result> {
  return autocannon({
    url: fleet.url,
    connections: CONNECTIONS,
    duration: seconds,
    // A request may legitimately take up to its 30 s deadline; past that plus slack it counts as an error.
    timeout: 45,
    requests: mixedRequests(keys),
  });
}

it(`serves ${CONNECTIONS} concurrent clients for ${SECONDS} s of mixed reads and writes without an error, memory flat`, async () => {
  const started = Date.now();
  const keys = Array.from({ length: CONNECTIONS }, (_, i) => fleet.mintKey('operator', { subject: `load-client-${i}`, ttlSeconds: 3600 }));
  const pid = fleet.gatewayPid;

  const warmup = await run(keys, WARMUP_SECONDS);
  const warm = await settledMemory(pid, keys[0]);
  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(rssBytes(pid)), 5_000);
  let result: autocannon.Result;
  try {
    result = await run(keys, SECONDS);
  } finally {
    clearInterval(sampler);
  }
  const end = await settledMemory(pid, keys[0]);

  // Behind the gateway's back: what is left on the engines is at most the sequences cut off by the end of the run.
  const left = await Promise.all(
    HOSTS.map(async (host) => [...(await labelCounts(fleet.docker(host), LABEL)).values()].reduce((a, b) => a + b, 0)),
  );
  const duplicates = (
    await Promise.all(HOSTS.map(async (host) => [...(await labelCounts(fleet.docker(host), LABEL)).values()].filter((n) => n > 1).length))
  ).reduce((a, b) => a + b, 0);

  const errors = result.errors + result.timeouts + result.non2xx;
  report('load', 'summary', {
    connections: CONNECTIONS,
    seconds: SECONDS,
    requests: result.requests.total,
    req_per_s: result.requests.average,
    errors,
    connection_errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    max_ms: result.latency.max,
    warmup_requests: warmup.requests.total,
    warmup_errors: warmup.errors + warmup.timeouts + warmup.non2xx,
    live_heap_after_warmup: mib(warm.heap),
    live_heap_end: mib(end.heap),
    live_heap_change_pct: (((end.heap - warm.heap) / warm.heap) * 100).toFixed(1),
    rss_after_warmup: mib(warm.rss),
    rss_max: mib(Math.max(...samples, end.rss)),
    rss_every_5s: samples.map((bytes) => (bytes / 1024 / 1024).toFixed(0)).join('/'),
    rss_end: mib(end.rss),
    containers_left_by_cut_sequences: left.reduce((a, b) => a + b, 0),
    duplicate_names: duplicates,
    suite_seconds: ((Date.now() - started) / 1000).toFixed(1),
  });
  for (const [key, { count, body }] of failures) process.stdout.write(`[reliability] load failure ×${count} ${key}: ${body}\n`);

  expect([...failures.keys()]).toEqual([]);
  expect({ errors: result.errors, timeouts: result.timeouts, non2xx: result.non2xx }).toEqual({ errors: 0, timeouts: 0, non2xx: 0 });
  expect(warmup.errors + warmup.timeouts + warmup.non2xx).toBe(0);
  expect(result.requests.total).toBeGreaterThan(0);
  expect(duplicates).toBe(0);
  // Each run (warm-up, main) ends with at most one create per connection whose remove never went out.
  expect(left.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(2 * CONNECTIONS);
  expect(Math.abs(end.heap - warm.heap) / warm.heap).toBeLessThanOrEqual(0.2);
}, 600_000);
