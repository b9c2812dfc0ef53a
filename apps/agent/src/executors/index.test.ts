/**
 * Every node operation in the contract has an executor (the table's type says so too; this checks the values), and a
 * case against the fake engine in its family's test file (`docker.image.pull` in `image/image.test.ts`), in a
 * `describe` named by its operationId (README "Adding a Docker operation").
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { OPERATIONS, type NodeOperationName } from '@fleet/contracts/operations';
import { EXECUTORS } from './index';
import type { Executor } from './types';

const NODE_OPERATIONS = OPERATIONS.filter((op) => op.nodeTargeted).map((op) => op.name as NodeOperationName);

/** `docker.image.pull` → `image/image.test.ts`. */
function familyTestFile(name: NodeOperationName): string {
  const family = name.split('.')[1];
  return path.join(__dirname, family, `${family}.test.ts`);
}

function hasFakeEngineCase(name: NodeOperationName): boolean {
  let source: string;
  try {
    source = readFileSync(familyTestFile(name), 'utf8');
  } catch {
    return false;
  }
  // The operation's top-level describe block, up to the next one, with at least one test in it.
  const blocks = source.split(/^(?=describe\()/m);
  return blocks.some((block) => block.startsWith(`describe('${name}', () => {`) && /^\s+it\(/m.test(block));
}

describe('the executor table', () => {
  it("covers the contract's node operations", () => {
    expect(NODE_OPERATIONS.length).toBeGreaterThan(50);
  });

  it.each(NODE_OPERATIONS)('%s has an agent executor', (name) => {
    expect(typeof EXECUTORS[name]).toBe('function');
  });

  it("names every node operation without a fake-engine case in its family's test file", () => {
    expect(NODE_OPERATIONS.filter((name) => !hasFakeEngineCase(name))).toEqual([]);
  });
});

// Rows are typed from the contract: `npm run typecheck` fails if either of these compiles.
// @ts-expect-error `containers` is a list of objects in the contract
export const containersNotAList: Executor<'docker.container.list'> = async () => ({ changed: false, containers: 'none' });
// @ts-expect-error every row says whether it changed the engine
export const rowWithoutChanged: Executor<'docker.container.wait'> = async () => ({ message: 'exited' });
