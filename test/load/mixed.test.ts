/**
 * Load: 50 concurrent clients (each loop with an operator key of its own) for 60 s against a real
 * gateway, three agents and their engines, after a 30 s warm-up (the gateway's heap grows to its working size). Each client repeats a mixed
 * sequence — create a container on one host, list containers on every host, read the job back,
 * remove the container, list the agents — so 2 of every 5 requests are writes that reach an engine.
 * Must see zero errors (connection errors, timeouts, non-2xx); prints p50/p99 and the gateway's RSS
 * after warm-up and at the end, which must stay within 20%. Load generation: autocannon.
 * LOAD_SECONDS / LOAD_WARMUP_SECONDS / LOAD_CONNECTIONS resize it.
 */
import autocannon from 'autocannon';
import { labelCounts } from '../support/docker';
import { startTestFleet, type TestFleet } from '../support/fleet';
import { mib, rssBytes } from '../support/proc';
import { report } from '../support/report';

const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const WARMUP_SECONDS = Number(process.env.LOAD_WARMUP_SECONDS ?? 30);
const HOSTS = ['web-01', 'web-02', 'db-01'];
const LABEL = 'fleet.load';

let fleet: TestFleet;

beforeAll(async () => {
  fleet = await startTestFleet();
});

afterAll(async () => {
  await fleet?.stop();
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
        const body = JSON.stringify({ image: 'local/busybox:latest', name: ctx.name, cmd: ['sleep', '3600'], labels: { [LABEL]: ctx.name } });
        return { ...req, path: `/node/${ctx.host}/container/docker?timeout=30`, headers: headers(ctx), body };
      },
      onResponse: (status, body, context) => {
        check('create')(status, body);
        if (status === 202) (context as Context).jobId = (JSON.parse(body) as { job_id: string }).job_id;
      },
    },
    {
      method: 'GET',
      setupRequest: (req, context) => ({ ...req, path: '/node/_all/container/docker?all=true', headers: headers(context as Context), body: undefined }),
      onResponse: check('list'),
    },
    {
      method: 'GET',
      setupRequest: (req, context) => ({ ...req, path: `/job/${(context as Context).jobId}`, headers: headers(context as Context), body: undefined }),
      onResponse: check('job'),
    },
    {
      method: 'DELETE',
      setupRequest: (req, context) => {
        const ctx = context as Context;
        return { ...req, path: `/node/${ctx.host}/container/docker/${ctx.name}?force=true&timeout=30`, headers: headers(ctx), body: undefined };
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

/** Median of three readings a second apart: one reading can land just before or after a collection. */
async function settledRss(pid: number): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 1_000));
    readings.push(rssBytes(pid));
  }
  return readings.sort((a, b) => a - b)[1];
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
  const warmRss = await settledRss(pid);
  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(rssBytes(pid)), 5_000);
  let result: autocannon.Result;
  try {
    result = await run(keys, SECONDS);
  } finally {
    clearInterval(sampler);
  }
  const endRss = await settledRss(pid);

  // Behind the gateway's back: what is left on the engines is at most the sequences cut off by the end of the run.
  const left = await Promise.all(HOSTS.map(async (host) => [...(await labelCounts(fleet.docker(host), LABEL)).values()].reduce((a, b) => a + b, 0)));
  const duplicates = (await Promise.all(HOSTS.map(async (host) => [...(await labelCounts(fleet.docker(host), LABEL)).values()].filter((n) => n > 1).length))).reduce((a, b) => a + b, 0);

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
    rss_after_warmup: mib(warmRss),
    rss_max: mib(Math.max(...samples, endRss)),
    rss_every_5s: samples.map((bytes) => (bytes / 1024 / 1024).toFixed(0)).join('/'),
    rss_end: mib(endRss),
    rss_change_pct: (((endRss - warmRss) / warmRss) * 100).toFixed(1),
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
  expect(Math.abs(endRss - warmRss) / warmRss).toBeLessThanOrEqual(0.2);
}, 600_000);
