import type { Request } from 'express';
import { operationSpec } from '@fleet/contracts/operations';
import type { Caller } from '../../auth/middleware';
import { statusOf } from '../../test-app';
import { requestedRollout } from './rollout-answers';

const restart = operationSpec('docker.container.restart');
const caller = (permissions: string[]) => ({ sub: 'k', jti: 'j', role: 'custom', permissions }) as unknown as Caller;
const query = (values: Record<string, unknown>) => ({ query: values }) as unknown as Request;

describe('requestedRollout', () => {
  it('is undefined for a plain call: it goes on as before', () => {
    expect(requestedRollout(restart, query({ timeout: 30 }), caller(['docker:write']), false)).toBeUndefined();
  });

  it('lets an exec gate through only with docker:exec, as an exec', () => {
    const gate = query({ health_cmd: 'true' });
    expect(statusOf(() => requestedRollout(restart, gate, caller(['docker:write']), false))).toBe(403);
    expect(requestedRollout(restart, gate, caller(['docker:write', 'docker:exec']), false)?.health).toEqual({
      check: 'exec',
      cmd: ['true'],
    });
  });

  it('refuses waves on a stream and a gate on an operation that leaves no container (400)', () => {
    expect(statusOf(() => requestedRollout(restart, query({ batch: '1' }), caller(['docker:write']), true))).toBe(400);
    const remove = operationSpec('docker.container.remove');
    expect(statusOf(() => requestedRollout(remove, query({ health: 'running' }), caller(['docker:write']), false))).toBe(400);
    expect(statusOf(() => requestedRollout(remove, query({ batch: '1' }), caller(['docker:write']), false))).toBe(200);
  });
});
