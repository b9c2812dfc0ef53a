import type { JsMsg } from '@nats-io/jetstream';
import { AGENT_REPORT_GRACE_MS, agentConsumerName, jobsStreamOf, jobSubject, type JobMessage } from '@fleet/contracts/protocol';

/** What the worker reads of a delivery: its subject and, for a JetStream delivery, where it came from. */
export type Delivery = Pick<JsMsg, 'subject' | 'info' | 'json'>;

/**
 * Only this host's consumer on its own stream, delivering its own job subject, may hand it a job:
 * the broker does not check where a consumer delivers, so a misdirected consumer (made with a
 * login that may create consumers) must not be able to run another host's jobs here.
 */
export function isOwnDelivery(msg: Delivery, hostname: string): boolean {
  if (msg.subject !== jobSubject(hostname)) return false;
  try {
    return msg.info.stream === jobsStreamOf(hostname) && msg.info.consumer === agentConsumerName(hostname);
  } catch {
    // No JetStream reply subject at all: not a delivery.
    return false;
  }
}

/** The job a delivery carries, or undefined when it is not one (it is then terminated, never redelivered). */
export function parseJob(msg: Pick<JsMsg, 'json'>): JobMessage | undefined {
  try {
    const job = msg.json<JobMessage>();
    return typeof job.job_id === 'string' && typeof job.operation === 'string' && typeof job.deadline === 'number' ? job : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a job that runs at once (and so ends, row and all, by its deadline less the report grace)
 * is over before the broker, counting `ackWaitMs` from when it stored the job (epoch ms, its clock),
 * would deliver it again. An unknown ack wait (0) never is.
 *
 * A plain read that starts at once and ends before then is acked together with its row: one write to
 * the broker instead of two, and none before the engine call. Should the agent die meanwhile, the read
 * is delivered again and runs again, which harms nothing (the first row written stays). Every other
 * job is acked before it runs.
 */
export function endsBeforeRedelivery(deadline: number, storedAt: number, ackWaitMs: number): boolean {
  return ackWaitMs > 0 && deadline - AGENT_REPORT_GRACE_MS < storedAt + ackWaitMs;
}
