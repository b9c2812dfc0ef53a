import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { AGENT_REPORT_GRACE_MS } from '@fleet/contracts/protocol';
import { endsBeforeRedelivery, fitted, isClaimTaken } from './worker';

/** The broker's answer to a publish, as @nats-io/jetstream turns it into an error. */
function brokerError(errCode: number, description: string): JetStreamApiError {
  return new JetStreamApiError({ code: 400, err_code: errCode, description });
}

describe('isClaimTaken', () => {
  it('reads the broker refusing a create on an existing key as a taken claim', () => {
    expect(isClaimTaken(brokerError(JetStreamApiCodes.StreamWrongLastSequence, 'wrong last sequence: 7'))).toBe(true);
    expect(isClaimTaken(brokerError(JetStreamApiCodes.StreamWrongLastSequenceUnknown, 'wrong last sequence unknown'))).toBe(true);
  });

  it('reads any other failure as not a claim, whatever its text says', () => {
    expect(isClaimTaken(brokerError(JetStreamApiCodes.StreamNotFound, 'stream not found'))).toBe(false);
    expect(isClaimTaken(new Error('wrong last sequence: 7'))).toBe(false);
    expect(isClaimTaken(new Error('TIMEOUT'))).toBe(false);
  });
});

describe('fitted', () => {
  const decoded = (json: Uint8Array) => JSON.parse(Buffer.from(json).toString('utf8')) as unknown;

  it('hands a row that fits back as it is, with its JSON encoded once for every later use', () => {
    const row = { hostname: 'web-01', status: 'ok' as const, changed: false, message: 'OK — ünïcode', duration_ms: 2 };
    const { row: kept, json } = fitted(row);
    expect(kept).toBe(row);
    expect(Buffer.from(json).toString('utf8')).toBe(JSON.stringify(row));
  });

  it('halves output that would not fit a NATS message until it does, marked truncated', () => {
    const row = { hostname: 'web-01', status: 'ok' as const, changed: true, stdout: 'x'.repeat(1_500_000), stderr: 'e' };
    const { row: cut, json } = fitted(row);
    expect(cut.truncated).toBe(true);
    expect(cut.stdout).toBe('x'.repeat(750_000));
    expect(json.length).toBeLessThanOrEqual(900 * 1024);
    expect(decoded(json)).toEqual(cut);
  });

  it('turns a row too large without output to cut into a failed row that says how large it was', () => {
    const row = { hostname: 'web-01', status: 'ok' as const, changed: false, message: 'm'.repeat(1_000_000), duration_ms: 5 };
    const { row: failed, json } = fitted(row);
    expect(failed).toMatchObject({ hostname: 'web-01', status: 'failed', changed: false, error_code: 507, duration_ms: 5 });
    expect(failed.error).toContain(`(${Buffer.byteLength(JSON.stringify(row))} bytes)`);
    expect(decoded(json)).toEqual(failed);
  });
});

describe('endsBeforeRedelivery', () => {
  const storedAt = 1_700_000_000_000;
  const ackWaitMs = 30_000;

  it('holds for a job whose deadline, less the report grace, comes before the broker\'s redelivery', () => {
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
