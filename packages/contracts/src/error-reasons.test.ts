import { ERROR_REASONS, reasonOfHostStatus, reasonOfProxyAbort, reasonOfStatus } from './error-reasons';

const statusOf = (reason: keyof typeof ERROR_REASONS) => ERROR_REASONS[reason].status;

describe('the reason of a failure known by its status', () => {
  it.each([400, 401, 403, 404, 405, 409, 410, 413, 415, 429, 499, 500, 501, 502, 503, 504, 507])('%i keeps its status', (status) => {
    expect(statusOf(reasonOfStatus(status))).toBe(status);
  });

  // Every error_code a host's row may carry: the agent's (engine.ts, worker.ts) and the gateway's own (jobs/rows.ts).
  it.each([400, 403, 404, 409, 500, 501, 502, 503, 504, 507])('a host row with error_code %i keeps its status', (status) => {
    expect(statusOf(reasonOfHostStatus(status))).toBe(status);
  });

  it('says whose failure a host row was, where the status alone would blame the gateway', () => {
    expect([403, 500, 503, 507].map(reasonOfHostStatus)).toEqual([
      'host_refused',
      'engine_error',
      'broker_unavailable',
      'result_too_large',
    ]);
  });

  // Every status an Engine API session may end with before its head: the agent's and the tunnel's.
  it.each([400, 403, 410, 499, 502, 503, 504])('a proxy session ended with %i keeps its status', (status) => {
    expect(statusOf(reasonOfProxyAbort(status))).toBe(status);
  });

  it('answers a status it does not know as the gateway fault it then is', () => {
    expect(reasonOfStatus(418)).toBe('internal_error');
  });
});
