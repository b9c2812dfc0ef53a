import CONTRACT from '@fleet/contracts/contract.json';
import { OPERATIONS } from '@fleet/contracts/operations';
import { permissionOf, permissionTable } from './contract';

const { uiContractOf } = require('../../../scripts/build.cjs') as { uiContractOf: (document: unknown) => { paths: unknown } };

describe("the dashboard's reading of the contract", () => {
  it('gives every operation the permission the gateway enforces for it', () => {
    expect(OPERATIONS.length).toBeGreaterThan(50);
    for (const { name, permission } of OPERATIONS) expect([name, permissionOf(name)]).toEqual([name, permission]);
  });

  it('reads the same permissions from the slimmed contract the build puts in its bundle', () => {
    const slim = uiContractOf(CONTRACT);
    expect(JSON.stringify(slim).length).toBeLessThan(JSON.stringify(CONTRACT).length / 10);
    expect(permissionTable(slim)).toEqual(permissionTable(CONTRACT));
    expect(permissionTable(slim).size).toBe(OPERATIONS.length);
  });

  it('refuses an operation the contract does not have', () => {
    expect(() => permissionOf('docker.container.nope' as never)).toThrow('the contract has no operation docker.container.nope');
  });
});
