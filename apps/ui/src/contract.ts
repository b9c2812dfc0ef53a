/**
 * What the contract says about the operations the dashboard offers: the permission each needs (`x-permission`),
 * read from the contract document itself, so a button is offered exactly when the gateway would take its call.
 * The build keeps only each operation's name and permission of the document in the bundle (scripts/build.cjs).
 */
import CONTRACT from '@fleet/contracts/contract.json';
import type { OperationName, Permission } from '@fleet/contracts';

interface OperationFacts {
  operationId?: OperationName;
  'x-permission'?: Permission | 'none';
}

type PathItems = Record<string, Record<string, OperationFacts>>;

/** Each operation's permission in a contract document (`none` where it declares none). */
export function permissionTable(document: { paths: unknown }): Map<OperationName | undefined, Permission | 'none'> {
  return new Map(
    Object.values(document.paths as PathItems)
      .flatMap((item) => Object.values(item))
      .filter((operation) => operation.operationId !== undefined)
      .map((operation) => [operation.operationId, operation['x-permission'] ?? 'none']),
  );
}

const PERMISSION_OF = permissionTable(CONTRACT);

/** The permission operation `name` needs; `none` when any valid key may call it. */
export function permissionOf(name: OperationName): Permission | 'none' {
  const permission = PERMISSION_OF.get(name);
  if (permission === undefined) throw new Error(`the contract has no operation ${name}`);
  return permission;
}

/** The permission of an operation named by a job record (a plain string); undefined when the contract has none of that name. */
export function knownPermissionOf(name: string): Permission | 'none' | undefined {
  return PERMISSION_OF.get(name as OperationName);
}
