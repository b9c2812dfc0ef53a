/** Every node operation in the contract has an executor (the table's type says so too; this checks the values). */
import { OPERATIONS, type NodeOperationName } from '@fleet/contracts/operations';
import { EXECUTORS } from './index';

describe('the executor table', () => {
  it.each(OPERATIONS.filter((op) => op.nodeTargeted).map((op) => [op.name]))('%s has an agent executor', (name) => {
    expect(typeof EXECUTORS[name as NodeOperationName]).toBe('function');
  });
});
