import path from 'node:path';
import CONTRACT_DOCUMENT from './contract.json';
import type { operations } from './generated';
import { PERMISSIONS, type Permission } from './permissions';

/**
 * The operation registry. Each operation is named once, in the OpenAPI document:
 * its operationId is the job's operation name, `x-permission` the key permission
 * it needs, `x-mutating` whether it may change engine state, `x-stream-switch`
 * the boolean query parameter that turns its answer into a server-sent-event
 * stream, `x-secret-header` the header carrying a credential for the agents.
 * Parameters marked `x-job-control` steer the job rather than the Docker call.
 * `x-host-permission` is the permission needed on top when its parameters reach
 * the host (host-access.ts says when), `x-long-running` whether it may hold an
 * engine call open until its deadline. Everything here is read from the
 * document, so the contract stays the single source of truth.
 */
export const CONTRACT_PATH = path.join(__dirname, '..', 'openapi.yaml');

export type OperationName = keyof operations;
/** Operations that run on agents: everything under `/node/{target}/...`. */
export type NodeOperationName = Extract<OperationName, `docker.${string}` | `stack.host.${string}`>;
/** The gateway's own operations: jobs, agents, keys, feeds, audit, health, docs, metrics. */
export type GatewayOperationName = Exclude<OperationName, NodeOperationName>;

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface OperationSpec {
  name: OperationName;
  method: HttpMethod;
  /** The OpenAPI path, e.g. `/node/{target}/container/docker/{id}/stop`. */
  path: string;
  permission: Permission | 'none';
  mutating: boolean;
  /** Needed on top of `permission` when the request reaches the host (host-access.ts). */
  hostPermission?: Permission;
  /** Waits on something outside the fleet (a container's exit, an event, a command): runs on its own slots. */
  longRunning: boolean;
  nodeTargeted: boolean;
  /** Answered without an API key (`security: []`): health, docs, metrics, an agent's join. */
  public: boolean;
  /** The operation declares a request body. */
  hasBody: boolean;
  /** Every success answer is a server-sent-event stream (`system events`). */
  alwaysStreams: boolean;
  /** The boolean query parameter that, when true, makes the answer a server-sent-event stream (`follow` for logs). */
  streamSwitch?: string;
  /** The request header carrying a credential for the agents (`X-Registry-Auth`): held in memory, never stored or logged. */
  secretHeader?: string;
  /**
   * The media type of a request body that is a file (`application/x-tar`), not JSON: the gateway streams it into
   * the upload store under the job id and every targeted agent reads it from there (README "File transfers").
   */
  uploadMediaType?: string;
  /**
   * The media type of a success answer that is a file (`application/x-tar`): one host's bytes, streamed back as
   * they come, so the operation runs on a single host (a hostname or `_any`).
   */
  downloadMediaType?: string;
}

/** The schema facts read from a parameter: what the gateway and the CLI need to know of a number or a flag. */
interface ParameterSchema {
  type?: string;
  minimum?: number;
  maximum?: number;
  default?: unknown;
}

export interface ParameterObject {
  name: string;
  in: string;
  required?: boolean;
  schema?: ParameterSchema;
  /** Instead of `schema`: the parameter is sent as text of this media type (`application/json`). */
  content?: Record<string, { schema?: Record<string, unknown> }>;
  'x-job-control'?: unknown;
  $ref?: string;
}

export type Document = Record<string, unknown> & {
  paths: Record<string, Record<string, unknown> & { parameters?: ParameterObject[] }>;
  components?: Record<string, Record<string, unknown>>;
};

const HTTP_METHODS: readonly HttpMethod[] = ['get', 'post', 'put', 'patch', 'delete'];
const EVENT_STREAM = 'text/event-stream';
const JSON_MEDIA = 'application/json';
/** The file media types a request body or an answer may have (a tar in both directions). */
const FILE_MEDIA_TYPES: readonly string[] = ['application/x-tar'];

/** The contract document, shared: read it, never change it (loadContract() gives a copy to change). */
export const CONTRACT: Readonly<Record<string, unknown>> = CONTRACT_DOCUMENT;

/**
 * The contract document. It is read from `contract.json`, which `npm run contracts:generate` writes from
 * openapi.yaml (a unit test keeps them equal): no YAML is parsed at run time, and the build bundles the
 * document into each program. Every caller gets its own copy to change at will.
 */
export function loadContract(): Record<string, unknown> {
  return structuredClone(CONTRACT_DOCUMENT) as Record<string, unknown>;
}

/** Follows a local `#/components/<group>/<name>` reference. */
function deref<T>(contract: Document, value: T & { $ref?: string }): T {
  let current = value;
  while (current.$ref) {
    const [, , group, name] = current.$ref.split('/');
    current = contract.components?.[group]?.[name] as T & { $ref?: string };
    if (!current) throw new Error(`contract: unresolved reference ${value.$ref}`);
  }
  return current;
}

export function readOperations(contract: Record<string, unknown>): OperationSpec[] {
  const document = contract as Document;
  return Object.entries(document.paths).flatMap(([openApiPath, item]) =>
    HTTP_METHODS.filter((method) => item[method]).map((method) => toSpec(document, openApiPath, method)),
  );
}

/** An operation's parameters: its path's, overridden by its own of the same name and place, references resolved. */
export function parametersOf(contract: Document, openApiPath: string, method: HttpMethod): ParameterObject[] {
  const item = contract.paths[openApiPath];
  const op = item[method] as { parameters?: ParameterObject[] };
  const byKey = new Map<string, ParameterObject>();
  for (const raw of [...(item.parameters ?? []), ...(op.parameters ?? [])]) {
    const param = deref(contract, raw);
    byKey.set(`${param.in}:${param.name.toLowerCase()}`, param);
  }
  return [...byKey.values()];
}

/** The media types of each success (2xx) answer. */
function successMediaTypes(contract: Document, op: Record<string, unknown>): string[][] {
  const responses = (op.responses ?? {}) as Record<string, { content?: Record<string, unknown>; $ref?: string }>;
  return Object.entries(responses)
    .filter(([status]) => /^2\d\d$/.test(status))
    .map(([, response]) => Object.keys(deref(contract, response).content ?? {}));
}

function toSpec(contract: Document, openApiPath: string, method: HttpMethod): OperationSpec {
  const op = contract.paths[openApiPath][method] as Record<string, unknown>;
  const name = op.operationId as OperationName;
  const permission = op['x-permission'];
  if (permission !== 'none' && !PERMISSIONS.includes(permission as Permission)) {
    throw new Error(`contract: ${name} has unknown x-permission '${String(permission)}'`);
  }
  if (typeof op['x-mutating'] !== 'boolean') throw new Error(`contract: ${name} lacks a boolean x-mutating`);
  const params = parametersOf(contract, openApiPath, method);
  const media = successMediaTypes(contract, op);
  const alwaysStreams = media.length > 0 && media.every((types) => types.length > 0 && types.every((type) => type === EVENT_STREAM));
  const canStream = media.some((types) => types.includes(EVENT_STREAM));
  const hostPermission = op['x-host-permission'];
  if (hostPermission !== undefined && !PERMISSIONS.includes(hostPermission as Permission)) {
    throw new Error(`contract: ${name} has unknown x-host-permission '${String(hostPermission)}'`);
  }
  return {
    name,
    method,
    path: openApiPath,
    permission: permission as Permission | 'none',
    mutating: op['x-mutating'],
    ...(hostPermission === undefined ? {} : { hostPermission: hostPermission as Permission }),
    longRunning: op['x-long-running'] === true,
    nodeTargeted: openApiPath.startsWith('/node/{target}/'),
    public: Array.isArray(op.security) && op.security.length === 0,
    hasBody: op.requestBody !== undefined,
    alwaysStreams,
    ...optional('streamSwitch', readStreamSwitch(name, op['x-stream-switch'], params, { alwaysStreams, canStream })),
    ...optional('secretHeader', readSecretHeader(name, op['x-secret-header'], params)),
    ...optional('uploadMediaType', readUploadMediaType(name, op.requestBody as { content?: Record<string, unknown> } | undefined)),
    ...optional('downloadMediaType', readDownloadMediaType(name, media)),
  };
}

/** A request body is either JSON or exactly one file media type. */
function readUploadMediaType(name: string, requestBody: { content?: Record<string, unknown> } | undefined): string | undefined {
  const types = Object.keys(requestBody?.content ?? {});
  const files = types.filter((type) => FILE_MEDIA_TYPES.includes(type));
  if (files.length === 0) return undefined;
  if (types.length !== 1)
    throw new Error(`contract: ${name}'s request body is a file (${files.join(', ')}) and may have no other media type`);
  return files[0];
}

/** An operation answers a file on every success, or never; a file answer has no JSON or stream alternative. */
function readDownloadMediaType(name: string, media: string[][]): string | undefined {
  const files = media.flat().filter((type) => FILE_MEDIA_TYPES.includes(type));
  if (files.length === 0) return undefined;
  if (!media.every((types) => types.length === 1 && types[0] === files[0])) {
    throw new Error(
      `contract: ${name} answers with ${files[0]}, so every success answer must be only that (no ${JSON_MEDIA}, no ${EVENT_STREAM}, no ` +
        `async 202)`,
    );
  }
  return files[0];
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/**
 * `x-stream-switch` names a boolean query parameter of the operation. An
 * operation that may answer with a stream but need not must name one; one
 * that always streams, or never, must not.
 */
function readStreamSwitch(
  name: string,
  value: unknown,
  params: ParameterObject[],
  streaming: { alwaysStreams: boolean; canStream: boolean },
): string | undefined {
  const switchable = streaming.canStream && !streaming.alwaysStreams;
  if (value === undefined) {
    if (switchable) throw new Error(`contract: ${name} may answer with text/event-stream but has no x-stream-switch`);
    return undefined;
  }
  if (!switchable)
    throw new Error(
      `contract: ${name} has x-stream-switch but ${streaming.alwaysStreams ? 'always' : 'never'} answers with text/event-stream`,
    );
  const param = params.find((candidate) => candidate.in === 'query' && candidate.name === value);
  if (param?.schema?.type !== 'boolean')
    throw new Error(`contract: ${name}'s x-stream-switch '${String(value)}' is not a boolean query parameter of it`);
  return param.name;
}

/** `x-secret-header` names a header parameter of the operation. */
function readSecretHeader(name: string, value: unknown, params: ParameterObject[]): string | undefined {
  if (value === undefined) return undefined;
  const header =
    typeof value === 'string'
      ? params.find((param) => param.in === 'header' && param.name.toLowerCase() === value.toLowerCase())
      : undefined;
  if (!header) throw new Error(`contract: ${name}'s x-secret-header '${String(value)}' is not a header parameter of it`);
  return header.name;
}

const DOCUMENT = CONTRACT as Document;

export const OPERATIONS: readonly OperationSpec[] = readOperations(DOCUMENT);

/** Looked up on every request and every job: indexed once. */
const OPERATIONS_BY_NAME: ReadonlyMap<string, OperationSpec> = new Map(OPERATIONS.map((op) => [op.name, op]));

/** The operation of that name, or undefined for a name the contract does not have (e.g. read from a stored job). */
export function findOperation(name: string): OperationSpec | undefined {
  return OPERATIONS_BY_NAME.get(name);
}

export function operationSpec(name: OperationName): OperationSpec {
  const spec = findOperation(name);
  if (!spec) throw new Error(`operation ${name} is not in the contract`);
  return spec;
}

/** Whether a call of `spec` with these query values (booleans, or their string form) is answered as a server-sent-event stream. */
export function answersWithStream(spec: OperationSpec, query: Record<string, unknown>): boolean {
  return spec.alwaysStreams || (spec.streamSwitch !== undefined && String(query[spec.streamSwitch]) === 'true');
}

/** What kind of job one call of an operation is: the per-operation facts the gateway and the agents both act on. */
export interface JobTraits {
  /** May change engine state (`x-mutating`); an operation the contract lacks counts as one. */
  mutating: boolean;
  /** This call answers with a server-sent-event stream (the operation always streams, or its switch is on). */
  streaming: boolean;
  /** The answer is one host's file (README "File transfers"). */
  download: boolean;
  /** The request body is a file in the upload store. */
  upload: boolean;
  /** May hold an engine call open until its deadline (`x-long-running`, or a stream): it runs on slots of its own. */
  longRunning: boolean;
  /**
   * A plain read: a node operation, not mutating, not a stream, not a download. Running it again changes nothing on the
   * engine and repeats no chunk or byte to a client, so the agent runs it without a claim and the gateway sends it before
   * its record is stored.
   */
  plainRead: boolean;
}

/** The traits of one call of `operation` (a name read from a job may be one the contract lacks). */
export function jobTraits(operation: string, call: { streaming: boolean }): JobTraits {
  const spec = findOperation(operation);
  const mutating = spec?.mutating ?? true;
  const download = spec?.downloadMediaType !== undefined;
  return {
    mutating,
    streaming: call.streaming,
    download,
    upload: spec?.uploadMediaType !== undefined,
    longRunning: spec?.longRunning === true || call.streaming,
    plainRead: spec?.nodeTargeted === true && !mutating && !call.streaming && !download,
  };
}

function queryParameterSchema(name: OperationName, param: string): ParameterSchema {
  const spec = operationSpec(name);
  const found = parametersOf(DOCUMENT, spec.path, spec.method).find((candidate) => candidate.in === 'query' && candidate.name === param);
  if (!found?.schema) throw new Error(`contract: ${name} has no query parameter '${param}'`);
  return found.schema;
}

/** The longest long-poll of `GET /job/{job_id}?wait=`, in seconds: its schema's maximum. */
export const JOB_WAIT_MAX_SECONDS = readNumber('job.get wait maximum', queryParameterSchema('job.get', 'wait').maximum);

function readNumber(what: string, value: unknown): number {
  if (typeof value !== 'number') throw new Error(`contract: ${what} must be a number`);
  return value;
}

/** The shared parameters marked `x-job-control`, by name. */
function readJobControls(contract: Document): Map<string, ParameterObject> {
  const shared = Object.values(contract.components?.parameters ?? {}) as ParameterObject[];
  return new Map(shared.filter((param) => param['x-job-control'] === true).map((param) => [param.name, param]));
}

const JOB_CONTROLS = readJobControls(DOCUMENT);

/**
 * Request fields that steer the job itself (where it runs, its deadline,
 * whether to wait) rather than the Docker call: never handed to an executor.
 */
export const JOB_CONTROL_PARAMS: ReadonlySet<string> = new Set(JOB_CONTROLS.keys());

/** The job's deadline in seconds: the `timeout` job control's minimum, maximum and default. */
export const JOB_TIMEOUT_SECONDS = readTimeout(JOB_CONTROLS.get('timeout')?.schema);

function readTimeout(schema: ParameterSchema = {}): { minimum: number; maximum: number; default: number } {
  return {
    minimum: readNumber('timeout minimum', schema.minimum),
    maximum: readNumber('timeout maximum', schema.maximum),
    default: readNumber('timeout default', schema.default),
  };
}

/** JOB_CONTROL_PARAMS for the compiler, which cannot read YAML; checked against the contract here, at load. */
const TYPED_CONTROL_PARAMS = [
  'target',
  'timeout',
  'async',
  'Prefer',
  'Idempotency-Key',
  'batch',
  'canary',
  'max_failures',
  'pause',
  'health',
  'health_delay',
  'health_cmd',
  'order',
  'seed',
  'dry_run',
] as const;
type ControlParam = (typeof TYPED_CONTROL_PARAMS)[number];
if (TYPED_CONTROL_PARAMS.length !== JOB_CONTROL_PARAMS.size || !TYPED_CONTROL_PARAMS.every((param) => JOB_CONTROL_PARAMS.has(param))) {
  throw new Error(
    `contract: the x-job-control parameters are ${[...JOB_CONTROL_PARAMS].join(', ')}, the types expect ${TYPED_CONTROL_PARAMS.join(', ')}`,
  );
}

type PathOf<Op> = Op extends { parameters: { path: infer P } } ? Omit<P, ControlParam> : unknown;
type QueryOf<Op> = Op extends { parameters: { query?: infer Q } } ? Omit<NonNullable<Q>, ControlParam> : unknown;
type BodyOf<Op> = Op extends { requestBody: { content: { 'application/json': infer B } } } ? { body: B } : unknown;

/** What the gateway sends an agent for one operation: path + query parameters and the body, as the contract types them. */
export type OperationInput<N extends OperationName> = PathOf<operations[N]> & QueryOf<operations[N]> & BodyOf<operations[N]>;
