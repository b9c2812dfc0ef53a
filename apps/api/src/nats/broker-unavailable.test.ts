import { jetstream, JetStreamApiError } from '@nats-io/jetstream';
import { JetStreamStatusError, jserrors } from '@nats-io/jetstream/internal';
import { errors, RequestError, TimeoutError, type NatsConnection } from '@nats-io/transport-node';
import { brokerUnavailability, idempotentRequest, whileBrokerRefuses } from './broker-unavailable';

const noResponders = (subject: string) => new RequestError('no responders', { cause: new errors.NoRespondersError(subject) });

/** The error the real JetStream client raises for a publish (a KV write) that no stream leader took. */
async function publishWithoutStreamLeader(): Promise<unknown> {
  const nc = {
    options: {},
    request: (subject: string) => Promise.reject(noResponders(subject)),
  } as unknown as NatsConnection;
  return jetstream(nc)
    .publish('$KV.fleet_join_tokens.k', 'v')
    .then(
      () => undefined,
      (err: unknown) => err,
    );
}

const apiError = (status: number, errCode: number, description: string) =>
  new JetStreamApiError({ code: status, err_code: errCode, description });

describe('brokerUnavailability', () => {
  it('calls a KV write no stream leader took refused: the client raises it as "jetstream is not enabled", caused by no responders', async () => {
    const err = await publishWithoutStreamLeader();
    expect(err).toBeInstanceOf(jserrors.JetStreamNotEnabled);
    expect(brokerUnavailability(err)).toBe('refused');
  });

  it.each([
    ['no responders (a request)', noResponders('$JS.API.DIRECT.GET.KV_fleet_identities')],
    ['no responders (bare)', new errors.NoRespondersError('$JS.API.STREAM.INFO.KV_fleet_agents')],
    ['JetStream temporarily unavailable (10008)', apiError(503, 10008, 'JetStream system temporarily unavailable')],
    ['the cluster can not handle the request (10009)', apiError(500, 10009, 'JetStream cluster can not handle request')],
    ['not assigned to this server (10007)', apiError(500, 10007, 'JetStream cluster not assigned to this server')],
    ['stream offline (10118)', apiError(500, 10118, 'stream is offline')],
    ['consumer offline (10119)', apiError(500, 10119, 'consumer is offline')],
    ['a direct get nothing answered (status 503)', new JetStreamStatusError('no responders', 503)],
  ])('calls %s refused: nothing acted on it', (_what, err) => {
    expect(brokerUnavailability(err)).toBe('refused');
  });

  it.each([
    ['a request timeout', new TimeoutError()],
    ['an expired JetStream request (status 408)', new JetStreamStatusError('request timeout', 408)],
  ])('calls %s unanswered: a write may have landed', (_what, err) => {
    expect(brokerUnavailability(err)).toBe('unanswered');
  });

  it.each([
    ['a compare-and-set lost (10071)', apiError(400, 10071, 'wrong last sequence: 4')],
    ['a missing stream (10059)', apiError(404, 10059, 'stream not found')],
    ['another JetStream failure', apiError(500, 10049, 'some other failure')],
    ['another request failure', new RequestError('some other failure')],
    ['a fault of the gateway', new Error('boom')],
    ['not an error', 'no responders'],
  ])('leaves %s alone', (_what, err) => {
    expect(brokerUnavailability(err)).toBeUndefined();
  });
});

describe('whileBrokerRefuses', () => {
  const noPauses = [0, 0, 0];

  it('sends a refused request again until it is taken', async () => {
    let calls = 0;
    const taken = await whileBrokerRefuses(async () => {
      calls++;
      if (calls < 3) throw noResponders('$KV.x.k');
      return 'stored';
    }, noPauses);
    expect({ taken, calls }).toEqual({ taken: 'stored', calls: 3 });
  });

  it('gives up after its pauses, with the last refusal', async () => {
    let calls = 0;
    const refusal = noResponders('$KV.x.k');
    await expect(
      whileBrokerRefuses(() => {
        calls++;
        return Promise.reject(refusal);
      }, noPauses),
    ).rejects.toBe(refusal);
    expect(calls).toBe(noPauses.length + 1);
  });

  it.each([
    ['an unanswered write (it may have landed)', new TimeoutError()],
    ['any other failure', apiError(400, 10071, 'wrong last sequence: 4')],
  ])('does not repeat %s', async (_what, err) => {
    let calls = 0;
    await expect(
      whileBrokerRefuses(() => {
        calls++;
        return Promise.reject(err);
      }, noPauses),
    ).rejects.toBe(err);
    expect(calls).toBe(1);
  });
});

describe('idempotentRequest', () => {
  const noPauses = [0, 0, 0];

  it('sends a request that got no answer once more (its answer lost with a connection that broke), and refused ones again', async () => {
    const failures = [new TimeoutError(), noResponders('$SYS.REQ.CLAIMS.UPDATE'), noResponders('$SYS.REQ.CLAIMS.UPDATE')];
    let calls = 0;
    const answered = await idempotentRequest(() => {
      const failure = failures[calls++];
      return failure ? Promise.reject(failure) : Promise.resolve('stored');
    }, noPauses);
    expect({ answered, calls }).toEqual({ answered: 'stored', calls: 4 });
  });

  it('gives up on the second request without an answer', async () => {
    let calls = 0;
    const timeout = new TimeoutError();
    await expect(
      idempotentRequest(() => {
        calls++;
        return Promise.reject(timeout);
      }, noPauses),
    ).rejects.toBe(timeout);
    expect(calls).toBe(2);
  });
});
