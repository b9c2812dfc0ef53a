/**
 * Finding 1: an agent's NATS login could shape its own consumer (the broker does not check where a
 * push consumer delivers), so web-01 pointed `agent_web-01` at db-01's inbox and web-01's next job
 * ran on db-01's engine. Now only the gateway creates consumers, the agent binds and acks, and the
 * worker refuses any delivery that is not from its own stream, consumer and job subject.
 */
import { randomUUID } from 'node:crypto';
import { AckPolicy, DeliverPolicy, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { agentDeliverSubject } from '@fleet/contracts/nats-permissions';
import {
  AGENTS_BUCKET,
  agentConsumerName,
  agentDeliverGroup,
  ENROLLMENTS_BUCKET,
  JOB_RECORDS_STREAM,
  jobsStreamOf,
  jobSubject,
  RESULTS_BUCKET,
} from '@fleet/contracts/protocol';
import { GATEWAY_LOGIN, useNatsLogins } from '../support/agent-login';
import { attack } from '../support/attacks';
import { countContainers } from '../support/docker';
import { api } from '../support/http';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet();
const logins = useNatsLogins(fleet, { web01: 'web-01', gateway: GATEWAY_LOGIN });
let gatewayJsm: JetStreamManager;

beforeAll(async () => {
  gatewayJsm = await jetstreamManager(logins.gateway.nc);
});

/** Creates one container on `target` through the gateway, marked so the engines can be asked where it ran. */
async function createMarked(target: string): Promise<string> {
  const mark = randomUUID();
  const res = await api(fleet, 'POST', `/node/${target}/container/docker`, {
    body: { image: 'local/busybox:latest', name: `g1-${mark.slice(0, 8)}`, cmd: ['true'], labels: { 'g1.mark': mark } },
  });
  expect(res.status).toBe(202);
  return mark;
}

async function containersMarked(hostname: string, mark: string): Promise<number> {
  return countContainers(fleet.docker(hostname), `g1.mark=${mark}`);
}

const WEB01_STREAM = jobsStreamOf('web-01');
const WEB01_CONSUMER = agentConsumerName('web-01');

attack(
  "web-01's login re-creates agent_web-01 to deliver to db-01's inbox (or fleet.audit): refused, and web-01's next job runs on web-01 only",
  async () => {
    // No `$JS.API.INFO` check: the login may not ask it (README "What an agent's NATS login can and cannot do").
    const intruderJsm = await jetstreamManager(logins.web01.nc, { timeout: 2_000, checkAPI: false });
    await expect(intruderJsm.consumers.delete(WEB01_STREAM, WEB01_CONSUMER)).rejects.toThrow();
    await logins.web01.violationFor(`$JS.API.CONSUMER.DELETE.${WEB01_STREAM}.${WEB01_CONSUMER}`);
    for (const deliverTo of [agentDeliverSubject('db-01'), 'fleet.audit']) {
      const config = {
        durable_name: WEB01_CONSUMER,
        deliver_subject: deliverTo,
        filter_subject: jobSubject('web-01'),
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.New,
      };
      await expect(intruderJsm.consumers.add(WEB01_STREAM, config)).rejects.toThrow();
    }
    // Every subject form nats-server 2.9 takes a consumer creation on.
    for (const subject of [
      `$JS.API.CONSUMER.DURABLE.CREATE.${WEB01_STREAM}.${WEB01_CONSUMER}`,
      `$JS.API.CONSUMER.CREATE.${WEB01_STREAM}.${WEB01_CONSUMER}`,
      `$JS.API.CONSUMER.CREATE.${WEB01_STREAM}`,
    ]) {
      logins.web01.nc.publish(
        subject,
        JSON.stringify({
          stream_name: WEB01_STREAM,
          config: { durable_name: WEB01_CONSUMER, deliver_subject: agentDeliverSubject('db-01'), ack_policy: 'explicit' },
        }),
      );
      await logins.web01.violationFor(subject);
    }

    // The broker: web-01's consumer still delivers to web-01's inbox, and it is the stream's only consumer of web-01's subject.
    const consumer = await gatewayJsm.consumers.info(WEB01_STREAM, WEB01_CONSUMER);
    expect(consumer.config.deliver_subject).toBe(agentDeliverSubject('web-01'));
    const consumers = [];
    for await (const info of gatewayJsm.consumers.list(WEB01_STREAM)) consumers.push(info.config.deliver_subject);
    expect(consumers.filter((subject) => subject !== undefined && !subject.startsWith('_INBOX_'))).toEqual([]);

    // The engines: web-01's next job ran on web-01, not on db-01.
    const mark = await createMarked('web-01');
    expect(await containersMarked('web-01', mark)).toBe(1);
    expect(await containersMarked('db-01', mark)).toBe(0);
  },
);

attack(
  "a second consumer of web-01's jobs (made with a login that may), delivering to db-01's inbox: the work queue refuses it",
  async () => {
    const rogue = {
      durable_name: 'rogue_to_db01',
      deliver_subject: agentDeliverSubject('db-01'),
      // db-01's own queue group: without it the broker delivers nothing to db-01's queue subscription at all.
      deliver_group: agentDeliverGroup('db-01'),
      filter_subject: jobSubject('web-01'),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    };
    // A job stream is a work queue (ARCHITECTURE.md "Dispatch at scale"): one consumer per subject, the host's own.
    await expect(gatewayJsm.consumers.add(WEB01_STREAM, rogue)).rejects.toThrow(/unique/);
    const names = [];
    for await (const info of gatewayJsm.consumers.list(WEB01_STREAM))
      if (info.config.filter_subject === jobSubject('web-01')) names.push(info.name);
    expect(names).toEqual([WEB01_CONSUMER]);
    const mark = await createMarked('web-01');
    expect(await containersMarked('web-01', mark)).toBe(1);
    expect(await containersMarked('db-01', mark)).toBe(0);
  },
);

attack(
  "web-01's consumer replaced (by a login that may) with one delivering to db-01's inbox: db-01's worker refuses the job, nothing runs there",
  async () => {
    const own = (await gatewayJsm.consumers.info(WEB01_STREAM, WEB01_CONSUMER)).config;
    await gatewayJsm.consumers.delete(WEB01_STREAM, WEB01_CONSUMER);
    try {
      await gatewayJsm.consumers.add(WEB01_STREAM, {
        durable_name: 'rogue_to_db01',
        deliver_subject: agentDeliverSubject('db-01'),
        deliver_group: agentDeliverGroup('db-01'),
        filter_subject: jobSubject('web-01'),
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
      });
      const mark = randomUUID();
      const sent = await api(fleet, 'POST', '/node/web-01/container/docker?async=true&timeout=5', {
        body: { image: 'local/busybox:latest', name: `g1-${mark.slice(0, 8)}`, cmd: ['true'], labels: { 'g1.mark': mark } },
      });
      expect(sent.status).toBe(202);
      // db-01 got the delivery and said why it refused it.
      for (let i = 0; i < 100 && !fleet.log('agent-db-01').includes('refused a delivery'); i++)
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(fleet.log('agent-db-01')).toContain("refused a delivery that is not from this host's own stream, consumer and job subject");
      expect(await containersMarked('db-01', mark)).toBe(0);
    } finally {
      await gatewayJsm.consumers.delete(WEB01_STREAM, 'rogue_to_db01').catch(() => undefined);
      await gatewayJsm.consumers.add(WEB01_STREAM, own);
    }
  },
);

attack(
  "web-01's login reads STREAM.INFO of the results, registry, enrollment, job record and job streams (every job id and host): refused",
  async () => {
    const replies: string[] = [];
    for (const stream of [
      `KV_${RESULTS_BUCKET}`,
      `KV_${AGENTS_BUCKET}`,
      `KV_${ENROLLMENTS_BUCKET}`,
      JOB_RECORDS_STREAM,
      jobsStreamOf('db-01'),
      WEB01_STREAM,
    ]) {
      const subject = `$JS.API.STREAM.INFO.${stream}`;
      const reply = await logins.web01.nc
        .request(subject, JSON.stringify({ subjects_filter: '>' }), { timeout: 1_000 })
        .catch(() => undefined);
      if (reply) replies.push(reply.string());
      await logins.web01.violationFor(subject);
    }
    expect(replies).toEqual([]);
  },
);

it('a restarted agent binds to the consumer the gateway made and runs its jobs (the legitimate path)', async () => {
  await fleet.killAgent('web-01', 'SIGKILL');
  await fleet.startAgent('web-01');
  const mark = await createMarked('web-01');
  expect(await containersMarked('web-01', mark)).toBe(1);
  const consumer = await gatewayJsm.consumers.info(WEB01_STREAM, WEB01_CONSUMER);
  expect(consumer.config.deliver_subject).toBe(agentDeliverSubject('web-01'));
});

it("a gateway starting again repairs consumers deleted or pointed elsewhere meanwhile, and keeps each host's enrolment, labels and drain", async () => {
  const WEB02_STREAM = jobsStreamOf('web-02');
  const DB01_STREAM = jobsStreamOf('db-01');
  expect((await api(fleet, 'POST', '/agent/db-01/drain')).status).toBe(200);
  const before = (await api(fleet, 'GET', '/agent')).body.agents;
  try {
    await fleet.killGateway('SIGKILL');
    // While no gateway runs: web-02's consumer is gone, and db-01's delivers to fleet.audit.
    await gatewayJsm.consumers.delete(WEB02_STREAM, agentConsumerName('web-02'));
    await gatewayJsm.consumers.delete(DB01_STREAM, agentConsumerName('db-01'));
    await gatewayJsm.consumers.add(DB01_STREAM, {
      durable_name: agentConsumerName('db-01'),
      deliver_subject: 'fleet.audit',
      filter_subject: jobSubject('db-01'),
      ack_policy: AckPolicy.Explicit,
      // What a work queue takes (ARCHITECTURE.md "Dispatch at scale").
      deliver_policy: DeliverPolicy.All,
    });
    await fleet.startGateway();

    // The broker: both consumers are back, each delivering its own host's jobs to its own inbox.
    for (const hostname of ['web-02', 'db-01']) {
      const consumer = await gatewayJsm.consumers.info(jobsStreamOf(hostname), agentConsumerName(hostname));
      expect(consumer.config).toMatchObject({ deliver_subject: agentDeliverSubject(hostname), filter_subject: jobSubject(hostname) });
    }
    // The roster read back from the buckets: same hosts, enrolments, labels and drain.
    const after = (await api(fleet, 'GET', '/agent')).body.agents;
    const shape = (agents: Array<{ hostname: string; enrollment: string; labels: object; drained: boolean }>) =>
      agents.map(({ hostname, enrollment, labels, drained }) => ({ hostname, enrollment, labels, drained }));
    expect(shape(after)).toEqual(shape(before));
    expect(after.find((agent: { hostname: string }) => agent.hostname === 'db-01')).toMatchObject({
      drained: true,
      enrollment: 'accepted',
    });
  } finally {
    expect((await api(fleet, 'POST', '/agent/db-01/undrain')).status).toBe(200);
  }
  // The engines: web-02's next job runs on web-02 (its agent binds again to the repaired consumer).
  await fleet.killAgent('web-02', 'SIGKILL');
  await fleet.startAgent('web-02');
  const mark = await createMarked('web-02');
  expect(await containersMarked('web-02', mark)).toBe(1);
});
