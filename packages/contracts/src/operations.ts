import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { operations } from './generated';
import { PERMISSIONS, type Permission } from './permissions';

/**
 * The operation registry. Each operation is named once, in the OpenAPI document:
 * its operationId is the job's operation name, `x-permission` the key permission
 * it needs and `x-mutating` whether it may change engine state. Everything here
 * is read from the document, so the contract stays the single source of truth.
 */
export const CONTRACT_PATH = path.join(__dirname, '..', 'openapi.yaml');

export type OperationName = keyof operations;
/** Operations that run on agents: everything under `/node/{target}/...`. */
export type NodeOperationName = Extract<OperationName, `docker.${string}`>;

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface OperationSpec {
  name: OperationName;
  method: HttpMethod;
  /** The OpenAPI path, e.g. `/node/{target}/container/docker/{id}/stop`. */
  path: string;
  permission: Permission | 'none';
  mutating: boolean;
  nodeTargeted: boolean;
  /** The operation declares a request body. */
  hasBody: boolean;
}

const HTTP_METHODS: readonly HttpMethod[] = ['get', 'post', 'put', 'patch', 'delete'];

export function loadContract(): Record<string, unknown> {
  return YAML.parse(readFileSync(CONTRACT_PATH, 'utf8')) as Record<string, unknown>;
}

export function readOperations(contract: Record<string, unknown>): OperationSpec[] {
  const paths = contract.paths as Record<string, Record<string, Record<string, unknown>>>;
  return Object.entries(paths).flatMap(([openApiPath, item]) =>
    HTTP_METHODS.filter((method) => item[method]).map((method) => toSpec(openApiPath, method, item[method])),
  );
}

function toSpec(openApiPath: string, method: HttpMethod, op: Record<string, unknown>): OperationSpec {
  const name = op.operationId as OperationName;
  const permission = op['x-permission'];
  if (permission !== 'none' && !PERMISSIONS.includes(permission as Permission)) {
    throw new Error(`contract: ${name} has unknown x-permission '${String(permission)}'`);
  }
  if (typeof op['x-mutating'] !== 'boolean') throw new Error(`contract: ${name} lacks a boolean x-mutating`);
  return {
    name,
    method,
    path: openApiPath,
    permission: permission as Permission | 'none',
    mutating: op['x-mutating'],
    nodeTargeted: openApiPath.startsWith('/node/{target}/'),
    hasBody: op.requestBody !== undefined,
  };
}

export const OPERATIONS: readonly OperationSpec[] = readOperations(loadContract());

export function operationSpec(name: OperationName): OperationSpec {
  const spec = OPERATIONS.find((op) => op.name === name);
  if (!spec) throw new Error(`operation ${name} is not in the contract`);
  return spec;
}

/** Request fields that steer the job itself rather than the Docker call. */
type ControlParam = 'timeout' | 'async' | 'target';
type PathOf<Op> = Op extends { parameters: { path: infer P } } ? Omit<P, ControlParam> : unknown;
type QueryOf<Op> = Op extends { parameters: { query?: infer Q } } ? Omit<NonNullable<Q>, ControlParam> : unknown;
type BodyOf<Op> = Op extends { requestBody: { content: { 'application/json': infer B } } } ? { body: B } : unknown;

/** What the gateway sends an agent for one operation: path + query parameters and the body, as the contract types them. */
export type OperationInput<N extends OperationName> = PathOf<operations[N]> & QueryOf<operations[N]> & BodyOf<operations[N]>;
