import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deployBody, renderStack, renderStackList } from './commands/stack';
import { UsageError } from './exit';

describe('fleet stack', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fleet-stack-'));
  const file = path.join(dir, 'compose.yaml');
  const compose = 'services:\n  web:\n    image: nginx:1.27\n';
  writeFileSync(file, compose);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sends the compose file as it is on disk, and only the policy flags given', () => {
    expect(deployBody({ file, name: 'web', target: 'role:web' })).toEqual({ compose, target: 'role:web' });
    expect(deployBody({ file, name: 'web', target: 'role:web', batch: '1', health: 'healthy', onDrift: 'repair', pause: 0 })).toEqual({
      compose,
      target: 'role:web',
      rollout: { batch: '1', health: 'healthy', pause: 0 },
      on_drift: 'repair',
    });
  });

  it('is a usage error when the compose file cannot be read', () => {
    expect(() => deployBody({ file: path.join(dir, 'nope.yaml'), name: 'web', target: 'role:web' })).toThrow(UsageError);
  });

  it('prints the list and a stack with its hosts and revisions', () => {
    const counts = { in_sync: 2, drifted: 1, pending: 0, failed: 0, offline: 0 };
    expect(renderStackList({ stacks: [{ name: 'web', target: 'role:web', revision: 3, hosts: counts }] })).toMatch(
      /web\s+role:web\s+3\s+2\s+1/,
    );
    const text = renderStack({
      name: 'web',
      target: 'role:web',
      on_drift: 'report',
      rollout: {},
      revision: 2,
      revisions: [
        { revision: 2, created_at: 't2', created_by: 'ci', digest: 'd', images: ['nginx:1.26'], job_id: 'j2', rolled_back_from: 1 },
      ],
      hosts: [{ hostname: 'web-02', state: 'drifted', revision: 2, drift: [{ service: 'web', what: 'container removed' }] }],
    });
    expect(text).toContain('web-02');
    expect(text).toContain('web: container removed');
    expect(text).toContain('rollback to 1');
  });
});
