/**
 * The distributed engine: a 3-node NATS cluster on loopback with every stream and bucket at
 * replicas = 3, two gateway replicas, three agents. A job created through one gateway is read
 * through the other; one NATS node (the leader of the jobs stream) is SIGKILLed under a steady
 * load of jobs, and not one acknowledged job or result is lost, nor any execution repeated —
 * counted on the engines.
 */
import {
  AGENTS_BUCKET,
  JOB_RECORDS_STREAM,
  JOB_SHARDS,
  jobsStreamName,
  jobsStreamOf,
  kvStreamName,
  RESULTS_BUCKET,
} from '@fleet/contracts/protocol';
import { streamLeader } from '@fleet/deploy';
import { auditOutcomes, eventually, FaultTally, jobWhenDone, markedContainer, newMark, SLACK_MS } from '../support/faults';
import { startTestFleet, type TestFleet } from '../support/fleet';
import { api, type ApiTarget } from '../support/http';
import { report } from '../support/report';
import { startTraffic, statusCounts, type Outcome } from '../support/traffic';

let fleet: TestFleet;
let other: ApiTarget;
const tally = new FaultTally('faults/cluster');

beforeAll(async () => {
  fleet = await startTestFleet({
    natsCluster: 3,
    gatewayEnv: { FLEET_JETSTREAM_REPLICAS: '3' },
    agentEnv: { FLEET_AGENT_HEARTBEAT_MS: '1000' },
  });
  const replica = await fleet.startGatewayReplica('b');
  other = { url: replica.url, adminKey: fleet.adminKey };
}, 180_000);

afterAll(async () => {
  tally.print();
  await fleet?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Diagnostics for a row that failed: what its agent logged about the job, and the state of each host's
 * consumer on every live node, so a failure says whether the job was never delivered, delivered late or left unrun.
 */
async function printFailedRowEvidence(outcomes: Outcome[]): Promise<void> {
  const failed = outcomes.flatMap((outcome) =>
    (outcome.rows ?? []).filter((row) => row.status !== 'ok').map((row) => ({ jobId: outcome.jobId ?? '', hostname: row.hostname })),
  );
  if (failed.length === 0) return;
  for (const { jobId, hostname } of failed) {
    const lines = fleet
      .log(`agent-${hostname}`)
      .split('\n')
      .filter((line) => line.includes(jobId))
      .map((line) => JSON.parse(line) as { time: number; msg: string; err?: unknown });
    const seen = lines.map((line) => `${new Date(line.time).toISOString()} ${line.msg}${line.err ? ` (${JSON.stringify(line.err)})` : ''}`);
    process.stdout.write(`[diagnostics] ${hostname} ${jobId}: ${seen.length ? seen.join(' | ') : 'no agent log line names this job'}\n`);
  }
  for (const node of fleet.cluster!.nodes) {
    const jsz = await fetch(`http://127.0.0.1:${node.monitorPort}/jsz?consumers=true&accounts=true`)
      .then((res) => res.json())
      .catch(() => undefined);
    const consumers = (jsz?.account_details ?? []).flatMap((account: { stream_detail?: { consumer_detail?: unknown[] }[] }) =>
      (account.stream_detail ?? []).flatMap((stream) => stream.consumer_detail ?? []),
    ) as { name: string; num_pending: number; num_ack_pending: number; num_redelivered: number; push_bound?: boolean }[];
    const states = consumers.map(
      (c) =>
        `${c.name} pending=${c.num_pending} ack_pending=${c.num_ack_pending} redelivered=${c.num_redelivered} push_bound=${c.push_bound}`,
    );
    process.stdout.write(`[diagnostics] ${node.serverName}: ${jsz ? states.join('; ') : 'down'}\n`);
  }
}

it('connects gateway and agents through a comma-separated FLEET_NATS_URL and keeps every stream at 3 replicas', async () => {
  expect(fleet.natsUrl.split(',')).toHaveLength(3);
  const varz = await fetch(`http://127.0.0.1:${fleet.natsNode(1).monitorPort}/jsz?streams=true&accounts=true&config=true`).then((res) =>
    res.json(),
  );
  const streams = varz.account_details.flatMap((account: { stream_detail?: unknown[] }) => account.stream_detail ?? []);
  const jobStreams = Array.from({ length: JOB_SHARDS }, (_, shard) => jobsStreamName(shard));
  for (const name of [...jobStreams, JOB_RECORDS_STREAM, kvStreamName(RESULTS_BUCKET), kvStreamName(AGENTS_BUCKET)]) {
    const stream = streams.find((candidate: { name: string }) => candidate.name === name);
    expect({ name, replicas: stream?.config?.num_replicas }).toEqual({ name, replicas: 3 });
  }
});

it('reads a job created through one gateway replica through the other, at once and consistently', async () => {
  // Repeated: a read served by a replica that has not caught up would show up as a difference now and then.
  for (let i = 0; i < 15; i++) {
    const created = await api(fleet, 'POST', '/node/_all/container/docker', { body: markedContainer(newMark('a-to-b')) });
    expect(created.status).toBe(202);
    const viaB = await api(other, 'GET', `/job/${created.body.job_id}`);
    expect(viaB.status).toBe(200);
    expect(viaB.body.results).toEqual(created.body.results);
    expect((await api(fleet, 'GET', `/job/${created.body.job_id}`)).body).toEqual(viaB.body);

    // And the other way round, with the job still running when the other replica is asked.
    const accepted = await api(other, 'POST', '/node/_all/container/docker?async=true', { body: markedContainer(newMark('b-to-a')) });
    expect(accepted.status).toBe(202);
    const done = await jobWhenDone(fleet, accepted.body.job_id, 30);
    expect(done.status).toBe('ok');
    expect((await api(other, 'GET', `/job/${accepted.body.job_id}`)).body).toEqual(done);
  }
});

it('loses no job and no result, and repeats nothing, when one NATS node is killed under load', async () => {
  const traffic = startTraffic({
    gateways: [fleet, other],
    clients: 4,
    target: '_all',
    timeoutSeconds: 30,
    maxDurationMs: 120_000,
    maxRequestsPerClient: 500,
    pauseMs: 50,
  });
  await sleep(3_000);
  // The node leading the stream that carries web-01's jobs.
  const jobsStream = jobsStreamOf('web-01');
  const victim = (await streamLeader(fleet.cluster!, jobsStream)) ?? fleet.natsNode(1);
  const killedAt = Date.now();
  await fleet.killNatsNode(victim.index, 'SIGKILL');
  // Failover: the first request started after the kill that succeeds. Then some more traffic on two nodes.
  await eventually(
    'a request started after the kill to succeed',
    () => traffic.outcomes.some((outcome) => outcome.startedAt > killedAt && outcome.status === 202),
    60_000,
    250,
  );
  const failoverMs =
    Math.min(
      ...traffic.outcomes.filter((outcome) => outcome.startedAt > killedAt && outcome.status === 202).map((outcome) => outcome.endedAt),
    ) - killedAt;
  const recoveredAt = Date.now();
  await sleep(4_000);
  const outcomes = await traffic.stop();
  const after = outcomes.filter((outcome) => outcome.startedAt >= recoveredAt);

  // Nothing hung: every request ended by its deadline.
  expect(outcomes.filter((outcome) => outcome.endedAt - outcome.startedAt > outcome.timeoutSeconds * 1000 + SLACK_MS)).toEqual([]);

  // Every acknowledged job is readable through both replicas, and every ok row has exactly one container behind it.
  const viaA = outcomes.filter((outcome) => outcome.via === fleet.url);
  const viaB = outcomes.filter((outcome) => outcome.via === other.url);
  const auditA = await auditOutcomes(fleet, tally, viaA, other);
  const auditB = await auditOutcomes(fleet, tally, viaB, fleet);
  const errors = outcomes.filter((outcome) => outcome.status < 200 || outcome.status >= 300);
  const failedRows = outcomes.flatMap((outcome) =>
    (outcome.rows ?? []).filter((row) => row.status !== 'ok').map((row) => `${row.hostname}: ${row.error}`),
  );
  await printFailedRowEvidence(outcomes);
  report('faults/cluster', 'node kill under load', {
    killed: `${victim.serverName} (leader of ${jobsStream})`,
    failover_ms: failoverMs,
    slowest_request_ms: Math.max(...outcomes.map((outcome) => outcome.endedAt - outcome.startedAt)),
    requests: outcomes.length,
    statuses: JSON.stringify(statusCounts(outcomes)),
    acknowledged: auditA.acknowledged + auditB.acknowledged,
    rows_ok: auditA.rowsOk + auditB.rowsOk,
    rows_failed: auditA.rowsFailed + auditB.rowsFailed,
    lost: auditA.lost.length + auditB.lost.length,
    duplicated: auditA.duplicated.length + auditB.duplicated.length,
  });
  expect(errors.map((outcome) => `${outcome.status} ${outcome.error}`)).toEqual([]);
  expect(failedRows).toEqual([]);
  expect([...auditA.lost, ...auditB.lost]).toEqual([]);
  expect([...auditA.duplicated, ...auditB.duplicated]).toEqual([]);
  // The cluster kept working on two nodes.
  expect(after.length).toBeGreaterThan(0);
  tally.fault(true);

  // The killed node rejoins on its own store.
  await fleet.restartNatsNode(victim.index);
  const res = await api(other, 'GET', '/node/_all/container/docker');
  expect(res.body.results.map((row: { status: string }) => row.status)).toEqual(['ok', 'ok', 'ok']);
}, 240_000);
