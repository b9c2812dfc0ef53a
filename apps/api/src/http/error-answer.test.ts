import { JetStreamApiError } from '@nats-io/jetstream';
import { jserrors } from '@nats-io/jetstream/internal';
import { errors, RequestError, TimeoutError } from '@nats-io/transport-node';
import { JobStoreUnavailableError, UnsendableParamsError } from '../jobs/job-errors';
import { TargetError } from '../targets/resolve';
import { Writable } from 'node:stream';
import pino from 'pino';
import { errorHandler, toApiError } from './error-answer';

describe('toApiError', () => {
  it('answers each target failure with the status that says whose fault it is', () => {
    expect(toApiError(new TargetError('invalid', 'bad selector'))?.body()).toEqual({
      error: 'invalid target',
      details: 'bad selector',
      code: 400,
      reason: 'invalid_target',
    });
    expect(toApiError(new TargetError('unmatched', 'matched 0'))?.body()).toEqual({
      error: 'no agent matches target',
      details: 'matched 0',
      code: 404,
      reason: 'target_empty',
    });
  });

  it('answers a job that could not be stored with 503 and one that cannot be sent with 400', () => {
    expect(toApiError(new JobStoreUnavailableError('not stored: TIMEOUT'))?.body()).toEqual({
      error: 'job store unavailable',
      details: 'not stored: TIMEOUT',
      code: 503,
      reason: 'job_store_unavailable',
    });
    expect(toApiError(new JobStoreUnavailableError('not stored: TIMEOUT'))?.headers).toEqual({ 'retry-after': '1' });
    expect(toApiError(new UnsendableParamsError('too deep'))?.body()).toEqual({
      error: 'invalid request',
      details: 'too deep',
      code: 400,
      reason: 'validation_failed',
    });
  });

  it('answers a broker that did not answer in time, or had no stream leader to answer, with 503 and retry-after', () => {
    for (const err of [
      new TimeoutError(),
      new RequestError('no responders', { cause: new errors.NoRespondersError('$JS.API.CONSUMER.INFO.x') }),
      new JetStreamApiError({ code: 503, err_code: 10008, description: 'JetStream system temporarily unavailable' }),
      // A KV write no stream leader took, as the JetStream client raises it: a 500 before.
      new jserrors.JetStreamNotEnabled('jetstream is not enabled', {
        cause: new RequestError('no responders', { cause: new errors.NoRespondersError('$KV.fleet_join_tokens.k') }),
      }),
      new JetStreamApiError({ code: 500, err_code: 10118, description: 'stream is offline' }),
    ]) {
      const answer = toApiError(err);
      expect(answer?.status).toBe(503);
      expect(answer?.body()).toMatchObject({ error: 'broker unavailable', code: 503, reason: 'broker_unavailable' });
      expect(answer?.headers).toEqual({ 'retry-after': '1' });
    }
    expect(toApiError(new RequestError('some other failure'))).toBeUndefined();
    expect(toApiError(new JetStreamApiError({ code: 500, err_code: 10049, description: 'some other failure' }))).toBeUndefined();
  });

  it('leaves a fault of the gateway itself to the 500 answer', () => {
    expect(toApiError(new Error('boom'))).toBeUndefined();
  });

  it('keeps the broker failure as the cause: logged by the error handler, never answered', () => {
    const timeout = new TimeoutError();
    expect(toApiError(timeout)?.cause).toBe(timeout);
    const lines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }));
    const answered: unknown[] = [];
    const res = { status: () => res, set: () => res, json: (body: unknown) => answered.push(body) };
    errorHandler(log)(timeout, { method: 'GET', path: '/job' } as never, res as never, () => undefined);
    expect(answered).toEqual([expect.objectContaining({ reason: 'broker_unavailable', code: 503 })]);
    expect(JSON.stringify(answered)).not.toContain(timeout.message);
    expect(lines.map((line) => JSON.parse(line) as { msg: string; reason: string; err: { type: string } })).toEqual([
      expect.objectContaining({
        msg: 'request failed',
        reason: 'broker_unavailable',
        err: expect.objectContaining({ type: 'TimeoutError' }),
      }),
    ]);
  });
});
