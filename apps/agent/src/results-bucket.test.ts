import { JetStreamApiCodes, JetStreamApiError, type JetStreamPublishOptions, type PubAck } from '@nats-io/jetstream';
import { TimeoutError } from '@nats-io/transport-node';
import pino from 'pino';
import type { JobMessage } from '@fleet/contracts/protocol';
import { isWrongLastSequence } from '@fleet/runtime/nats';
import { claimJob } from './results-bucket';

/** The broker's answer to a publish, as @nats-io/jetstream turns it into an error. */
function brokerError(errCode: number, description: string): JetStreamApiError {
  return new JetStreamApiError({ code: 400, err_code: errCode, description });
}

describe('isWrongLastSequence', () => {
  it('reads the broker refusing a create on an existing key as a taken claim', () => {
    expect(isWrongLastSequence(brokerError(JetStreamApiCodes.StreamWrongLastSequence, 'wrong last sequence: 7'))).toBe(true);
    expect(isWrongLastSequence(brokerError(JetStreamApiCodes.StreamWrongLastSequenceUnknown, 'wrong last sequence unknown'))).toBe(true);
  });

  it('reads any other failure as not a claim, whatever its text says', () => {
    expect(isWrongLastSequence(brokerError(JetStreamApiCodes.StreamNotFound, 'stream not found'))).toBe(false);
    expect(isWrongLastSequence(new Error('wrong last sequence: 7'))).toBe(false);
    expect(isWrongLastSequence(new Error('TIMEOUT'))).toBe(false);
  });
});

/**
 * A results stream as nats-server 2.9 answers publishes to it: a message id seen before is a duplicate
 * (checked first), a create on a key that has an entry is refused. `loseAnswers` publishes are stored but
 * their answer never arrives, as when the NATS node that took them dies.
 */
class ResultsStream {
  readonly keys = new Set<string>();
  readonly ids = new Set<string>();
  readonly msgIDs: string[] = [];
  loseAnswers = 0;
  unreachable = false;

  async publish(subject: string, _data: unknown, opts?: Partial<JetStreamPublishOptions>): Promise<PubAck> {
    const msgID = opts?.msgID ?? '';
    this.msgIDs.push(msgID);
    if (this.unreachable) throw new TimeoutError();
    if (this.ids.has(msgID)) return { stream: 'KV_fleet_results', seq: 1, duplicate: true, domain: '' };
    if (opts?.expect?.lastSubjectSequence === 0 && this.keys.has(subject)) {
      throw brokerError(JetStreamApiCodes.StreamWrongLastSequence, 'wrong last sequence: 1');
    }
    this.keys.add(subject);
    this.ids.add(msgID);
    if (this.loseAnswers-- > 0) throw new TimeoutError();
    return { stream: 'KV_fleet_results', seq: 1, duplicate: false, domain: '' };
  }
}

describe('claimJob', () => {
  const log = pino({ level: 'silent' });
  const job = (deadlineInMs: number) => ({ job_id: 'job-1', deadline: Date.now() + deadlineInMs }) as JobMessage;

  it('claims a job whose first claim was stored but unanswered, and refuses every other delivery of it', async () => {
    const stream = new ResultsStream();
    stream.loseAnswers = 1;
    expect(await claimJob(stream, job(30_000), 'web-01', log)).toBe('claimed');
    // The retry repeated the stored claim's id: the broker took it as that claim, not as another.
    expect(stream.msgIDs).toHaveLength(2);
    expect(stream.msgIDs[1]).toBe(stream.msgIDs[0]);
    expect(await claimJob(stream, job(30_000), 'web-01', log)).toBe('taken');
    expect(stream.msgIDs[2]).not.toBe(stream.msgIDs[0]);
  });

  it('asks for redelivery when the broker does not answer before the job deadline', async () => {
    const stream = new ResultsStream();
    stream.unreachable = true;
    expect(await claimJob(stream, job(300), 'web-01', log)).toBe('retry');
  });
});
