import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { CONTRACT_PATH, loadContract, OPERATIONS } from './operations';

describe('the contract', () => {
  it('has generated types in step with openapi.yaml (run `npm run contracts:generate`)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'contract-'));
    try {
      const out = path.join(dir, 'generated.ts');
      execFileSync(
        path.join(__dirname, '../../../node_modules/.bin/openapi-typescript'),
        [CONTRACT_PATH, '-o', out, '--default-non-nullable', 'false'],
        { stdio: 'pipe' },
      );
      expect(readFileSync(path.join(__dirname, 'generated.ts'), 'utf8')).toBe(readFileSync(out, 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has contract.json in step with openapi.yaml (run `npm run contracts:generate`)', () => {
    expect(loadContract()).toEqual(YAML.parse(readFileSync(CONTRACT_PATH, 'utf8')));
  });

  it('names each operation once, with a permission, under a unique method and path', () => {
    const names = OPERATIONS.map((op) => op.name);
    expect(new Set(names).size).toBe(names.length);
    const routes = OPERATIONS.map((op) => `${op.method} ${op.path}`);
    expect(new Set(routes).size).toBe(routes.length);
    for (const op of OPERATIONS) {
      if (op.nodeTargeted) {
        expect({ name: op.name, permission: op.permission }).toEqual({
          name: op.name,
          permission: expect.stringMatching(/^(docker:(read|read-data|write|exec)|stack:(read|write))$/),
        });
        expect(op.name).toMatch(/^(docker|stack)\.[a-z]+\.[a-z]+(-[a-z]+)*$/);
        // A GET never changes engine state (a POST may not either: wait, for one).
        if (op.method === 'get') expect({ name: op.name, mutating: op.mutating }).toEqual({ name: op.name, mutating: false });
      }
    }
  });
});
