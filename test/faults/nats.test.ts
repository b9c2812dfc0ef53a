/**
 * The broker restarts under traffic: nats-server (JetStream on file storage) is SIGKILLed while
 * clients create containers, stays down a few seconds, and starts again on the same store. The
 * gateway and agents must reconnect by themselves (same PIDs), jobs after the reconnect must
 * succeed, and job records and results from before must survive. Executions are counted on the
 * engines: nothing acknowledged is lost, nothing runs twice.
 */
import { isAlive } from '@fleet/deploy';
import {
  agentConsumer,
  auditOutcomes,
  eventually,
  executionsOf,
  jobWhenDone,
  markedContainer,
  newestQueuedJob,
  newMark,
  SLACK_MS,
  useFaultFleet,
} from '../support/faults';
import { api } from '../support/http';
import { report } from '../support/report';
import { startTraffic, statusCounts } from '../support/traffic';

const { fleet, tally } = useFaultFleet('faults/nats', { agentEnv: { FLEET_AGENT_HEARTBEAT_MS: '1000' } });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it('survives a nats-server crash and restart during traffic: reconnects, keeps every record, loses and repeats nothing', async () => {
  // Jobs and results from before the crash.
  const before = [];
  for (let i = 0; i < 3; i++) {
    const res = await api(fleet, 'POST', '/node/_all/container/docker', {
      body: { image: 'local/busybox:latest', cmd: ['true'], labels: { 'fleet.fault.before': String(i) } },
    });
    expect(res.status).toBe(202);
    before.push((await api(fleet, 'GET', `/job/${res.body.job_id}`)).body);
  }
  const pids = { gateway: fleet.gatewayPid, agents: fleet.agents.map((agent) => agent.agentPid) };

  const traffic = startTraffic({
    gateways: [fleet],
    clients: 4,
    target: '_all',
    timeoutSeconds: 15,
    maxDurationMs: 120_000,
    maxRequestsPerClient: 500,
    pauseMs: 50,
  });
  await sleep(2_000);
  const killedAt = Date.now();
  await fleet.killNats('SIGKILL');
  await sleep(3_000);
  await fleet.startNats();
  const restartedAt = Date.now();

  // Reconnected by themselves: every agent heartbeats again and a job on every host succeeds.
  await eventually(
    'a job on every host to succeed after the restart',
    async () => {
      const res = await api(fleet, 'GET', '/node/_all/container/docker?timeout=5');
      return (
        res.status === 200 && res.body.results.length === 3 && res.body.results.every((row: { status: string }) => row.status === 'ok')
      );
    },
    60_000,
    500,
  );
  const recoveredAt = Date.now();
  const afterRecovery = traffic.outcomes.length;
  await sleep(4_000);
  const outcomes = await traffic.stop();

  // Nobody was restarted: the same processes reconnected.
  expect(fleet.gatewayPid).toBe(pids.gateway);
  expect(fleet.agents.map((agent) => agent.agentPid)).toEqual(pids.agents);

  // Every request ended by its own deadline, outage or not.
  const late = outcomes.filter((outcome) => outcome.endedAt - outcome.startedAt > outcome.timeoutSeconds * 1000 + SLACK_MS);
  expect(late).toEqual([]);

  // Jobs after the reconnect succeed on every host.
  const after = outcomes.slice(afterRecovery).filter((outcome) => outcome.startedAt >= recoveredAt);
  expect(after.length).toBeGreaterThan(0);
  for (const outcome of after) {
    expect(outcome).toMatchObject({ status: 202 });
    expect(outcome.rows?.map((row) => row.status)).toEqual(['ok', 'ok', 'ok']);
  }

  // Records and results from before the crash are all there, unchanged.
  for (const job of before) expect((await api(fleet, 'GET', `/job/${job.job_id}`)).body).toEqual(job);

  // Counted on the engines: acknowledged ok rows each ran exactly once, nothing ran twice.
  const audit = await auditOutcomes(fleet, tally, outcomes);
  const during = outcomes.filter((outcome) => outcome.endedAt >= killedAt && outcome.startedAt <= recoveredAt);
  report('faults/nats', 'broker restart', {
    requests: outcomes.length,
    statuses: JSON.stringify(statusCounts(outcomes)),
    during_outage: JSON.stringify(statusCounts(during)),
    down_ms: restartedAt - killedAt,
    recovered_ms_after_restart: recoveredAt - restartedAt,
    after_recovery_ok: after.length,
    acknowledged: audit.acknowledged,
    rows_ok: audit.rowsOk,
    rows_failed: audit.rowsFailed,
    lost: audit.lost.length,
    duplicated: audit.duplicated.length,
  });
  expect(audit.lost).toEqual([]);
  expect(audit.duplicated).toEqual([]);
  tally.fault(true);
});

it('answers a call made while the broker is down with a 503 by its deadline, and the gateway stays up', async () => {
  const gatewayPid = fleet.gatewayPid;
  await fleet.killNats('SIGKILL');
  try {
    const startedAt = Date.now();
    const res = await api(fleet, 'POST', '/node/_all/container/docker?timeout=2', {
      body: { image: 'local/busybox:latest', cmd: ['true'] },
    });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: 'job store unavailable', code: 503, details: expect.stringMatching(/not sent to any host/) });
    expect(Date.now() - startedAt).toBeLessThan(2_000 + SLACK_MS);
    // The failed call's collection must not outlive it: its deadline passes, and the broker requests
    // it might still make time out (5 s), and the gateway is still there.
    await sleep(8_000);
    expect(isAlive(gatewayPid)).toBe(true);
    expect((await fetch(`${fleet.url}/health`)).status).toBe(200);
  } finally {
    await fleet.startNats();
  }
  await eventually(
    'the fleet to serve again',
    async () => (await api(fleet, 'GET', '/node/_all/container/docker?timeout=5')).status === 200,
    60_000,
    500,
  );
  tally.fault(true);
});

it("keeps a job queued for a stopped agent through a broker restart: the host's consumer is made again and the job runs once", async () => {
  // The consumer keeps its state in memory: a restarted broker has lost it, the job stays in the host's work queue.
  expect((await agentConsumer(fleet, 'web-02')).mem_storage).toBe(true);
  // Killed, not stopped: still live to the gateway for a TTL, so the job is sent and waits in the queue.
  await fleet.killAgent('web-02', 'SIGKILL');
  const mark = newMark('queued-over-restart');
  const created = await api(fleet, 'POST', '/node/web-02/container/docker?timeout=90&async=true', { body: markedContainer(mark) });
  expect(created.status).toBe(202);
  // Sent, and acked by no one: still in web-02's work queue.
  await eventually(
    "the job to wait in web-02's queue",
    async () => (await newestQueuedJob(fleet, 'web-02')) === created.body.job_id,
    10_000,
    100,
  );

  await fleet.killNats('SIGKILL');
  await sleep(2_000);
  await fleet.startNats();
  // Made again by the gateway once it reconnected, in memory again, with the job the queue kept to deliver.
  await eventually(
    "web-02's consumer to be made again",
    async () => (await agentConsumer(fleet, 'web-02').catch(() => undefined)) !== undefined,
    30_000,
    250,
  );
  const remade = await agentConsumer(fleet, 'web-02');
  expect(remade.mem_storage).toBe(true);
  expect(remade.num_pending).toBeGreaterThanOrEqual(1);
  expect(await newestQueuedJob(fleet, 'web-02')).toBe(created.body.job_id);

  await fleet.startAgent('web-02');
  const job = await jobWhenDone(fleet, created.body.job_id, 60);
  expect(job.results.map((row) => [row.hostname, row.status])).toEqual([['web-02', 'ok']]);
  expect(await executionsOf(fleet, mark, ['web-02'])).toEqual({ 'web-02': 1 });
  tally.fault(true);
});
