/**
 * A broker restart under a thousand agents (README "Broker restarts"): nats-server, JetStream on file storage,
 * is SIGKILLed by its PID while callers send mutations and reads, stays down a few seconds and starts again on
 * the same store. The agents are the scale harness's swarm: real agent code, simulated engines that count every
 * restart of every `counted-…` container. What must hold: every accepted job has exactly one row per host by its
 * deadline, or the call got a clean 503 (with retry-after) and reached no host; each mutation ran at most once on
 * each host, exactly once where its row says ok; all 1,000 agents are live again; no other 5xx, and no 503 once
 * the fleet is back.
 */
import { isAlive } from '@fleet/deploy';
import { eventually, SLACK_MS } from '../support/faults';
import { api, type ApiResponse } from '../support/http';
import { percentile, report } from '../support/report';
import { startSwarmFleet, type SwarmFleet } from '../support/swarm-fleet';

const AGENTS = 1_000;
/** Long enough for a job accepted just before the kill to reach every host after the restart. */
const MUTATION_TIMEOUT_S = 90;
const READ_TIMEOUT_S = 20;
/** Shorter than the outage. */
const SHORT_TIMEOUT_S = 3;
/** Longer than a JetStream request waits, so calls during the outage are answered 503 rather than held until it ends. */
const DOWN_MS = 12_000;
/** Past the gateway's 2 s of grace for a lost broker (README "Broker restarts"), well inside the outage. */
const OUTAGE_PROBE_AFTER_MS = 4_000;
/** The bound README "Broker restarts" states, after the broker is up again (plus SLACK_MS for a loaded machine). */
const LIVE_AGAIN_BOUND_MS = 60_000;

let fleet: SwarmFleet;

beforeAll(async () => {
  fleet = await startSwarmFleet({ agents: AGENTS, perProcess: 500 });
}, 600_000);

afterAll(async () => {
  await fleet?.stop();
}, 180_000);

interface Call {
  kind: 'mutation' | 'read';
  timeoutSeconds: number;
  /** The container a mutation restarts: unique per call, so the engines count each call's executions. */
  container?: string;
  startedAt: number;
  endedAt: number;
  status: number;
  retryAfter?: string;
  reason?: string;
  jobId?: string;
  rows?: Array<{ hostname: string; status: string }>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One caller's calls until `stopped()`, bounded: mutations (async restarts on every host, each of its own container)
 * or reads (a label target, answered in full), each with its own deadline.
 */
function callLoop(kind: Call['kind'], timeoutSeconds: number, calls: Call[], stopped: () => boolean): Promise<void> {
  return (async () => {
    for (let i = 0; i < 400 && !stopped(); i++) {
      const container = kind === 'mutation' ? `counted-${timeoutSeconds}-${i}-${Date.now().toString(36)}` : undefined;
      const path =
        kind === 'mutation'
          ? `/node/_all/container/docker/${container}/restart?async=true&timeout=${timeoutSeconds}`
          : `/node/role:web/container/docker?timeout=${timeoutSeconds}`;
      const startedAt = Date.now();
      const res: ApiResponse | undefined = await api(fleet.state, kind === 'mutation' ? 'POST' : 'GET', path, {
        timeoutMs: (timeoutSeconds + 60) * 1000,
      }).catch(() => undefined);
      const body = typeof res?.body === 'object' && res?.body !== null ? res?.body : {};
      calls.push({
        kind,
        timeoutSeconds,
        container,
        startedAt,
        endedAt: Date.now(),
        status: res?.status ?? 0,
        retryAfter: res?.headers['retry-after'],
        reason: body.reason,
        jobId: body.job_id,
        rows: body.results,
      });
      await sleep(250);
    }
  })();
}

/** The job once it is finished, or as it stands at its deadline (plus slack). */
async function finishedJob(
  jobId: string,
): Promise<{ status: string; hosts: string[]; results: Array<{ hostname: string; status: string }> }> {
  let job = (await api(fleet.state, 'GET', `/job/${jobId}`)).body;
  await eventually(
    `job ${jobId} to finish`,
    async () => {
      job = (await api(fleet.state, 'GET', `/job/${jobId}`)).body;
      return job.status !== 'pending' && job.status !== 'running';
    },
    MUTATION_TIMEOUT_S * 1000 + SLACK_MS,
    1_000,
  );
  return job;
}

it('restarts the broker under 1,000 agents and a stream of calls: no job lost or run twice, every agent live again', async () => {
  const gatewayPid = fleet.state.gateway.pid;
  const calls: Call[] = [];
  let stopping = false;
  // A call already under way when the broker goes away waits for it up to its own deadline (its record may have
  // landed); the short-deadline caller is therefore free again during the outage, and sends calls into it.
  const loops = [
    callLoop('mutation', MUTATION_TIMEOUT_S, calls, () => stopping),
    callLoop('mutation', SHORT_TIMEOUT_S, calls, () => stopping),
    callLoop('read', READ_TIMEOUT_S, calls, () => stopping),
  ];
  await sleep(3_000);

  const killedAt = Date.now();
  await fleet.killBroker('SIGKILL');
  // A call made once the gateway has been without the broker for a while is refused at once, not held.
  await sleep(OUTAGE_PROBE_AFTER_MS);
  const probeStartedAt = Date.now();
  const probe = await api(fleet.state, 'GET', `/node/role:web/container/docker?timeout=${READ_TIMEOUT_S}`, { timeoutMs: 30_000 });
  const probeMs = Date.now() - probeStartedAt;
  await sleep(Math.max(0, DOWN_MS - (Date.now() - killedAt)));
  await fleet.startBroker();
  const restartedAt = Date.now();

  // Live again: every agent heard from after the restart (its first heartbeat on its new connection).
  let seen = await fleet.lastSeen();
  const notBack = () => fleet.hostnames.filter((hostname) => (seen.get(hostname)?.seenAt ?? 0) < restartedAt);
  await eventually(
    `all ${AGENTS} agents to heartbeat again after the restart`,
    async () => {
      seen = await fleet.lastSeen();
      return notBack().length === 0;
    },
    LIVE_AGAIN_BOUND_MS + SLACK_MS,
    500,
  ).catch(() => undefined);
  expect({ notBack: notBack().length, first: notBack().slice(0, 5) }).toEqual({ notBack: 0, first: [] });
  const allLiveAt = Date.now();
  await sleep(5_000);
  stopping = true;
  await Promise.all(loops);

  const liveAgainMs = fleet.hostnames.map((hostname) => (seen.get(hostname)?.seenAt ?? Infinity) - restartedAt);
  expect([...seen.values()].filter((agent) => agent.live).length).toBe(AGENTS);
  // The same gateway reconnected by itself.
  expect(fleet.state.gateway.pid).toBe(gatewayPid);
  expect(isAlive(gatewayPid)).toBe(true);

  // No 5xx other than a clean 503 while the fleet was down, none after; every 503 says why and when to retry.
  const failures = calls.filter((call) => call.status !== 200 && call.status !== 202);
  // The call made while the broker was down was refused (503, why, when to retry) rather than held until it came back.
  expect({ status: probe.status, reason: probe.body.reason, retryAfter: probe.headers['retry-after'] }).toEqual({
    status: 503,
    reason: 'job_store_unavailable',
    retryAfter: expect.stringMatching(/^\d+$/),
  });
  expect(probeStartedAt + probeMs).toBeLessThan(restartedAt);
  expect(failures.filter((call) => call.status !== 503)).toEqual([]);
  expect(failures.filter((call) => call.startedAt > allLiveAt)).toEqual([]);
  for (const call of failures) {
    expect(call.retryAfter).toMatch(/^\d+$/);
    expect(['broker_unavailable', 'job_store_unavailable']).toContain(call.reason);
  }
  // Calls after the fleet is back succeed, so the stream above did cover both sides of the outage.
  expect(calls.some((call) => call.startedAt > allLiveAt && call.kind === 'mutation')).toBe(true);
  expect(calls.some((call) => call.startedAt < killedAt && call.kind === 'mutation')).toBe(true);

  // Reads answered in full: one row for each of the job's hosts (web hosts), once each.
  const webHosts = new Set(fleet.hostnames.filter((_, index) => index % 4 === 0));
  let leftOut = 0;
  for (const read of calls.filter((call) => call.kind === 'read' && call.status === 200)) {
    const { hosts } = await finishedJob(read.jobId as string);
    expect(read.rows?.map((row) => row.hostname).sort()).toEqual([...hosts].sort());
    expect(hosts.filter((hostname) => !webHosts.has(hostname))).toEqual([]);
    leftOut += webHosts.size - hosts.length;
  }

  // Every accepted mutation: one row per host by its deadline; with a deadline longer than the outage, every row ok.
  // (Its hosts are the agents live at acceptance; one that missed its heartbeats on this loaded box may be left out.)
  const accepted = calls.filter((call) => call.kind === 'mutation' && call.status === 202);
  const rowsByJob = new Map<string, Map<string, string>>();
  for (const call of accepted) {
    const job = await finishedJob(call.jobId as string);
    expect(job.results.map((row) => row.hostname).sort()).toEqual([...job.hosts].sort());
    leftOut += AGENTS - job.hosts.length;
    if (call.timeoutSeconds === MUTATION_TIMEOUT_S) expect(job.results.filter((row) => row.status !== 'ok')).toEqual([]);
    rowsByJob.set(call.jobId as string, new Map(job.results.map((row) => [row.hostname, row.status])));
  }
  // Counted on the engines: an accepted mutation ran exactly once where its row is ok and at most once elsewhere
  // (a host outside the job: never); a refused one ran nowhere.
  const counted = await fleet.counted();
  let rowsOk = 0;
  for (const call of calls.filter((candidate) => candidate.kind === 'mutation')) {
    const rows = call.jobId ? rowsByJob.get(call.jobId) : undefined;
    const wrong = fleet.hostnames.filter((hostname) => {
      const ran = counted.get(`${hostname} ${call.container}`) ?? 0;
      if (call.status !== 202 || !rows) return ran !== 0;
      const row = rows.get(hostname);
      if (row === 'ok') rowsOk++;
      if (row === undefined) return ran !== 0;
      return row === 'ok' ? ran !== 1 : ran > 1;
    });
    expect({ container: call.container, status: call.status, wrong }).toEqual({
      container: call.container,
      status: call.status,
      wrong: [],
    });
  }

  report('faults/broker-restart-scale', 'broker restart under 1,000 agents', {
    agents: AGENTS,
    calls: calls.length,
    mutations_accepted: accepted.length,
    refused_503: failures.length,
    rows_ok: rowsOk,
    hosts_left_out_of_targets: leftOut,
    down_ms: restartedAt - killedAt,
    live_again_p50_ms: percentile(liveAgainMs, 50),
    live_again_p99_ms: percentile(liveAgainMs, 99),
    live_again_last_ms: Math.max(...liveAgainMs),
  });
}, 900_000);
