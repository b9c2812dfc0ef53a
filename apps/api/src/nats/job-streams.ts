import {
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type MsgRequest,
  type StreamConfig,
} from '@nats-io/jetstream';
import { JOB_SHARDS, jobShardSubjects, jobsStreamName } from '@fleet/contracts/protocol';

/**
 * How the job streams keep a dispatch message (ARCHITECTURE.md "Dispatch at scale"):
 * - `workqueue` (the default): until its host's consumer acks it. A host's filtered consumer then finds its next job
 *   through the broker's per-subject index instead of reading past every other host's kept messages, so a fan-out
 *   costs the broker the same per host at any fleet size.
 * - `limits`: for an hour, acked or not (the layout before; kept selectable so `npm run bench` measures both).
 */
export type DispatchRetention = 'workqueue' | 'limits';

const NANOS_PER_SECOND = 1_000_000_000;
/** Dispatch messages only matter until their deadline (at most 300 s); keep them a little longer. */
const DISPATCH_RETENTION_SECONDS = 3600;
/** JetStream drops a message whose msgID it stored this recently: a dispatch retried after a leader election. */
const DUPLICATE_WINDOW_SECONDS = 120;

/** A job message kept for a host's consumer while its stream changes retention, as it was stored. */
interface QueuedJob {
  subject: string;
  data: Uint8Array;
  msgId?: string;
}

/**
 * Creates each job stream with `retention`, or updates it. A stream kept with the other retention (the broker cannot
 * change it in place) is recreated under the same name, so agents' imports, ack subjects and consumers keep their names:
 * every job its hosts' consumers had not acked is read first and stored again in the new stream (a consumer made later
 * with DeliverPolicy.All gets it), then the consumers are made again by the roster (`ensureAgentConsumers`).
 * Returns how many jobs were carried over.
 */
export async function ensureJobStreams(
  jsm: JetStreamManager,
  js: JetStreamClient,
  retention: DispatchRetention,
  replicas: number,
): Promise<number> {
  let carried = 0;
  for (let shard = 0; shard < JOB_SHARDS; shard++) {
    const config = jobStreamConfig(shard, retention, replicas);
    const existing = await jsm.streams.info(config.name).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (!existing) {
      await jsm.streams.add(config);
    } else if (existing.config.retention === config.retention) {
      await jsm.streams.update(config.name, config);
    } else {
      carried += await recreateKeepingQueuedJobs(jsm, js, config);
    }
  }
  return carried;
}

export function jobStreamConfig(shard: number, retention: DispatchRetention, replicas: number): StreamConfig {
  return {
    name: jobsStreamName(shard),
    subjects: [jobShardSubjects(shard)],
    storage: StorageType.File,
    retention: retention === 'workqueue' ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
    max_age: DISPATCH_RETENTION_SECONDS * NANOS_PER_SECOND,
    duplicate_window: DUPLICATE_WINDOW_SECONDS * NANOS_PER_SECOND,
    num_replicas: replicas,
  } as StreamConfig;
}

async function recreateKeepingQueuedJobs(jsm: JetStreamManager, js: JetStreamClient, config: StreamConfig): Promise<number> {
  const queued = await unackedJobs(jsm, config.name);
  await jsm.streams.delete(config.name);
  await jsm.streams.add(config);
  // The job's own msgID again: a second gateway upgrading at the same moment stores it once.
  for (const job of queued) await js.publish(job.subject, job.data, job.msgId ? { msgID: job.msgId } : {});
  return queued.length;
}

/** Every message past each consumer's ack floor on its own subject: delivered and unacked, or not delivered yet. */
async function unackedJobs(jsm: JetStreamManager, stream: string): Promise<QueuedJob[]> {
  const queued: QueuedJob[] = [];
  for await (const consumer of jsm.consumers.list(stream)) {
    const filter = consumer.config.filter_subject;
    if (!filter || consumer.num_pending + consumer.num_ack_pending === 0) continue;
    for (let seq = consumer.ack_floor.stream_seq + 1; ;) {
      // STREAM.MSG.GET takes next_by_subj since nats-server 2.9.0; the client types it for direct gets only.
      const next = { next_by_subj: filter, seq } as unknown as MsgRequest;
      const message = await jsm.streams.getMessage(stream, next);
      if (!message) break;
      queued.push({ subject: message.subject, data: message.data, msgId: message.header.get('Nats-Msg-Id') || undefined });
      seq = message.seq + 1;
    }
  }
  return queued;
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && /not found/i.test(err.message);
}
