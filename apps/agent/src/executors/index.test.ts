/**
 * Every node operation in the contract has an executor (the table's type says so too; this checks the values), and a
 * case against the fake engine in its family's test file (`docker.image.pull` in `image/image.test.ts`), in a
 * `describe` named by its operationId (README "Adding a Docker operation").
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { OPERATIONS, type NodeOperationName } from '@fleet/contracts/operations';
import { EXECUTORS } from './index';
import type { Executor } from './types';

const NODE_OPERATIONS = OPERATIONS.filter((op) => op.nodeTargeted).map((op) => op.name as NodeOperationName);

/** `docker.image.pull` → `image/image.test.ts`; `stack.host.apply` → `stack/stack.test.ts`. */
function familyTestFile(name: NodeOperationName): string {
  const [prefix, resource] = name.split('.');
  const family = prefix === 'docker' ? resource : prefix;
  return path.join(__dirname, family, `${family}.test.ts`);
}

/** Each family test file's top-level describe blocks (up to the next one), by the name they give. */
function describeBlocks(file: string): Map<string, string> {
  if (!existsSync(file)) return new Map();
  const blocks = readFileSync(file, 'utf8')
    .split(/^(?=describe\()/m)
    .slice(1);
  return new Map(blocks.map((block) => [/^describe\('([^']*)'/.exec(block)?.[1] ?? block.slice(0, 40), block]));
}

/** A describe named by the operation, with at least one test in it. */
function hasFakeEngineCase(name: NodeOperationName): boolean {
  const block = describeBlocks(familyTestFile(name)).get(name);
  return block !== undefined && /^\s+it\(/m.test(block);
}

const FAMILY_TEST_FILES = [...new Set(NODE_OPERATIONS.map(familyTestFile))];

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

  it("has no case in a family's test file for an operation the contract does not have", () => {
    const named = FAMILY_TEST_FILES.flatMap((file) => [...describeBlocks(file).keys()]);
    expect(named.filter((name) => !NODE_OPERATIONS.includes(name as NodeOperationName))).toEqual([]);
  });
});

// Rows are typed from the contract: `npm run typecheck` fails if either of these compiles.
// @ts-expect-error `containers` is a list of objects in the contract
export const containersNotAList: Executor<'docker.container.list'> = async () => ({ changed: false, containers: 'none' });
// @ts-expect-error every row says whether it changed the engine
export const rowWithoutChanged: Executor<'docker.container.wait'> = async () => ({ message: 'exited' });
