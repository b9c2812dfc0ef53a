/**
 * What node operations answer, derived from the contract's response schemas (generated.ts), so
 * the SDK's results and the agent's executors cannot drift from `openapi.yaml`.
 */
import type { components, operations } from './generated';
import type { NodeOperationName, OperationName } from './operations';

type HostResult = components['schemas']['HostResult'];
type JobAccepted = components['schemas']['JobAccepted'];
type JsonOf<R> = R extends { content: { 'application/json': infer B } } ? B : never;
type Responses<N extends OperationName> = operations[N]['responses'];
type SuccessStatus = 200 | 201 | 202;

/** The JSON bodies operation `N` answers with on success. */
export type SuccessBody<N extends OperationName> = {
  [S in keyof Responses<N>]: S extends SuccessStatus ? JsonOf<Responses<N>[S]> : never;
}[keyof Responses<N>];

/** What a synchronous call of node operation `N` answers: `{job_id, results}` with the operation's own row fields. */
export type NodeResult<N extends NodeOperationName> = Exclude<SuccessBody<N>, JobAccepted>;

/**
 * One row of `NodeResult<N>`: the contract's HostResult with operation `N`'s own fields (just HostResult for an operation that only
 * streams).
 */
export type NodeRow<N extends NodeOperationName> = [NodeResult<N>] extends [never]
  ? HostResult
  : NodeResult<N> extends { results: Array<infer R> }
    ? R
    : HostResult;

/** `T` without its index signature: only the fields the contract names. */
type Named<T> = { [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K] };

/** Row fields the agent's worker fills in around an executor's outcome. */
type WorkerField = 'hostname' | 'status' | 'error' | 'error_code' | 'duration_ms';

/**
 * What an executor of operation `N` reports on success: the row's named fields but those the
 * worker adds. A missing required field, or a named field of another type, does not compile.
 */
export type RowOutcome<N extends NodeOperationName> = N extends NodeOperationName ? Outcome<Named<NodeRow<N>>> : never;

type Outcome<Row> = { [K in keyof Row as K extends WorkerField ? never : K]: FreeForm<Row[K]> };

/**
 * The contract leaves the Engine's own objects free-form (`{[key: string]: unknown}`); any object
 * fills one there (a client library's interface types have no index signature).
 */
type FreeForm<T> = T extends readonly (infer E)[] ? FreeForm<E>[] : string extends keyof T ? object : T;
