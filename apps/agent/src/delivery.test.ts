import type { DeliveryInfo } from '@nats-io/jetstream';
import { AGENT_REPORT_GRACE_MS, agentConsumerName, jobsStreamOf, jobSubject } from '@fleet/contracts/protocol';
import { endsBeforeRedelivery, isOwnDelivery, parseJob, type Delivery } from './delivery';

/** A delivery as the client hands it over: its subject, where it came from, and its body. */
function delivery(subject: string, from: { stream: string; consumer: string } | 'no JetStream reply', body: unknown = {}): Delivery {
  return {
    subject,
    get info(): DeliveryInfo {
      if (from === 'no JetStream reply') throw new Error('not a JetStream message');
      return from as unknown as DeliveryInfo;
    },
    json: <T>() => (typeof body === 'string' ? JSON.parse(body) : body) as T,
  };
}

describe('isOwnDelivery', () => {
  const own = { stream: jobsStreamOf('web-01'), consumer: agentConsumerName('web-01') };

  it('takes a delivery of its own job subject from its own stream and consumer', () => {
    expect(isOwnDelivery(delivery(jobSubject('web-01'), own), 'web-01')).toBe(true);
  });

  it("refuses another host's subject, stream or consumer, and a message with no JetStream reply", () => {
    expect(isOwnDelivery(delivery(jobSubject('web-02'), own), 'web-01')).toBe(false);
    expect(isOwnDelivery(delivery(jobSubject('web-01'), { ...own, stream: jobsStreamOf('web-02') }), 'web-01')).toBe(false);
    expect(isOwnDelivery(delivery(jobSubject('web-01'), { ...own, consumer: agentConsumerName('web-02') }), 'web-01')).toBe(false);
    expect(isOwnDelivery(delivery(jobSubject('web-01'), 'no JetStream reply'), 'web-01')).toBe(false);
  });
});

describe('parseJob', () => {
  const job = { job_id: 'j1', operation: 'docker.container.list', target: '_all', params: {}, deadline: 1_700_000_000_000 };

  it('reads a job with an id, an operation and a numeric deadline', () => {
    expect(parseJob(delivery('s', 'no JetStream reply', job))).toEqual(job);
  });

  it('gives nothing for a body that is not JSON or lacks what every job has', () => {
    expect(parseJob(delivery('s', 'no JetStream reply', '{not json'))).toBeUndefined();
    expect(parseJob(delivery('s', 'no JetStream reply', { ...job, deadline: '2030-01-01' }))).toBeUndefined();
    expect(parseJob(delivery('s', 'no JetStream reply', { ...job, job_id: 7 }))).toBeUndefined();
  });
});

describe('endsBeforeRedelivery', () => {
  const storedAt = 1_700_000_000_000;
  const ackWaitMs = 30_000;

  it("holds for a job whose deadline, less the report grace, comes before the broker's redelivery", () => {
    // The default 30 s timeout against the default 30 s ack wait: the job was stored just after it was made.
    expect(endsBeforeRedelivery(storedAt - 2 + 30_000, storedAt, ackWaitMs)).toBe(true);
    expect(endsBeforeRedelivery(storedAt + ackWaitMs + AGENT_REPORT_GRACE_MS - 1, storedAt, ackWaitMs)).toBe(true);
  });

  it('fails for a job that may still run when the broker delivers it again', () => {
    expect(endsBeforeRedelivery(storedAt + ackWaitMs + AGENT_REPORT_GRACE_MS, storedAt, ackWaitMs)).toBe(false);
    expect(endsBeforeRedelivery(storedAt + 300_000, storedAt, ackWaitMs)).toBe(false);
  });

  it('fails while the ack wait is unknown', () => {
    expect(endsBeforeRedelivery(storedAt + 1_000, storedAt, 0)).toBe(false);
  });
});
