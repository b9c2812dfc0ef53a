import type { JobRecord } from '@fleet/contracts/protocol';
import { ROLES } from '@fleet/contracts/permissions';
import { statusOf } from '../test-app';
import { KeyScope } from '../targets/scope';
import { JobReadAccess } from './access';
import { planRollout } from './rollout-plan';

const LABELS: Record<string, Record<string, string>> = { 'db-01': { role: 'db' }, 'web-01': { role: 'web' }, 'web-02': { role: 'web' } };
const labels = { labelsOf: (hostname: string) => LABELS[hostname] };

function job(operation: string, hosts: string[]): JobRecord {
  return {
    job_id: 'j1',
    operation: operation as JobRecord['operation'],
    target: '_all',
    hosts,
    caller: 'admin-key',
    created_at: '',
    deadline: '',
  };
}

describe('JobReadAccess', () => {
  const exec = job('docker.container.exec', ['db-01', 'web-01', 'web-02']);

  it('needs the permission of the job operation: a viewer may not read exec output (403), an operator may', () => {
    expect(statusOf(() => new JobReadAccess(ROLES.viewer, KeyScope.of(undefined, labels)).check(exec))).toBe(403);
    expect(new JobReadAccess(ROLES.viewer, KeyScope.of(undefined, labels)).filter(exec)).toBeUndefined();
    expect(new JobReadAccess(ROLES.operator, KeyScope.of(undefined, labels)).check(exec)).toEqual(exec);
  });

  it('cuts a job to the hosts inside the scope, and a job with none inside is 404 (before any permission check)', () => {
    expect(new JobReadAccess(ROLES.operator, KeyScope.of('role:web', labels)).check(exec).hosts).toEqual(['web-01', 'web-02']);
    expect(
      statusOf(() => new JobReadAccess(ROLES.viewer, KeyScope.of('role:web', labels)).check(job('docker.container.exec', ['db-01']))),
    ).toBe(404);
    expect(new JobReadAccess(ROLES.operator, KeyScope.of('web-02', labels)).check(exec).hosts).toEqual(['web-02']);
  });

  it('treats a host it has never heard of as outside a label scope, and an operation not in the contract as unreadable', () => {
    expect(
      statusOf(() => new JobReadAccess(ROLES.admin, KeyScope.of('role:web', labels)).check(job('docker.container.list', ['gone-01']))),
    ).toBe(404);
    expect(
      statusOf(() => new JobReadAccess(ROLES.admin, KeyScope.of(undefined, labels)).check(job('docker.removed.verb', ['web-01']))),
    ).toBe(403);
  });

  it('never shows the parameters a rerun replays, to any key, whole or cut to a scope', () => {
    const replayable = { ...exec, replay: { params: { id: 'app', body: { Cmd: ['id'] } }, timeout_seconds: 30 } };
    expect(new JobReadAccess(ROLES.admin, KeyScope.of(undefined, labels)).check(replayable)).not.toHaveProperty('replay');
    expect(new JobReadAccess(ROLES.admin, KeyScope.of('role:web', labels)).check(replayable)).not.toHaveProperty('replay');
    expect(new JobReadAccess(ROLES.admin, KeyScope.of(undefined, labels)).filter(replayable)).not.toHaveProperty('replay');
  });

  it("shows an inspect's environment values only to a key with docker:read-data, whoever ran the job", () => {
    const inspect = { ...job('docker.container.inspect', ['web-01']), status: 'ok' as const };
    const row = { hostname: 'web-01', status: 'ok' as const, changed: false, container: { Config: { Env: ['TOKEN=s3cret'] } } };
    const view = { ...inspect, results: [row] };
    const viewer = new JobReadAccess(ROLES.viewer, KeyScope.of(undefined, labels));
    expect(viewer.present(view).results[0]).toMatchObject({ container: { Config: { Env: ['TOKEN=<redacted>'] } } });
    expect(viewer.presentRow('docker.container.inspect', row)).toMatchObject({ container: { Config: { Env: ['TOKEN=<redacted>'] } } });
    expect(new JobReadAccess(ROLES.operator, KeyScope.of(undefined, labels)).present(view).results[0]).toBe(row);
  });

  it("cuts a rollout's waves and failed hosts to the scope, as it cuts the hosts", () => {
    const record = job('docker.container.restart', ['db-01', 'web-01', 'web-02']);
    record.rollout = planRollout(record.hosts, { batch: '2', pauseSeconds: 0, order: 'hostname' });
    record.rollout.waves[0].failed = ['db-01', 'web-01'];
    const seen = new JobReadAccess(ROLES.operator, KeyScope.of('role:web', labels)).check(record);
    expect(seen.rollout?.waves.map((wave) => wave.hosts)).toEqual([['web-01'], ['web-02']]);
    expect(seen.rollout?.waves[0].failed).toEqual(['web-01']);
  });
});
