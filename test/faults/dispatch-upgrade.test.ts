/**
 * A gateway upgraded onto a broker with the job streams as they were before (FLEET_DISPATCH_RETENTION=limits: every
 * dispatch message kept an hour): at its start the streams become work queues under the same names (ARCHITECTURE.md
 * "Dispatch at scale"), and the jobs no consumer had acked travel with them. One queued for a live agent (frozen with
 * SIGSTOP, so it holds the job unacked) and one for a down agent (SIGKILLed) each run exactly once, counted on the engines.
 */
import { jetstreamManager, RetentionPolicy } from '@nats-io/jetstream';
import { agentConsumerName, jobsStreamOf, jobSubject } from '@fleet/contracts/protocol';
import { agentConsumer, eventually, executionsOf, jobWhenDone, markedContainer, newMark, useFaultFleet } from '../support/faults';
import { api } from '../support/http';
import { connectToFleetNats } from '../support/nats';

const { fleet, tally } = useFaultFleet('faults/dispatch-upgrade', { gatewayEnv: { FLEET_DISPATCH_RETENTION: 'limits' } });
const LIVE = 'web-01';
const DOWN = 'db-01';

async function retentionOf(hostname: string): Promise<RetentionPolicy> {
  const nc = await connectToFleetNats(fleet.state);
  try {
    return (await (await jetstreamManager(nc)).streams.info(jobsStreamOf(hostname))).config.retention;
  } finally {
    await nc.close();
  }
}

it('moves the job streams to work queues at a gateway start, keeping the jobs queued for a frozen and a down agent', async () => {
  expect(await retentionOf(LIVE)).toBe(RetentionPolicy.Limits);
  const done = await api(fleet, 'POST', `/node/${LIVE}/container/docker`, { body: markedContainer(newMark('before')) });
  expect(done.status).toBe(202);

  await fleet.killAgent(LIVE, 'SIGSTOP');
  await fleet.killAgent(DOWN, 'SIGKILL');
  const queued: Array<{ hostname: string; mark: string; jobId: string }> = [];
  for (const hostname of [LIVE, DOWN]) {
    const mark = newMark(`queued-${hostname}`);
    const res = await api(fleet, 'POST', `/node/${hostname}/container/docker?async=true&timeout=120`, { body: markedContainer(mark) });
    expect(res.status).toBe(202);
    queued.push({ hostname, mark, jobId: res.body.job_id });
  }
  // The broker holds each job unacked on the old stream: one delivered to the frozen agent, one never delivered.
  await eventually(
    'the frozen agent to hold its job unacked',
    async () => (await agentConsumer(fleet, LIVE)).num_ack_pending === 1,
    10_000,
  );
  expect((await agentConsumer(fleet, DOWN)).num_pending).toBe(1);

  fleet.state.gatewayEnv.FLEET_DISPATCH_RETENTION = 'workqueue';
  await fleet.restartGateway();
  tally.fault(true);

  // The broker: same stream names, now work queues; each host's consumer made again, its job waiting in it.
  for (const hostname of [LIVE, DOWN]) {
    expect(await retentionOf(hostname)).toBe(RetentionPolicy.Workqueue);
    const consumer = await agentConsumer(fleet, hostname);
    expect(consumer.num_pending + consumer.num_ack_pending).toBe(1);
  }

  await fleet.killAgent(LIVE, 'SIGCONT');
  await fleet.startAgent(DOWN);
  for (const { jobId } of queued) expect((await jobWhenDone(fleet, jobId, 90)).status).toBe('ok');

  // The engines: each queued job ran once, on its own host only.
  const counts = await Promise.all(
    queued.map(async ({ hostname, mark }) => ({ mark, hostname, count: (await executionsOf(fleet, mark, [hostname]))[hostname] })),
  );
  expect(tally.exactlyOnce(counts)).toEqual([]);
  for (const { hostname, mark } of queued) {
    const elsewhere = fleet.agents.map((agent) => agent.hostname).filter((other) => other !== hostname);
    expect(Object.values(await executionsOf(fleet, mark, elsewhere))).toEqual(elsewhere.map(() => 0));
  }
  // And the work queue forgot them once acked: nothing left on either host's subject.
  const nc = await connectToFleetNats(fleet.state);
  try {
    const jsm = await jetstreamManager(nc);
    for (const hostname of [LIVE, DOWN]) {
      await eventually(
        `${hostname}'s consumer to be idle`,
        async () => {
          const info = await jsm.consumers.info(jobsStreamOf(hostname), agentConsumerName(hostname));
          return info.num_pending === 0 && info.num_ack_pending === 0;
        },
        20_000,
      );
      const stream = await jsm.streams.info(jobsStreamOf(hostname), { subjects_filter: jobSubject(hostname) });
      expect(Object.keys(stream.state.subjects ?? {})).toEqual([]);
    }
  } finally {
    await nc.close();
  }
});
