import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { NodeOperationName, OperationInput } from '@fleet/contracts/operations';
import type { StreamChunkEvent } from '@fleet/contracts/protocol';
import type { RowOutcome } from '@fleet/contracts/results';
import type { HostStacks } from '../stacks/host-stacks';

/** The Engine calls executors make, and nothing else: dockerode satisfies it, a unit test's fake engine can too. */
type EngineCall =
  | 'createContainer'
  | 'createImage'
  | 'createNetwork'
  | 'createVolume'
  | 'df'
  | 'getEvents'
  | 'info'
  | 'listContainers'
  | 'listImages'
  | 'listNetworks'
  | 'listVolumes'
  | 'loadImage'
  | 'ping'
  | 'pruneContainers'
  | 'pruneImages'
  | 'pruneNetworks'
  | 'pruneVolumes'
  | 'version'
  // Demultiplexes the stdout/stderr frames of logs and exec; dials the one call dockerode lacks (volume remove with force).
  | 'modem';

export interface EngineClient extends Pick<Docker, EngineCall> {
  getContainer(id: string): EngineContainer;
  getImage(name: string): EngineImage;
  getNetwork(id: string): EngineNetwork;
  getVolume(name: string): EngineVolume;
}

export type EngineContainer = Pick<
  Docker.Container,
  | 'changes'
  | 'commit'
  | 'exec'
  | 'export'
  | 'getArchive'
  | 'inspect'
  | 'kill'
  | 'logs'
  | 'pause'
  | 'putArchive'
  | 'remove'
  | 'rename'
  | 'restart'
  | 'start'
  | 'stats'
  | 'stop'
  | 'top'
  | 'unpause'
  | 'update'
  | 'wait'
>;
export type EngineImage = Pick<Docker.Image, 'distribution' | 'history' | 'inspect' | 'push' | 'remove' | 'tag'>;
export type EngineNetwork = Pick<Docker.Network, 'connect' | 'disconnect' | 'inspect' | 'remove'>;
export type EngineVolume = Pick<Docker.Volume, 'inspect'>;

export interface ExecutionContext {
  docker: EngineClient;
  /** Epoch ms; long operations must give up by then. */
  deadline: number;
  /** Aborted at the deadline, or when the gateway cancels a streaming job. */
  signal: AbortSignal;
  log: Logger;
  /** Streaming operations send chunks here (an SSE event name and its data). */
  emit(event: StreamChunkEvent, data: unknown): void;
  /** The job's credential, fetched from the gateway at run time; undefined when the caller sent none. */
  secret(): Promise<string | undefined>;
  /** Output an executor keeps per stream for its row (FLEET_AGENT_MAX_OUTPUT_BYTES); past it, it counts. */
  maxOutputBytes: number;
  /** The job's request body when it is a file (contract: a file media type), read from the gateway as it is taken. */
  upload(): NodeJS.ReadableStream;
  /** Sends the file the job answers with (contract: a file answer) to the caller, with the headers it goes with; answers its bytes. */
  sendFile(source: AsyncIterable<Buffer>, headers?: Record<string, string>): Promise<number>;
  /** The stacks this host keeps true (README "Stacks on the agents"); absent where an executor runs outside an agent (the bench). */
  stacks?: HostStacks;
}

/** What an executor of operation `N` reports on success, typed from the contract's row; the worker adds hostname and status. */
export type Outcome<N extends NodeOperationName> = RowOutcome<N>;

export type Executor<N extends NodeOperationName> = (input: OperationInput<N>, ctx: ExecutionContext) => Promise<Outcome<N>>;

/** One executor per node operation in the contract: a missing one is a type error. */
export type ExecutorTable = { [N in NodeOperationName]: Executor<N> };
