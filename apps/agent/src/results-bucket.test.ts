import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { isClaimTaken } from './results-bucket';

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
