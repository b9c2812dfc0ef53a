import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import { brokerUnavailability } from '../nats/broker-unavailable';

/** Pauses between attempts; the last one repeats. */
const RETRY_PAUSES_MS = [100, 250, 500, 1000, 2000];
/**
 * One attempt waits at most this long for JetStream's acknowledgement. A publish sent while a
 * stream elects its leader can go unanswered; a retry (deduplicated by msgID) soon after reaches
 * the new leader, instead of waiting out the client's 5 s default.
 */
const ATTEMPT_TIMEOUT_MS = 2_000;

/** The one call of a JetStream client that dispatching needs. */
export type JetStreamPublisher = Pick<JetStreamClient, 'publish'>;

/**
 * Publishes to a stream and rides out a stream leader election or a broker restart: an attempt
 * that finds no stream leader (no responders) or gets no acknowledgement is tried again until
 * `deadline` (epoch ms), the job's own. The msgID makes a retry idempotent: JetStream drops a
 * duplicate of a message it already stored. Other errors, and the last one at the deadline, throw.
 */
export async function publishUntil(
  js: JetStreamPublisher,
  subject: string,
  payload: string | Uint8Array,
  msgID: string,
  deadline: number,
): Promise<PubAck> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await js.publish(subject, payload, { msgID, timeout: Math.max(500, Math.min(ATTEMPT_TIMEOUT_MS, deadline - Date.now())) });
    } catch (err) {
      const pause = RETRY_PAUSES_MS[Math.min(attempt, RETRY_PAUSES_MS.length - 1)];
      if (!isTransient(err) || Date.now() + pause >= deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

/** No stream leader to answer, JetStream not ready yet, or no answer in time: worth sending again, deduplicated by msgID. */
function isTransient(err: unknown): boolean {
  return brokerUnavailability(err) !== undefined;
}

/** A job message's JSON (an object) with its `seal` added last, without parsing or encoding the rest again. */
export function withSeal(json: string, seal: string): string {
  return `${json.slice(0, -1)},"seal":${JSON.stringify(seal)}}`;
}
