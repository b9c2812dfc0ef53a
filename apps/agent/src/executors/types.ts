import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { NodeOperationName, OperationInput } from '@fleet/contracts/operations';

export interface ExecutionContext {
  docker: Docker;
  /** Epoch ms; long operations must give up by then. */
  deadline: number;
  /** Aborted at the deadline, or when the gateway cancels a streaming job. */
  signal: AbortSignal;
  log: Logger;
  /** Streaming operations send chunks here (an SSE event name and its data). */
  emit(event: string, data: unknown): void;
  /** The job's credential, fetched from the gateway at run time; undefined when the caller sent none. */
  secret(): Promise<string | undefined>;
}

/** What an executor reports on success; the worker adds hostname and status. */
export interface Outcome {
  changed: boolean;
  message?: string;
  id?: string;
  [field: string]: unknown;
}

export type Executor<N extends NodeOperationName> = (input: OperationInput<N>, ctx: ExecutionContext) => Promise<Outcome>;

/** One executor per node operation in the contract: a missing one is a type error. */
export type ExecutorTable = { [N in NodeOperationName]: Executor<N> };
