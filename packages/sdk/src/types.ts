import type { components, operations } from '@fleet/contracts';
import type { NodeOperationName, OperationInput, OperationName } from '@fleet/contracts/operations';
import type { NodeResult, NodeRow, SuccessBody } from '@fleet/contracts/results';

/** Types derived from the contract (`generated.ts`, openapi-typescript), so the SDK cannot drift from `openapi.yaml`. */
type Schemas = components['schemas'];

export type { NodeOperationName, NodeResult, NodeRow, OperationName, SuccessBody };

export type HostResult = Schemas['HostResult'];
export type NodeResponse = Schemas['NodeResponse'];
export type JobAccepted = Schemas['JobAccepted'];
export type Job = Schemas['Job'];
export type JobList = Schemas['JobList'];
export type JobStatus = Schemas['JobStatus'];
export type Rollout = Schemas['Rollout'];
export type RolloutWave = Schemas['RolloutWave'];
/** `POST /job/{id}/pause|resume|abort`: the rollout as it stands once the replica running it took the request. */
export type RolloutControlled = Schemas['RolloutControlled'];
/** The answer of a node call with `dry_run=true`: the resolved hosts and the wave plan; nothing was sent. */
export type DryRunPlan = Schemas['DryRunPlan'];
export type Agent = Schemas['Agent'];
export type AgentList = Schemas['AgentList'];
export type Enrollment = Schemas['Enrollment'];
export type AuditEntry = Schemas['AuditEntry'];
export type AuditList = Schemas['AuditList'];
export type RowStatus = Schemas['RowStatus'];
export type Labels = Schemas['Labels'];
/** Stacks (README "Stacks"): the body of a deploy or diff, its answer, a stack, the list, one revision's text. */
export type StackDeploy = Schemas['StackDeploy'];
export type StackDeployed = Schemas['StackDeployed'];
export type Stack = Schemas['Stack'];
export type StackList = Schemas['StackList'];
export type StackRevisionText = Schemas['StackRevisionText'];
export type StackRemoved = Schemas['StackRemoved'];
export type Whoami = SuccessBody<'whoami.get'>;
export type TargetHosts = SuccessBody<'target.resolve'>;
/** A key as `token.create` answers it: the key itself, shown once, and its claims. */
export type MintedKey = SuccessBody<'token.create'>;
export type KeyList = SuccessBody<'token.list'>;
/** A key's claims as `token.list` lists them (never the key). */
export type KeyRecord = KeyList['keys'][number];

/** Query parameters of operation `N` (the non-node ones: `job.list`, `audit.list`, …). */
export type QueryOf<N extends OperationName> = operations[N] extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

/** Path parameters, query parameters and `body` of node operation `N`, as the contract types them (no target, no job controls). */
export type NodeInput<N extends NodeOperationName> = OperationInput<N>;

/** How a node call runs: job controls and transport. */
export interface CallOptions {
  /** The job's deadline in seconds (1–300; the gateway's default is 30). Hosts still working then get a timeout row. */
  timeout?: number;
  /** Extra request headers, e.g. `{'X-Registry-Auth': …}` for pull and push. */
  headers?: Record<string, string>;
  /** Aborts the HTTP request (the job itself runs to its deadline). */
  signal?: AbortSignal;
}

/** Input is optional when the operation needs nothing (every field optional). */
export type CallArgs<N extends NodeOperationName> =
  object extends NodeInput<N> ? [input?: NodeInput<N>, options?: CallOptions] : [input: NodeInput<N>, options?: CallOptions];

/** A server-sent event of a streaming operation (`image pull?progress=true`, `system events`). */
export interface StreamEvent {
  event: string;
  // Each event's data is the gateway's JSON for that event (`job`, `progress`, `docker`, `end`).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
}

/** A file to upload (`image load`, `container archive-put`): streamed to the gateway as it is read. */
export type FileBody = ReadableStream<Uint8Array> | Uint8Array | Blob | AsyncIterable<Uint8Array>;

/** A file one host answered with (`image save`, `container export`, `container archive-get`), still streaming. */
export interface FileAnswer {
  jobId: string;
  /** The host the file comes from. */
  hostname: string;
  /** The response headers (e.g. `x-docker-container-path-stat` of an archive). */
  headers: Headers;
  /** The file's bytes as they come; it errors if the host fails midway (a partial file never ends cleanly). */
  body: ReadableStream<Uint8Array>;
}
