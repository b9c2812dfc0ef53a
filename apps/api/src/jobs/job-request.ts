import type { NodeOperationName } from '@fleet/contracts/operations';
import type { Logger } from 'pino';
import type { HealthGate, HostRow, JobRecord, Rollout, RolloutControl, RolloutControlReply, StreamChunk } from '@fleet/contracts/protocol';

export interface JobRequest {
  /** The job's id when the caller needs it before the job starts (an upload is stored under it); else a new one. */
  jobId?: string;
  operation: NodeOperationName;
  target: string;
  /** A rerun's hosts (each resolved as a hostname target, in the caller's scope) instead of the target's. */
  hosts?: string[];
  /** The job a rerun runs again. */
  rerunOf?: string;
  params: Record<string, unknown>;
  /** The parameters reach the host (host-access.ts) and the caller may do that: the job carries a signed grant. */
  hostAccess?: boolean;
  /** The caller holds `docker:host`: the sealed message says so, and the agents let it use host-level objects. */
  callerHost?: boolean;
  /** The job may hold an engine call open until its deadline (jobTraits' `longRunning`). */
  longRunning?: boolean;
  timeoutSeconds: number;
  caller: string;
  /** The API key's id: long-running jobs are counted per key. */
  keyId?: string;
  /** The API key's target scope, if it has one. */
  scope?: string;
  /** A credential the agents fetch at run time (never stored, never logged). */
  secret?: string;
  /** Set for streaming calls: receives every chunk an agent emits, tagged with its host. */
  onChunk?: (hostname: string, chunk: StreamChunk) => void;
  /** Called once the job exists and before any host can act on it (a stream announces the job first). */
  onCreated?: (record: JobRecord) => void;
  /** The request body is a file of this many bytes in the upload store, under the job id. */
  upload?: { bytes: number };
  /** The job answers with a file its host sends on `fleet.download.<job_id>.<hostname>`. */
  download?: boolean;
  /** A rollout's health gate, checked by each host's agent after its step (README "Rollouts"). */
  health?: HealthGate;
  /** A rollout's key as judged at its start: stored, so a replica taking it over checks it again (README "Rollouts"). */
  authority?: { permissions: string[]; expiresAt: number };
}

export interface StartedJob {
  record: JobRecord;
  /** Settles by the deadline with one row per expected host, sorted by hostname. */
  rows: Promise<HostRow[]>;
  /** Ends a streaming job early on every host (its client went away). */
  cancel(): void;
}

/** A rollout's job (rollout.ts): stored with its plan, then sent to one subset of its hosts at a time. */
export interface StagedJob {
  record: JobRecord;
  /**
   * Sends the job to `hosts` (some of the record's) with a deadline of their own, and settles with their rows by then;
   * `sent` is awaited once the broker has taken the job for every one of them.
   */
  runOn(hosts: string[], deadline: number, sent?: () => Promise<void>): Promise<HostRow[]>;
  /**
   * A wave taken over from another replica: the rows of `hosts` already stored, and the others' by `deadline`. With
   * `resend`, the job goes again to the hosts without a row: one that did get it runs it once all the same (the stream
   * drops a copy of the same job and host within its duplicate window, and the agent's claim of its row stops a second run).
   */
  collect(hosts: string[], deadline: number, resend: boolean): Promise<HostRow[]>;
  /** False once this replica lost the rollout's lease: another may run it now, so this one sends nothing more. */
  leaseHeld(): boolean;
  /** Stores the record again with the rollout's progress; `step` tells one save from the next. */
  saveProgress(rollout: Rollout, step: number): Promise<void>;
  /** Writes the rows of hosts never sent the job; a row already there stands. */
  skip(rows: HostRow[]): Promise<void>;
  /** Logs with the job's id and target. */
  log: Logger;
  /** Takes pause, resume and abort from any replica (controlRollout) until the returned function is called. */
  onControl(take: (control: RolloutControl) => RolloutControlReply): () => void;
  /** The rollout is over with these rows: its key's slot and its credential are let go, and it is counted once (metrics). */
  finish(rows: HostRow[]): void;
}
