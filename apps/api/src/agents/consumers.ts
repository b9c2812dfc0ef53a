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
 * Whether a host consumer keeps its state (what it delivered, what was acked) in memory. On a work queue
 * that state adds nothing the stream does not hold: an ack deletes the job, so the stream keeps exactly the
 * jobs the host has not acked, and a consumer made again (DeliverPolicy.All) gets them all. In memory it
 * spares the broker a write of the consumer's state file after every ack, about half of what a host of a
 * fan-out costs it (ARCHITECTURE.md "Dispatch at scale"). nats-server does not keep such a consumer across
 * its own restart: the gateway makes it again when it reconnects (ConsumerRepair), and a mutation already
 * run finds its claim. With limits retention acked jobs stay in the stream, so the state is on file.
 */
function keepsStateInMemory(retention: RetentionPolicy): boolean {
  return retention === RetentionPolicy.Workqueue;
}

/**
 * Creates (or repairs) a host's durable push consumer. Only the gateway does this, when the host is
 * accepted, at every start for every accepted host and after every reconnect to the broker: the broker
 * does not check where a consumer delivers, so an agent allowed to shape its own could send its jobs to
 * another host's inbox. One that exists with the right stream, filter, deliver subject and storage is
 * kept as it is (with the jobs it holds for an agent that is restarting); any other is replaced.
 *
 * Push, not pull: with one filtered pull consumer per host, nats-server 2.9 leaves some deliveries
 * waiting a whole pull expiry (bench/pull-stall.ts), which made every large fan-out as slow as that.
 */
export async function ensureAgentConsumer(jsm: JetStreamManager, hostname: string, retention?: RetentionPolicy): Promise<void> {
  const name = agentConsumerName(hostname);
  const stream = jobsStreamOf(hostname);
  const streamRetention = retention ?? (await jsm.streams.info(stream)).config.retention;
  const existing = await jsm.consumers.info(stream, name).catch(() => undefined);
  if (existing && isAgentConsumerOf(existing.config, hostname, streamRetention)) {
    // Updated in place, not replaced: a replaced consumer would drop the jobs it holds.
    if (existing.config.ack_wait !== nanos(AGENT_ACK_WAIT_MS))
      await jsm.consumers.update(stream, name, { ack_wait: nanos(AGENT_ACK_WAIT_MS) });
    return;
  }
  if (existing) await jsm.consumers.delete(stream, name);
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
    // host before a consumer was made again (a repair, a broker restart, the move to a work queue). Kept for an hour,
    // acked or not, a new host starts with the jobs addressed to it from its acceptance on.
    deliver_policy: streamRetention === RetentionPolicy.Workqueue ? DeliverPolicy.All : DeliverPolicy.New,
    ack_wait: nanos(AGENT_ACK_WAIT_MS),
    max_deliver: 20,
    max_ack_pending: 1024,
    mem_storage: keepsStateInMemory(streamRetention),
  });
}

/** Consumers created or repaired at once by ensureAgentConsumers. */
const REPAIRS_IN_PARALLEL = 16;

/**
 * ensureAgentConsumer for many hosts (every accepted host, when the gateway starts or reconnects) with
 * one listing of each job stream's consumers (the broker pages them 256 at a time) instead of one
 * round trip per host: only a host whose consumer is missing or wrong costs more, and those are
 * repaired a few at a time. Says how many needed it, and which of those failed (a broker still recovering its streams).
 */
export async function ensureAgentConsumers(
  jsm: JetStreamManager,
  hostnames: readonly string[],
): Promise<{ repaired: number; failed: string[] }> {
  const existing = new Map<string, ConsumerConfig>();
  const retentions = new Map<string, RetentionPolicy>();
  for (let shard = 0; shard < JOB_SHARDS; shard++) {
    const stream = jobsStreamName(shard);
    retentions.set(stream, (await jsm.streams.info(stream)).config.retention);
    for await (const info of jsm.consumers.list(stream)) existing.set(`${stream}/${info.name}`, info.config);
  }
  const retentionOf = (hostname: string) => retentions.get(jobsStreamOf(hostname)) ?? RetentionPolicy.Workqueue;
  const repair = hostnames.filter((hostname) => {
    const config = existing.get(`${jobsStreamOf(hostname)}/${agentConsumerName(hostname)}`);
    return !config || !isAgentConsumerOf(config, hostname, retentionOf(hostname)) || config.ack_wait !== nanos(AGENT_ACK_WAIT_MS);
  });
  const failed: string[] = [];
  for (let from = 0; from < repair.length; from += REPAIRS_IN_PARALLEL) {
    await Promise.all(
      repair
        .slice(from, from + REPAIRS_IN_PARALLEL)
        .map((hostname) => ensureAgentConsumer(jsm, hostname, retentionOf(hostname)).catch(() => void failed.push(hostname))),
    );
  }
  return { repaired: repair.length - failed.length, failed };
}

/** The consumer delivers this host's jobs, only to this host's inbox, keeping its state where this stream's retention wants it. */
function isAgentConsumerOf(config: ConsumerConfig, hostname: string, retention: RetentionPolicy): boolean {
  return (
    config.deliver_subject === agentDeliverSubject(hostname) &&
    config.deliver_group === agentDeliverGroup(hostname) &&
    config.filter_subject === jobSubject(hostname) &&
    (config.mem_storage === true) === keepsStateInMemory(retention)
  );
}
