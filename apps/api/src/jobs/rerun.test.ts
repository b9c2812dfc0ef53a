import type { HostRow } from '@fleet/contracts/protocol';
import type { JobRequest } from './client';
import { replayOf } from './replay';
import { hostsToRerun } from './rerun';

const base: JobRequest = {
  operation: 'docker.container.restart',
  target: 'role:web',
  params: { id: 'app', t: 1 },
  timeoutSeconds: 20,
  caller: 'ci',
};

describe('replayOf', () => {
  it('keeps the parameters and the deadline of a plain call', () => {
    expect(replayOf(base)).toEqual({ params: { id: 'app', t: 1 }, timeout_seconds: 20 });
  });

  it('keeps nothing of a call that carried a credential, a file, a stream or a file answer, and says why', () => {
    expect(replayOf({ ...base, secret: 'eyJwYXNzd29yZCI6Imh1bnRlcjIifQ' })).toEqual({ refused: expect.stringContaining('credential') });
    expect(replayOf({ ...base, upload: { bytes: 10 } })).toEqual({ refused: expect.stringContaining('file') });
    expect(replayOf({ ...base, onChunk: () => undefined })).toEqual({ refused: expect.stringContaining('stream') });
    expect(replayOf({ ...base, download: true })).toEqual({ refused: expect.stringContaining('file') });
    expect(JSON.stringify(replayOf({ ...base, secret: 'eyJwYXNzd29yZCI6Imh1bnRlcjIifQ' }))).not.toContain('eyJwYXNzd29yZCI6');
  });

  it('keeps nothing of a call with environment values, in any letter case and at any depth', () => {
    const refused = { refused: expect.stringContaining('environment') };
    const operation = 'docker.container.create' as const;
    const create = { ...base, operation, params: { body: { Image: 'busybox', Env: ['TOKEN=s3cret'] } } };
    expect(replayOf(create)).toEqual(refused);
    expect(replayOf({ ...create, params: { body: { HostConfig: {}, config: { ENV: 'A=1' } } } })).toEqual(refused);
    const emptyEnv = { body: { Image: 'busybox', Env: [] } };
    expect(replayOf({ ...create, params: emptyEnv })).toEqual({ params: emptyEnv, timeout_seconds: 20 });
  });

  it("keeps nothing of a stack apply whose services carry environment values (the stack's own store keeps its revision)", () => {
    const apply = { ...base, operation: 'stack.host.apply' as const };
    const spec = (environment: Record<string, string>) => ({ services: { web: { image: 'local/web:1', environment } } });
    const withValues = { name: 'shop', body: { revision: 2, spec: spec({ DB_PASSWORD: 'hunter2' }), on_drift: 'report' } };
    expect(replayOf({ ...apply, params: withValues })).toEqual({ refused: expect.stringContaining('environment') });
    const without = { name: 'shop', body: { revision: 2, spec: spec({}), on_drift: 'report' } };
    expect(replayOf({ ...apply, params: without })).toEqual({ params: without, timeout_seconds: 20 });
  });
});

describe('hostsToRerun', () => {
  const rows: HostRow[] = [
    { hostname: 'a', status: 'ok', changed: true },
    { hostname: 'b', status: 'failed', changed: false, error: 'No such container: app', error_code: 404 },
    { hostname: 'c', status: 'failed', changed: false, error: 'timeout: agent did not respond within 30s', error_code: 504 },
    { hostname: 'd', status: 'skipped', changed: false },
  ];

  it('takes failed rows (timeouts included), only timeouts, only skipped rows, or every row', () => {
    expect(hostsToRerun(rows, 'failed')).toEqual(['b', 'c']);
    expect(hostsToRerun(rows, 'timeout')).toEqual(['c']);
    expect(hostsToRerun(rows, 'skipped')).toEqual(['d']);
    expect(hostsToRerun(rows, 'all')).toEqual(['a', 'b', 'c', 'd']);
  });
});
