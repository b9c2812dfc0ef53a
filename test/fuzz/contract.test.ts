/**
 * Hostile input, driven by the contract: ≥ 10,000 malformed requests built from every operation in
 * openapi.yaml (see test/support/fuzz.ts) against a real gateway, agent, NATS and engine. Whatever
 * the contract forbids must be refused with a 4xx; nothing may be a 5xx, hang, or crash a process;
 * the gateway's memory must stay bounded. Every 4xx and 5xx the gateway answers is the contract's error
 * body, with a `reason` of the contract's ErrorReason enum. FUZZ_SEED=<n> repeats a run; FUZZ_REQUESTS=<n> sizes it.
 */
import { join } from 'node:path';
import { loadContract } from '@fleet/contracts/operations';
import { AGENT_REPORT_GRACE_MS } from '@fleet/contracts/protocol';
import { defaultAgents, freePort, type Registry, startRegistry, stopRegistry } from '@fleet/deploy';
import { startTestFleet, type TestFleet } from '../support/fleet';
import { deadlineSecondsOf, hostileRequests, type HostileRequest, type RawResponse, sendAll } from '../support/fuzz';
import { api } from '../support/http';
import { isAlive, mib, rssBytes } from '../support/proc';
import { report } from '../support/report';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const COUNT = Number(process.env.FUZZ_REQUESTS ?? 10_500);
/** FUZZ_ONLY=<#index>[,<#index>...] replays just those requests of a seed's run (the numbers a finding prints). */
const ONLY = process.env.FUZZ_ONLY ? new Set(process.env.FUZZ_ONLY.split(',').map(Number)) : undefined;
/** Beyond each request's own deadline (?timeout=, 5 s in the baseline): an answer later than that is a hang. */
const GRACE_MS = 15_000;

/** The reasons an error body may carry: the contract's own list. */
const REASONS = new Set(
  (loadContract() as { components: { schemas: { ErrorReason: { enum: string[] } } } }).components.schemas.ErrorReason.enum,
);

let fleet: TestFleet;
let registry: Registry;

beforeAll(async () => {
  fleet = await startTestFleet({ agents: defaultAgents(1) });
  // Pulls and pushes name images on this loopback registry only: nothing leaves the machine.
  registry = await startRegistry({
    dir: join(fleet.dir, 'registry'),
    port: await freePort(),
    logFile: join(fleet.dir, 'logs', 'registry.log'),
  });
});

afterAll(async () => {
  if (registry) await stopRegistry(registry);
  await fleet?.stop();
});

/** Original numbers of the requests when replaying (FUZZ_ONLY). */
const replayIndexes: number[] = [];

interface Finding {
  index: number;
  req: HostileRequest;
  res: RawResponse;
}

function errorOf(res: RawResponse): string {
  try {
    return String((JSON.parse(res.body) as { error?: unknown }).error ?? '');
  } catch {
    return res.error ?? '';
  }
}

function describeFinding({ index, req, res }: Finding): string {
  const shown = req.headers
    .filter(([name]) => /^(content-type|content-encoding|prefer|x-registry-auth)$/i.test(name))
    .map(([name, value]) => `${name}: ${value.slice(0, 60)}`);
  const what = req.raw
    ? JSON.stringify(req.raw.toString('latin1').slice(0, 300))
    : `${req.method} ${req.path.slice(0, 300)}${shown.length ? ` [${shown.join('; ')}]` : ''}${req.body ? ` body ${JSON.stringify(req.body.toString('utf8').slice(0, 200))}` : ''}`;
  return (
    `#${index} ${req.operation} [${req.kind}] ${what} → ${res.status}${res.error ? ` (${res.error})` : ''} ` + `${res.body.slice(0, 300)}`
  );
}

it(`answers ${COUNT} malformed requests from the contract with 4xx only: no 5xx, no hang, no crash, bounded memory`, async () => {
  const started = Date.now();
  const job = await api(fleet, 'GET', '/node/_all/container/docker');
  expect(job.status).toBe(200);
  const requests = hostileRequests(
    {
      adminKey: fleet.adminKey,
      badKeys: [
        fleet.mintKey('admin', { ttlSeconds: -60 }),
        'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIn0.c2lnbmVkLWJ5LXNvbWVvbmUtZWxzZQ',
      ],
      jobId: job.body.job_id,
      hostname: 'web-01',
      registry: registry.address,
    },
    COUNT,
    SEED,
  );
  if (ONLY) {
    // Replay: keep the chosen requests at their original numbers, drop the rest.
    const chosen = requests.map((req, index) => ({ req, index })).filter(({ index }) => ONLY.has(index));
    requests.length = 0;
    requests.push(...chosen.map(({ req }) => req));
    replayIndexes.push(...chosen.map(({ index }) => index));
  }
  const operations = new Set(requests.map((req) => req.operation));
  const pids = { gateway: fleet.gatewayPid, agent: fleet.agentPid('web-01'), nats: fleet.state.nats?.pid ?? 0 };
  const port = fleet.state.gateway.port;

  const byClass: Record<string, number> = {};
  const serverErrors: Finding[] = [];
  /** 504s to requests the contract allows, once their own deadline had passed: the deadline promise kept on a slow engine call. */
  const deadlines: Finding[] = [];
  const accepted: Finding[] = [];
  const unanswered: Finding[] = [];
  const badEnvelopes: Finding[] = [];
  const rss: number[] = [rssBytes(pids.gateway)];
  let warmRss = 0;
  let done = 0;
  // The first time a process is found dead: which requests had just been answered (the culprit is among them or in flight).
  const deaths: string[] = [];
  const recent: Finding[] = [];
  await sendAll(port, requests, {
    concurrency: 32,
    graceMs: GRACE_MS,
    onResult: (req, res, position, elapsedMs) => {
      const index = replayIndexes.length ? replayIndexes[position] : position;
      done++;
      recent.push({ index, req, res });
      if (recent.length > 32) recent.shift();
      for (const [name, pid] of Object.entries(pids)) {
        if (pid && !deaths.some((death) => death.startsWith(name)) && !isAlive(pid)) {
          deaths.push(
            `${name} (pid ${pid}) died by request #${index}; the last answers before: ${recent.map(describeFinding).join(' | ')}`,
          );
        }
      }
      const statusClass = res.status > 0 ? `${Math.floor(res.status / 100)}xx` : res.status === 0 ? 'closed' : 'no-answer';
      byClass[statusClass] = (byClass[statusClass] ?? 0) + 1;
      // Allowed: the agent ran the call and the engine was still busy at the request's deadline (e.g. looking for an
      // unknown driver plugin). Not allowed: an agent that never answered (dead or stuck), or any 504 to a forbidden request.
      // A valid request whose engine call outlived its own deadline: the agent gave up (a moment early, to report in time) and said so.
      const ownDeadline =
        elapsedMs >= deadlineSecondsOf(req) * 1000 - AGENT_REPORT_GRACE_MS && errorOf(res).startsWith('timeout: operation did not finish');
      if (res.status === 504 && !req.mustReject && ownDeadline) deadlines.push({ index, req, res });
      else if (res.status >= 500) serverErrors.push({ index, req, res });
      else if (res.status === -1) unanswered.push({ index, req, res });
      else if (req.mustReject && (res.status < 400 || res.status >= 500) && res.status !== 0) accepted.push({ index, req, res });
      if (res.status >= 400 && !isErrorBody(res)) badEnvelopes.push({ index, req, res });
      if (done % 1000 === 0 && isAlive(pids.gateway)) {
        rss.push(rssBytes(pids.gateway));
        if (done === 1000) warmRss = rss[rss.length - 1];
      }
    },
  });
  const seconds = (Date.now() - started) / 1000;
  if (warmRss === 0) warmRss = rss[0];
  // A process may die a moment after its last answer (an engine call still running): look again after a pause.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  for (const [name, pid] of Object.entries(pids)) {
    if (pid && !deaths.some((death) => death.startsWith(name)) && !isAlive(pid)) {
      deaths.push(`${name} (pid ${pid}) died after the last request; the last answers before: ${recent.map(describeFinding).join(' | ')}`);
    }
  }

  // No process died or was replaced; the fleet still works.
  const alive = { gateway: isAlive(pids.gateway), agent: isAlive(pids.agent), nats: pids.nats === 0 || isAlive(pids.nats) };
  const after = await api(fleet, 'GET', '/node/_all/container/docker');
  const endRss = rssBytes(pids.gateway);
  const closed =
    requests.length -
    Object.entries(byClass)
      .filter(([key]) => /xx$/.test(key))
      .reduce((sum, [, n]) => sum + n, 0) -
    (byClass['no-answer'] ?? 0);

  report('fuzz', 'summary', {
    seed: SEED,
    requests: requests.length,
    operations: operations.size,
    must_reject: requests.filter((req) => req.mustReject).length,
    ...Object.fromEntries(Object.entries(byClass).map(([key, n]) => [`status_${key}`, n])),
    '5xx': serverErrors.length,
    '504_after_own_deadline': deadlines.length,
    accepted_but_forbidden: accepted.length,
    no_answer: unanswered.length,
    crashed_processes: deaths.length,
    closed_without_answer: closed,
    bad_error_envelopes: badEnvelopes.length,
    rss_start: mib(rss[0]),
    rss_after_1000: mib(warmRss),
    rss_max: mib(Math.max(...rss, endRss)),
    rss_end: mib(endRss),
    seconds: seconds.toFixed(1),
  });
  // One line per kind of finding (operation family, mutation, answer), with a count and the first example.
  const groups = new Map<string, Finding[]>();
  for (const [label, findings] of [
    ['5xx', serverErrors],
    ['no-answer', unanswered],
    ['accepted', accepted],
    ['envelope', badEnvelopes],
    ['deadline (allowed)', deadlines],
  ] as const) {
    for (const finding of findings) {
      const key = `${label} ${finding.req.kind} → ${finding.res.status} ${errorOf(finding.res).slice(0, 60)}`;
      groups.set(key, [...(groups.get(key) ?? []), finding]);
    }
  }
  for (const death of deaths) process.stdout.write(`[reliability] fuzz CRASH: ${death}\n`);
  for (const [key, findings] of [...groups.entries()].slice(0, 60)) {
    const ops = new Set(findings.map((finding) => finding.req.operation));
    process.stdout.write(
      `[reliability] fuzz finding ×${findings.length} (${ops.size} operations) ${key}\n    e.g. ${describeFinding(findings[0])}\n`,
    );
  }

  expect(deaths).toEqual([]);
  expect(alive).toEqual({ gateway: true, agent: true, nats: true });
  expect(after.status).toBe(200);
  if (!ONLY) expect(requests.length).toBeGreaterThanOrEqual(10_000);
  expect(serverErrors.map(describeFinding)).toEqual([]);
  expect(unanswered.map(describeFinding)).toEqual([]);
  expect(accepted.map(describeFinding)).toEqual([]);
  expect(badEnvelopes.map(describeFinding)).toEqual([]);
  // Bounded: after the first thousand requests the gateway's resident memory does not keep growing with the load.
  expect(endRss).toBeLessThan(Math.max(2 * warmRss, warmRss + 150 * 1024 * 1024));
}, 300_000);

/**
 * The contract's error body, its `reason` one of the contract's. Node's HTTP parser refuses a request it cannot
 * parse before the gateway sees it (400 or 431, no body, connection closed): that answer is not the gateway's.
 */
function isErrorBody(res: RawResponse): boolean {
  if (res.body === '' && (res.status === 400 || res.status === 431) && res.headers['content-type'] === undefined) return true;
  if (!(res.headers['content-type'] ?? '').includes('json')) return false;
  try {
    const body = JSON.parse(res.body) as { error?: unknown; details?: unknown; code?: unknown; reason?: unknown };
    return (
      Boolean(body.error) &&
      Boolean(body.details) &&
      body.code === res.status &&
      typeof body.reason === 'string' &&
      REASONS.has(body.reason)
    );
  } catch {
    return false;
  }
}
