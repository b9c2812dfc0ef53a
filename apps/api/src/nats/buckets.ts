import { DeliverPolicy, jetstream, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { kvKeyOf, kvStreamName, kvSubject } from '@fleet/contracts/protocol';

export interface BucketEntry {
  key: string;
  value: Uint8Array;
  /** When this value was written. */
  written: Date;
}

/** Messages asked for per batch, and how long a batch waits for them. */
const BATCH = { max_messages: 1000, expires: 2_000 };

/**
 * Every key's current value in a KV bucket, read through one ordered consumer (the last message of
 * each key, in batches) instead of one get per key: a gateway starting beside thousands of agents
 * makes a handful of broker round trips, not thousands. Deleted keys are left out.
 *
 * It reads up to the stream's last message at the time of the call. Later writes are not waited for:
 * the caller follows the bucket (followBucket) before reading it, so it hears those.
 */
export async function readBucket(nc: NatsConnection, jsm: JetStreamManager, bucket: string): Promise<BucketEntry[]> {
  const stream = kvStreamName(bucket);
  const { state } = await jsm.streams.info(stream);
  if (state.messages === 0) return [];
  const consumer = await jetstream(nc).consumers.get(stream, {
    filter_subjects: kvSubject(bucket, '>'),
    deliver_policy: DeliverPolicy.LastPerSubject,
  });
  const entries = new Map<string, BucketEntry>();
  try {
    for (let done = false; !done;) {
      let received = 0;
      for await (const msg of await consumer.fetch(BATCH)) {
        received++;
        const key = kvKeyOf(bucket, msg.subject);
        const operation = msg.headers?.get('KV-Operation');
        if (key !== undefined && (operation === 'DEL' || operation === 'PURGE')) entries.delete(key);
        else if (key !== undefined) entries.set(key, { key, value: msg.data, written: msg.time });
        if (msg.seq >= state.last_seq || msg.info.pending === 0) {
          done = true;
          break;
        }
      }
      // An empty batch: the values up to last_seq aged out (a bucket with a TTL) while this read.
      if (received === 0) done = true;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
  return [...entries.values()];
}
