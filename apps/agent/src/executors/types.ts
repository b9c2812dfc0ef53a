import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { NodeOperationName, OperationInput } from '@fleet/contracts/operations';

export interface ExecutionContext {
  docker: Docker;
  /** Epoch ms; long operations must give up by then. */
  deadline: number;
  signal: AbortSignal;
  log: Logger;
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
