/**
 * Agent crashes on real processes, counted on the engines: an agent SIGKILLed in the middle of a
 * job costs its own row only (failed by the deadline), comes back as one agent entry and runs
 * none of its old jobs; JetStream redelivery — of jobs it never acknowledged, and of jobs it had
 * already executed — never makes a mutation's (job_id, host) run twice; a read delivered twice
 * runs twice, harmlessly, and keeps its first row.
 */
import {
  eventually,
  executionsOf,
  MARK,
  FaultTally,
  jobWhenDone,
  killSignalsSeen,
  markedContainer,
  newMark,
  setAckWait,
  SLACK_MS,
  agentConsumer,
  waitForConsumerIdle,
} from '../support/faults';
import { startTestFleet, type TestFleet } from '../support/fleet';
import { api } from '../support/http';
import { DispatchCapture } from '../support/dispatch-capture';
import { connectToFleetNats } from '../support/nats';

let fleet: TestFleet;
const tally = new FaultTally('faults/agent');
const suiteStart = Math.floor(Date.now() / 1000) - 1;

beforeAll(async () => {
  fleet = await startTestFleet({ agentEnv: { FLEET_AGENT_HEARTBEAT_MS: '1000' } });
  // A container whose PID 1 ignores SIGTERM on every host: `stop?t=N` keeps the agent busy N seconds.
  const created = await api(fleet, 'POST', '/node/_all/container/docker', {
    body: { ...markedContainer('stubborn', { name: 'stubborn', start: true }) },
  });
  expect(created.status).toBe(202);
});

afterAll(async () => {
  tally.print();
  await fleet?.stop();
});

describe('an agent SIGKILLed in the middle of a job', () => {
  it('fails only its own row, by the deadline, while the gateway keeps serving', async () => {
    const started = Date.now();
    const call = api(fleet, 'POST', '/node/_all/container/docker/stubborn/stop?t=6&timeout=12');
    // The engine itself says the stop is under way on web-02 (it sent SIGTERM): the job is mid-flight.
    await eventually(
      'web-02 engine to receive the stop',
      async () => (await killSignalsSeen(fleet, 'web-02', 'stubborn', suiteStart)) >= 1,
      10_000,
    );
    await fleet.killAgent('web-02', 'SIGKILL');

    // The gateway keeps answering while one agent is dead and a job waits on it.
    expect((await api(fleet, 'GET', '/health')).status).toBe(200);
    expect((await api(fleet, 'GET', '/node/web-01/container/docker')).status).toBe(200);

    const res = await call;
    const elapsedMs = Date.now() - started;
    expect(res.status).toBe(202);
    expect(res.body.results).toEqual([
      expect.objectContaining({ hostname: 'db-01', status: 'ok', changed: true }),
      expect.objectContaining({ hostname: 'web-01', status: 'ok', changed: true }),
      { hostname: 'web-02', status: 'failed', changed: false, error: 'timeout: agent did not respond within 12s', error_code: 504 },
    ]);
    expect(elapsedMs).toBeLessThan(12_000 + SLACK_MS);
    const job = await api(fleet, 'GET', `/job/${res.body.job_id}`);
    expect(job.body).toMatchObject({ status: 'partial' });
    tally.fault(true);
  });

  it('comes back as one agent entry and runs none of the jobs from before its crash', async () => {
    // Jobs addressed to the dead host: they miss their deadline, so they must never run.
    const missed = newMark('missed');
    const sync = await api(fleet, 'POST', '/node/web-02/container/docker?timeout=2', { body: markedContainer(missed) });
    expect(sync.status).toBe(504);
    const accepted = await api(fleet, 'POST', '/node/web-02/container/docker?timeout=2&async=true', { body: markedContainer(missed) });
    expect(accepted.status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 2_500));

    await fleet.startAgent('web-02');
    const agents = await api(fleet, 'GET', '/agent');
    expect(agents.body.agents.filter((agent: { hostname: string }) => agent.hostname === 'web-02')).toHaveLength(1);
    expect(agents.body.agents.find((agent: { hostname: string }) => agent.hostname === 'web-02')).toMatchObject({ live: true });
    await waitForConsumerIdle(fleet, 'web-02', 30_000);

    // Counted on the engine: nothing missed ran, and the stop that was cut short was not run again.
    expect(
      tally.atMost([{ mark: missed, hostname: 'web-02', count: (await executionsOf(fleet, missed, ['web-02']))['web-02'] }], 0),
    ).toEqual([]);
    expect(
      tally.atMost(
        [{ mark: 'stubborn-stop', hostname: 'web-02', count: await killSignalsSeen(fleet, 'web-02', 'stubborn', suiteStart) }],
        1,
      ),
    ).toEqual([]);
    expect((await jobWhenDone(fleet, accepted.body.job_id, 5)).results[0]).toMatchObject({ status: 'failed', error_code: 504 });

    const after = await api(fleet, 'GET', '/node/_all/container/docker');
    expect(after.body.results.map((row: { status: string }) => row.status)).toEqual(['ok', 'ok', 'ok']);
    tally.fault(true);
  });
});

describe('JetStream redelivery', () => {
  it("delivers a frozen agent's unacknowledged jobs again to its successor, which runs each exactly once", async () => {
    const before = await agentConsumer(fleet, 'web-01');
    // Frozen, not dead: JetStream hands the agent's open pull request the jobs, nobody acknowledges them.
    await fleet.killAgent('web-01', 'SIGSTOP');
    const marks = Array.from({ length: 8 }, (_, index) => newMark(`redeliver${index}`));
    const jobIds: string[] = [];
    for (const mark of marks) {
      const res = await api(fleet, 'POST', '/node/web-01/container/docker?async=true&timeout=120', { body: markedContainer(mark) });
      expect(res.status).toBe(202);
      jobIds.push(res.body.job_id);
    }
    let frozen = await agentConsumer(fleet, 'web-01');
    await eventually(
      'the jobs to be handed to the frozen agent',
      async () => {
        frozen = await agentConsumer(fleet, 'web-01');
        return frozen.num_ack_pending >= marks.length;
      },
      5_000,
    ).catch(() => undefined);
    await fleet.killAgent('web-01', 'SIGKILL');
    // Redeliver after 2 s instead of the consumer's 30 s, so the suite does not sit out the default.
    await setAckWait(fleet, 'web-01', 2_000);
    await fleet.startAgent('web-01');

    for (const jobId of jobIds) expect((await jobWhenDone(fleet, jobId, 60)).status).toBe('ok');
    const after = await waitForConsumerIdle(fleet, 'web-01', 30_000);
    await setAckWait(fleet, 'web-01', before.ack_wait / 1_000_000);

    // JetStream's own count: deliveries minus distinct jobs = redeliveries (the jobs given to the frozen agent).
    const deliveries = after.delivered.consumer_seq - before.delivered.consumer_seq;
    const redelivered = deliveries - marks.length;
    const counts = await Promise.all(
      marks.map(async (mark) => ({ mark, hostname: 'web-01', count: (await executionsOf(fleet, mark))['web-01'] })),
    );
    process.stdout.write(
      `[reliability] faults/agent redelivery: jobs=${marks.length} delivered_to_frozen_agent=${frozen.num_ack_pending} ` +
        `deliveries=${deliveries} redelivered=${redelivered}\n`,
    );
    expect(frozen.num_ack_pending).toBe(marks.length);
    expect(redelivered).toBeGreaterThanOrEqual(marks.length);
    expect(tally.exactlyOnce(counts)).toEqual([]);
    // And nowhere else.
    for (const mark of marks) expect(await executionsOf(fleet, mark, ['web-02', 'db-01'])).toEqual({ 'web-02': 0, 'db-01': 0 });
    tally.fault(true);
  });

  it('runs nothing again when every job a host executed is delivered to it a second time', async () => {
    const hostname = 'web-01';
    const marks = Array.from({ length: 6 }, (_, index) => newMark(`replay${index}`));
    // A work queue forgets an acked job (ARCHITECTURE.md "Dispatch at scale"): what a lost consumer state or a restored
    // store would deliver again is sent again here, each job exactly as the gateway sealed it.
    const nc = await connectToFleetNats(fleet.state);
    const capture = await DispatchCapture.start(nc, hostname);
    const jobIds: string[] = [];
    for (const mark of marks) {
      const res = await api(fleet, 'POST', `/node/${hostname}/container/docker?timeout=120`, { body: markedContainer(mark) });
      expect(res.status).toBe(202);
      jobIds.push(res.body.job_id);
    }
    for (const jobId of jobIds) await capture.of(jobId);
    const engine = fleet.docker(hostname);
    const containersBefore = (await engine.listContainers({ all: true })).length;
    const stopsBefore = await killSignalsSeen(fleet, hostname, 'stubborn', suiteStart);
    const claimedBefore = (fleet.log(`agent-${hostname}`).match(/already claimed/g) ?? []).length;

    const before = await waitForConsumerIdle(fleet, hostname, 60_000);
    try {
      expect(await capture.publishAgain()).toBe(marks.length);
    } finally {
      capture.stop();
      await nc.close();
    }
    const idle = await waitForConsumerIdle(fleet, hostname, 60_000);

    const replayed = idle.delivered.consumer_seq - before.delivered.consumer_seq;
    const claimedAgain = (fleet.log(`agent-${hostname}`).match(/already claimed/g) ?? []).length - claimedBefore;
    process.stdout.write(
      `[reliability] faults/agent replay: redelivered_jobs=${replayed} ` + `refused_as_already_claimed=${claimedAgain}\n`,
    );
    expect(replayed).toBe(marks.length);
    expect(claimedAgain).toBe(marks.length);
    // Counted on the engine: not one container more, every mark still exactly once, no second stop.
    expect((await engine.listContainers({ all: true })).length).toBe(containersBefore);
    const counts = await Promise.all(
      marks.map(async (mark) => ({ mark, hostname, count: (await executionsOf(fleet, mark, [hostname]))[hostname] })),
    );
    expect(tally.exactlyOnce(counts)).toEqual([]);
    expect(
      tally.atMost(
        [{ mark: 'stubborn-stop', hostname, count: await killSignalsSeen(fleet, hostname, 'stubborn', suiteStart) }],
        stopsBefore,
      ),
    ).toEqual([]);
    const now = await api(fleet, 'GET', `/node/${hostname}/container/docker`);
    expect(now.status).toBe(200);
    tally.fault(true);
  });
});

describe('a dispatch message delivered twice', () => {
  const linesOf = (jobId: string, text: string) =>
    fleet
      .log('agent-web-01')
      .split('\n')
      .filter((line) => line.includes(jobId) && line.includes(text)).length;

  it('runs a mutation once, and a read twice with no harm: its first row stays and the job reads ok', async () => {
    const mark = newMark('twice');
    const body = markedContainer(mark);
    // The gateway's login hears what it dispatches to web-01 (sealed for web-01) and sends it again as the gateway would.
    const nc = await connectToFleetNats(fleet.state);
    const capture = await DispatchCapture.start(nc, 'web-01');
    const created = await api(fleet, 'POST', '/node/web-01/container/docker?timeout=60', { body });
    expect(created.status).toBe(202);
    const listed = await api(fleet, 'GET', '/node/web-01/container/docker?all=true&timeout=60');
    expect(listed.status).toBe(200);
    await capture.of(created.body.job_id);
    await capture.of(listed.body.job_id);
    try {
      expect(await capture.publishAgain()).toBe(2);
    } finally {
      capture.stop();
      await nc.close();
    }

    // The agent handled both second deliveries: the create refused as claimed, the list run again.
    await eventually(
      'both second deliveries to be handled',
      () => linesOf(created.body.job_id, 'already claimed') === 1 && linesOf(listed.body.job_id, 'row already written') === 1,
      20_000,
    );
    expect(linesOf(listed.body.job_id, 'job done')).toBe(2);
    expect(linesOf(created.body.job_id, 'job done')).toBe(1);

    // Counted on the engine: one container for the mark, not two.
    expect(tally.exactlyOnce([{ mark, hostname: 'web-01', count: (await executionsOf(fleet, mark, ['web-01']))['web-01'] }])).toEqual([]);
    // The read's stored row is its first answer, listing the container, and the job reads ok.
    const job = await api(fleet, 'GET', `/job/${listed.body.job_id}`);
    expect(job.body).toMatchObject({ status: 'ok' });
    expect(job.body.results).toEqual([listed.body.results[0]]);
    expect(listed.body.results[0].containers.some((c: { Labels?: Record<string, string> }) => c.Labels?.[MARK] === mark)).toBe(true);
    tally.fault(true);
  });
});
