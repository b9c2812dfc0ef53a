import type { NatsConnection } from '@nats-io/transport-node';
import { rolloutControlSubject, type RolloutControl, type RolloutControlReply } from '@fleet/contracts/protocol';

/** How long a pause, resume or abort waits for the replica running the rollout to answer. */
const CONTROL_TIMEOUT_MS = 5_000;

const decoder = new TextDecoder();

/**
 * Asks the replica running the rollout to pause, resume or abort it; undefined when no replica runs it
 * (it has ended, or its gateway is gone).
 */
export async function sendRolloutControl(
  nc: Pick<NatsConnection, 'request'>,
  jobId: string,
  control: RolloutControl,
): Promise<RolloutControlReply | undefined> {
  try {
    const reply = await nc.request(rolloutControlSubject(jobId), JSON.stringify(control), { timeout: CONTROL_TIMEOUT_MS });
    return reply.json<RolloutControlReply>();
  } catch {
    return undefined;
  }
}

/** Answers the controls of one rollout this replica runs, until the returned function is called. */
export function answerRolloutControls(
  nc: Pick<NatsConnection, 'subscribe'>,
  jobId: string,
  take: (control: RolloutControl) => RolloutControlReply,
): () => void {
  const sub = nc.subscribe(rolloutControlSubject(jobId), {
    callback: (err, msg) => {
      if (err) return;
      const control = parseControl(msg.data);
      msg.respond(JSON.stringify(control ? take(control) : { refused: 'not a rollout control' }));
    },
  });
  return () => sub.unsubscribe();
}

/** Only gateways publish in the gateway's account; a malformed control is still refused, never taken. */
function parseControl(data: Uint8Array): RolloutControl | undefined {
  try {
    const { action, by } = JSON.parse(decoder.decode(data)) as Partial<RolloutControl>;
    if (action !== 'pause' && action !== 'resume' && action !== 'abort') return undefined;
    return typeof by === 'string' ? { action, by } : undefined;
  } catch {
    return undefined;
  }
}
