import { AckPolicy, DeliverPolicy, RetentionPolicy, type ConsumerConfig, type JetStreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { agentDeliverSubject } from '@fleet/contracts/nats-permissions';
import { agentConsumerName, agentDeliverGroup, JOB_SHARDS, jobsStreamName, jobsStreamOf, jobSubject } from '@fleet/contracts/protocol';

/**
 * How long the broker waits for an agent's ack before it delivers a job again. A delivery lost with the
 * NATS node it travelled through (SIGKILLed) comes back only then: well under the default 30 s deadline,
 * so the job still runs; well over the time an agent takes to claim and ack a job (it does so at once).
 */
const AGENT_ACK_WAIT_MS = 10_000;

/**
 * Creates (or repairs) a host's durable push consumer. Only the gateway does this, when the host is
 * accepted and at every start for every accepted host: the broker does not check where a consumer
 * delivers, so an agent allowed to shape its own could send its jobs to another host's inbox.
 * One that exists with the right stream, filter and deliver subject is kept as it is (with the
 * jobs it holds for an agent that is restarting); any other is replaced.
 *
 * Push, not pull: with one filtered pull consumer per host, nats-server 2.9 leaves some deliveries
 * waiting a whole pull expiry (bench/pull-stall.ts), which made every large fan-out as slow as that.
 */
export async function ensureAgentConsumer(jsm: JetStreamManager, hostname: string): Promise<void> {
  const name = agentConsumerName(hostname);
  const stream = jobsStreamOf(hostname);
  const existing = await jsm.consumers.info(stream, name).catch(() => undefined);
  if (existing && isAgentConsumerOf(existing.config, hostname)) {
    // Updated in place, not replaced: a replaced consumer would drop the jobs it holds.
    if (existing.config.ack_wait !== nanos(AGENT_ACK_WAIT_MS))
      await jsm.consumers.update(stream, name, { ack_wait: nanos(AGENT_ACK_WAIT_MS) });
    return;
  }
  if (existing) await jsm.consumers.delete(stream, name);
  const { retention } = (await jsm.streams.info(stream)).config;
  await jsm.consumers.add(stream, {
    durable_name: name,
    filter_subject: jobSubject(hostname),
    deliver_subject: agentDeliverSubject(hostname),
    // A queue group of the agent's connections: while one rotates its identity, its old and new login
    // are both bound and each job goes to one of them (README "Rotating NATS identities"). A group
    // takes no idle heartbeats or flow control: the agent acks each job as soon as it is claimed,
    // and max_ack_pending bounds what is in flight.
    deliver_group: agentDeliverGroup(hostname),
    ack_policy: AckPolicy.Explicit,
    // A work queue keeps only what no consumer acked yet (the broker asks for All there): the jobs addressed to this
    // host before a consumer was made again (a repair, the move to a work queue). Kept for an hour, acked or not, a
    // new host starts with the jobs addressed to it from its acceptance on.
    deliver_policy: retention === RetentionPolicy.Workqueue ? DeliverPolicy.All : DeliverPolicy.New,
    ack_wait: nanos(AGENT_ACK_WAIT_MS),
    max_deliver: 20,
    max_ack_pending: 1024,
  });
}

/** Consumers created or repaired at once by ensureAgentConsumers. */
const REPAIRS_IN_PARALLEL = 16;

/**
 * ensureAgentConsumer for many hosts (every accepted host, when the gateway starts) with one
 * listing of each job stream's consumers (the broker pages them 256 at a time) instead of one
 * round trip per host: only a host whose consumer is missing or wrong costs more, and those are
 * repaired a few at a time. Returns how many needed it.
 */
export async function ensureAgentConsumers(jsm: JetStreamManager, hostnames: readonly string[]): Promise<number> {
  const existing = new Map<string, ConsumerConfig>();
  for (let shard = 0; shard < JOB_SHARDS; shard++) {
    const stream = jobsStreamName(shard);
    for await (const info of jsm.consumers.list(stream)) existing.set(`${stream}/${info.name}`, info.config);
  }
  const repair = hostnames.filter((hostname) => {
    const config = existing.get(`${jobsStreamOf(hostname)}/${agentConsumerName(hostname)}`);
    return !config || !isAgentConsumerOf(config, hostname) || config.ack_wait !== nanos(AGENT_ACK_WAIT_MS);
  });
  for (let from = 0; from < repair.length; from += REPAIRS_IN_PARALLEL) {
    await Promise.all(
      repair.slice(from, from + REPAIRS_IN_PARALLEL).map((hostname) => ensureAgentConsumer(jsm, hostname).catch(() => undefined)),
    );
  }
  return repair.length;
}

/** The consumer delivers this host's jobs, and only to this host's inbox. */
function isAgentConsumerOf(config: ConsumerConfig, hostname: string): boolean {
  return (
    config.deliver_subject === agentDeliverSubject(hostname) &&
    config.deliver_group === agentDeliverGroup(hostname) &&
    config.filter_subject === jobSubject(hostname)
  );
}
