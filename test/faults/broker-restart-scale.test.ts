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
/** Longer than a JetStream request waits, so calls during the outage are answered 503 rather than held until it ends. */
const DOWN_MS = 12_000;
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

/** Mutations (async restarts on every host) and reads (a label target, answered in full) until `stopped()`, bounded. */
function callLoop(kind: Call['kind'], calls: Call[], stopped: () => boolean): Promise<void> {
  return (async () => {
    for (let i = 0; i < 400 && !stopped(); i++) {
      const container = kind === 'mutation' ? `counted-${i}-${Date.now().toString(36)}` : undefined;
      const path =
        kind === 'mutation'
          ? `/node/_all/container/docker/${container}/restart?async=true&timeout=${MUTATION_TIMEOUT_S}`
          : `/node/role:web/container/docker?timeout=${READ_TIMEOUT_S}`;
      const startedAt = Date.now();
      const res: ApiResponse | undefined = await api(fleet.state, kind === 'mutation' ? 'POST' : 'GET', path, {
        timeoutMs: (READ_TIMEOUT_S + 60) * 1000,
      }).catch(() => undefined);
      const body = typeof res?.body === 'object' && res?.body !== null ? res?.body : {};
      calls.push({
        kind,
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
async function finishedJob(jobId: string): Promise<{ status: string; results: Array<{ hostname: string; status: string }> }> {
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
  const loops = [callLoop('mutation', calls, () => stopping), callLoop('read', calls, () => stopping)];
  await sleep(3_000);

  const killedAt = Date.now();
  await fleet.killBroker('SIGKILL');
  await sleep(DOWN_MS);
  await fleet.startBroker();
  const restartedAt = Date.now();

  // Live again: every agent heard from after the restart (its first heartbeat on its new connection).
  let seen = await fleet.lastSeen();
  await eventually(
    `all ${AGENTS} agents to heartbeat again after the restart`,
    async () => {
      seen = await fleet.lastSeen();
      return fleet.hostnames.every((hostname) => (seen.get(hostname)?.seenAt ?? 0) >= restartedAt);
    },
    LIVE_AGAIN_BOUND_MS + SLACK_MS,
    500,
  );
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
  // Calls were made while the broker was down, and were refused rather than held until it came back.
  expect(failures.filter((call) => call.startedAt > killedAt && call.endedAt < restartedAt).length).toBeGreaterThan(0);
  expect(failures.filter((call) => call.status !== 503)).toEqual([]);
  expect(failures.filter((call) => call.startedAt > allLiveAt)).toEqual([]);
  for (const call of failures) {
    expect(call.retryAfter).toMatch(/^\d+$/);
    expect(['broker_unavailable', 'job_store_unavailable']).toContain(call.reason);
  }
  // Calls after the fleet is back succeed, so the stream above did cover both sides of the outage.
  expect(calls.some((call) => call.startedAt > allLiveAt && call.kind === 'mutation')).toBe(true);
  expect(calls.some((call) => call.startedAt < killedAt && call.kind === 'mutation')).toBe(true);

  // Reads answered in full: one row per web host, once each.
  const webHosts = fleet.hostnames.filter((_, index) => index % 4 === 0).sort();
  for (const read of calls.filter((call) => call.kind === 'read' && call.status === 200)) {
    expect(read.rows?.map((row) => row.hostname).sort()).toEqual(webHosts);
  }

  // Every accepted mutation: one row per host by its deadline, and every row ok (nothing lost in the restart).
  const accepted = calls.filter((call) => call.kind === 'mutation' && call.status === 202);
  let rowsOk = 0;
  for (const call of accepted) {
    const job = await finishedJob(call.jobId as string);
    expect(job.results.map((row) => row.hostname).sort()).toEqual(fleet.hostnames);
    expect(job.results.filter((row) => row.status !== 'ok')).toEqual([]);
    rowsOk += job.results.length;
  }
  // Counted on the engines: each accepted mutation exactly once per host, a refused one nowhere.
  const finalCounts = await fleet.counted();
  for (const call of calls.filter((candidate) => candidate.kind === 'mutation')) {
    const ran = fleet.hostnames.map((hostname) => finalCounts.get(`${hostname} ${call.container}`) ?? 0);
    expect({
      container: call.container,
      status: call.status,
      maxRuns: Math.max(...ran),
      hostsRun: ran.filter((n) => n > 0).length,
    }).toEqual({
      container: call.container,
      status: call.status,
      maxRuns: call.status === 202 ? 1 : 0,
      hostsRun: call.status === 202 ? AGENTS : 0,
    });
  }

  report('faults/broker-restart-scale', 'broker restart under 1,000 agents', {
    agents: AGENTS,
    calls: calls.length,
    mutations_accepted: accepted.length,
    refused_503: failures.length,
    rows_ok: rowsOk,
    down_ms: restartedAt - killedAt,
    live_again_p50_ms: percentile(liveAgainMs, 50),
    live_again_p99_ms: percentile(liveAgainMs, 99),
    live_again_last_ms: Math.max(...liveAgainMs),
  });
}, 900_000);
