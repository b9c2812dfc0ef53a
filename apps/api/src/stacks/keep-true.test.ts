import type { HostRow } from '@fleet/contracts/protocol';
import { backoffMs, decideActions, mayClaim, nextClaim, settledClaim, type ControlledHost, type ControlledStack } from './keep-true';
import type { HostClaim, StackRecord } from './store';

const NOW = 1_000_000;

function stack(name: string, target: string, revision: number, extra: Partial<ControlledStack> = {}, removed = false): ControlledStack {
  const record: StackRecord = {
    name,
    target,
    on_drift: 'report',
    rollout: {},
    revision,
    revisions: [],
    ...(removed ? { removed: { at: 'then', by: 'ops' } } : {}),
  };
  return { record, phase: 'ended', rows: new Map(), ...extra };
}

function host(
  hostname: string,
  labels: Record<string, string> | undefined,
  stacks: ControlledHost['stacks'] = [],
  extra: Partial<ControlledHost> = {},
) {
  return { hostname, live: true, drained: false, labels, stacks, ...extra };
}

const inSync = (name: string, revision: number) => ({ name, revision, state: 'in_sync' as const });
const none = () => undefined;

describe('decideActions (the keep-true controller)', () => {
  const web = stack('web', 'role:web', 3);

  it('sends the current revision to a matching host that does not report it, and nothing to one in sync', () => {
    const hosts = [host('web-01', { role: 'web' }, [inSync('web', 3)]), host('web-02', { role: 'web' }), host('db-01', { role: 'db' })];
    expect(decideActions([web], hosts, none, NOW)).toEqual([{ kind: 'apply', stack: 'web', revision: 3, hostname: 'web-02' }]);
  });

  it('sends it to a host on an older revision, or whose apply of this one failed, but not to a drifted one (its agent repairs)', () => {
    const hosts = [
      host('web-01', { role: 'web' }, [inSync('web', 2)]),
      host('web-02', { role: 'web' }, [{ name: 'web', revision: 3, state: 'failed', error: 'pull failed' }]),
      host('web-03', { role: 'web' }, [{ name: 'web', revision: 3, state: 'drifted', drift: [{ service: 'web', what: 'removed' }] }]),
    ];
    expect(decideActions([web], hosts, none, NOW).map((action) => action.hostname)).toEqual(['web-01', 'web-02']);
  });

  it('leaves offline, drained and never-accepted hosts alone', () => {
    const hosts = [
      host('web-01', { role: 'web' }, [], { live: false }),
      host('web-02', { role: 'web' }, [], { drained: true }),
      host('web-03', undefined),
    ];
    expect(decideActions([web], hosts, none, NOW)).toEqual([]);
  });

  it('does not fight a running rollout, nor push on after one that stopped', () => {
    const hosts = [host('web-01', { role: 'web' })];
    expect(decideActions([stack('web', 'role:web', 3, { phase: 'running' })], hosts, none, NOW)).toEqual([]);
    expect(decideActions([stack('web', 'role:web', 3, { phase: 'stopped' })], hosts, none, NOW)).toEqual([]);
  });

  it('takes a host the rollout applied as done until its heartbeat says so', () => {
    const rows = new Map<string, HostRow>([['web-01', { hostname: 'web-01', status: 'ok', changed: true }]]);
    expect(
      decideActions([stack('web', 'role:web', 3, { rows })], [host('web-01', { role: 'web' }, [inSync('web', 2)])], none, NOW),
    ).toEqual([]);
  });

  it('removes a stack from a host it no longer reaches, from every host once removed, and an unknown one', () => {
    const hosts = [
      host('db-01', { role: 'db' }, [inSync('web', 3)]),
      host('web-01', { role: 'web' }, [inSync('gone', 1), inSync('ghost', 4)]),
    ];
    const actions = decideActions([web, stack('gone', 'role:web', 1, {}, true)], hosts, none, NOW);
    expect(actions).toEqual([
      { kind: 'remove', stack: 'web', hostname: 'db-01' },
      { kind: 'apply', stack: 'web', revision: 3, hostname: 'web-01' },
      { kind: 'remove', stack: 'gone', hostname: 'web-01' },
      { kind: 'remove', stack: 'ghost', hostname: 'web-01' },
    ]);
  });

  it('matches by hostname and by _all too', () => {
    const hosts = [host('web-01', { role: 'web' }), host('db-01', { role: 'db' })];
    const actions = decideActions([stack('one', 'db-01', 1), stack('every', '_all', 1)], hosts, none, NOW);
    expect(actions.map((action) => `${action.stack}@${action.hostname}`)).toEqual(['every@web-01', 'one@db-01', 'every@db-01']);
  });

  it('sends nothing to a host whose claim for the stack is in flight or backing off', () => {
    const inFlight: HostClaim = { revision: 2, job_id: 'j', until: NOW + 1, retry_after: NOW + 1, attempts: 1 };
    expect(decideActions([web], [host('web-01', { role: 'web' })], () => inFlight, NOW)).toEqual([]);
  });
});

describe('claims', () => {
  it('in flight until the deadline; the same revision again only after its back-off, another at once', () => {
    const first = nextClaim(undefined, 3, 'j1', NOW);
    expect(first).toEqual({ revision: 3, job_id: 'j1', until: NOW, retry_after: NOW, attempts: 1 });
    expect(mayClaim(first, 3, NOW - 1)).toBe(false);
    expect(mayClaim(first, 3, NOW)).toBe(true);
    const second = nextClaim(first, 3, 'j2', NOW + 10);
    expect(second.attempts).toBe(2);
    expect(mayClaim(second, 3, NOW + 10 + backoffMs(2) - 1)).toBe(false);
    expect(mayClaim(second, 3, NOW + 10 + backoffMs(2))).toBe(true);
    expect(mayClaim(second, 4, NOW + 10)).toBe(true);
    expect(nextClaim(second, 4, 'j3', NOW).attempts).toBe(1);
  });

  it('once its job ended, lets another revision or a removal go at once, the same revision after the next back-off', () => {
    const settled = settledClaim(nextClaim(undefined, 3, 'j1', NOW + 300_000), NOW);
    expect(mayClaim(settled, 0, NOW)).toBe(true);
    expect(mayClaim(settled, 4, NOW)).toBe(true);
    expect(mayClaim(settled, 3, NOW + backoffMs(2) - 1)).toBe(false);
    expect(mayClaim(settled, 3, NOW + backoffMs(2))).toBe(true);
  });

  it('backs off 0, 30 s, 60 s, … up to 10 minutes', () => {
    expect([1, 2, 3, 4, 10, 30].map(backoffMs)).toEqual([0, 30_000, 60_000, 120_000, 600_000, 600_000]);
  });
});
