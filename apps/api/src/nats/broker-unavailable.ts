import { JetStreamApiError } from '@nats-io/jetstream';
import { JetStreamStatusError } from '@nats-io/jetstream/internal';
import { RequestError, TimeoutError, errors } from '@nats-io/transport-node';

/**
 * How the broker failed a request it could not take right now (README "Broker restarts"):
 * - `refused`: nothing acted on it (no responders: a stream electing its leader has none; or JetStream answered that it
 *   cannot handle it yet), so sending it again is safe even for a write;
 * - `unanswered`: no answer in time, so a write may or may not have landed.
 * Undefined for any other failure: the request itself, or a fault of the gateway.
 */
export type BrokerUnavailability = 'refused' | 'unanswered';

/**
 * JetStream API errors (nats-server's error identifiers) that say the cluster or a stream cannot take the request at the
 * moment, whatever the request: they pass once the raft groups have leaders again.
 */
const NOT_YET = new Set([
  10007, // the JetStream cluster is not assigned to this server
  10008, // the JetStream system is temporarily unavailable
  10009, // the JetStream cluster can not handle the request (no leader)
  10118, // the stream is offline
  10119, // the consumer is offline
]);

/** JetStream's own status answers: 503 when nothing answered a direct get, 408 when a request expired. */
const STATUS_REFUSED = 503;
const STATUS_EXPIRED = 408;

/**
 * The one classification of broker failures. The NATS client wraps some failures (a publish with no responders is
 * raised as "jetstream is not enabled" with the no-responders error as its cause), so the causes are followed too.
 */
export function brokerUnavailability(err: unknown): BrokerUnavailability | undefined {
  for (let at: unknown = err, depth = 0; at instanceof Error && depth < 4; at = at.cause, depth++) {
    const found = ownUnavailability(at);
    if (found) return found;
  }
  return undefined;
}

function ownUnavailability(err: Error): BrokerUnavailability | undefined {
  if (err instanceof errors.NoRespondersError || (err instanceof RequestError && err.isNoResponders())) return 'refused';
  if (err instanceof JetStreamApiError && (err.status === 503 || NOT_YET.has(err.code))) return 'refused';
  if (err instanceof JetStreamStatusError && err.code === STATUS_REFUSED) return 'refused';
  if (err instanceof TimeoutError || (err instanceof JetStreamStatusError && err.code === STATUS_EXPIRED)) return 'unanswered';
  return undefined;
}

/** Pauses between attempts while a request is refused: a stream leader election usually ends within these (≈ 3.9 s). */
const REFUSED_PAUSES_MS = [100, 200, 400, 800, 1_200, 1_200];

/**
 * Runs `request` again while the broker refuses it (`refused`: nothing acted on it, so repeating it is safe), at most
 * REFUSED_PAUSES_MS.length times; then, or on any other failure, throws. An `unanswered` request is not repeated: it
 * has already waited out its timeout, and a write may have landed.
 */
export function whileBrokerRefuses<T>(request: () => Promise<T>, pausesMs: readonly number[] = REFUSED_PAUSES_MS): Promise<T> {
  return repeated(request, pausesMs, 0);
}

/**
 * Like whileBrokerRefuses, for a request that is safe to repeat whatever became of it (pushing the same account JWT
 * again): also sent once more when it got no answer in time. A connection that died unseen while idle (a partition
 * that sent it no reset) is found dead only by the next request on it, whose answer is then lost with it; the
 * client has reconnected by the time that request times out, so the second one is answered.
 */
export function idempotentRequest<T>(request: () => Promise<T>, pausesMs: readonly number[] = REFUSED_PAUSES_MS): Promise<T> {
  return repeated(request, pausesMs, 1);
}

async function repeated<T>(request: () => Promise<T>, pausesMs: readonly number[], unansweredRetries: number): Promise<T> {
  for (let refusals = 0, unanswered = 0; ;) {
    try {
      return await request();
    } catch (err) {
      const unavailability = brokerUnavailability(err);
      if (unavailability === 'unanswered' && unanswered < unansweredRetries) {
        unanswered++;
        continue;
      }
      if (unavailability !== 'refused' || refusals >= pausesMs.length) throw err;
      await new Promise((resolve) => setTimeout(resolve, pausesMs[refusals++]));
    }
  }
}
