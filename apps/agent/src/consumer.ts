import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { agentDeliverSubject } from '@fleet/contracts/nats-permissions';
import { agentConsumerName, jobsStreamOf } from '@fleet/contracts/protocol';

/** How often a pending agent looks for the consumer its acceptance creates. */
const CONSUMER_POLL_MS = 1_000;

/** How long a starting agent waits for its consumer to be free of a previous connection. */
const BIND_RETRY_MS = 15_000;

/** A delivery, with how long the broker waits for its ack before it delivers the job again (the consumer's ack_wait). */
export type DeliveryHandler = (msg: JsMsg, ackWaitMs: number) => void;

/** True once the gateway created this host's consumer (when the host was accepted). */
export function hasJobConsumer(jsm: JetStreamManager, hostname: string): Promise<boolean> {
  return jsm.consumers.info(jobsStreamOf(hostname), agentConsumerName(hostname)).then(
    () => true,
    () => false,
  );
}

/**
 * Subscribes to the deliveries of the durable push consumer the gateway created for this host
 * (an agent may not create, change or delete consumers: README "Security model"). A pending
 * agent waits here until it is accepted, or until `stopped()`. A restarted agent may find the
 * consumer still bound to its previous connection for a moment, until the server notices that
 * connection is gone. Each delivery is handed to `onDelivery` as the client reads it.
 */
export async function bindJobConsumer(
  js: JetStreamClient,
  hostname: string,
  log: Logger,
  onDelivery: DeliveryHandler,
  stopped: () => boolean,
): Promise<ConsumerMessages> {
  let boundSince: number | undefined;
  for (let attempt = 1; !stopped(); attempt++) {
    const consumer = await js.consumers.getPushConsumer(jobsStreamOf(hostname), agentConsumerName(hostname)).catch(() => undefined);
    if (!consumer) {
      if (attempt % 60 === 1) log.warn('no job consumer for this host yet: waiting for an admin to accept it (fleet agent accept)');
      await sleep(CONSUMER_POLL_MS);
      continue;
    }
    const { deliver_subject: deliverSubject, ack_wait: ackWaitNanos } = (await consumer.info(true)).config;
    const ackWaitMs = Math.floor((ackWaitNanos ?? 0) / 1e6);
    if (deliverSubject !== agentDeliverSubject(hostname)) {
      throw new Error(`this host's consumer delivers to ${deliverSubject}, not to ${agentDeliverSubject(hostname)}`);
    }
    boundSince ??= Date.now();
    try {
      return await consumer.consume({ callback: (msg) => onDelivery(msg, ackWaitMs) });
    } catch (err) {
      if (Date.now() - boundSince >= BIND_RETRY_MS) throw err;
      await sleep(250);
    }
  }
  throw new Error('the agent stopped before its job consumer existed');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
