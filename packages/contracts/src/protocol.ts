/**
 * The wire protocol between gateway and agents over NATS. Shared by both sides
 * (the "common" part), so a subject or record shape is defined exactly once.
 *
 * Jobs: the gateway stores the job record in JOB_RECORDS_STREAM, then publishes
 * one dispatch message per expected host on `fleet.job.<shard>.<hostname>`;
 * each agent consumes only its own subject through a durable consumer on its
 * shard's stream (jobsStreamOf). Results: an agent claims `<job_id>.<hostname>` in RESULTS_BUCKET
 * with an atomic create (that claim is what makes execution at-most-once across
 * redeliveries), then writes its final row there. A read needs no claim (running it
 * twice harms nothing): its row is written by an atomic create, so the first one stays.
 * Before the durable write, the agent also publishes the row on core NATS
 * (earlyRowSubject) so a waiting gateway hears it at once. The hostname of a row is read
 * from the key or subject it was published on — never from the payload.
 */
import type { components } from './generated';
import type { HostGrant } from './host-grant';
import type { NodeOperationName } from './operations';

/**
 * Dispatch messages are spread over this many streams by a hash of the hostname. A filtered
 * consumer reads past every other host's messages on its stream to find its own, so with one
 * stream a fan-out to N hosts costs the broker ~N² reads; with S streams, ~N²/S.
 */
export const JOB_SHARDS = 16;
const JOBS_STREAM_PREFIX = 'FLEET_JOBS';
export const JOB_RECORDS_STREAM = 'FLEET_JOB_RECORDS';
export const RESULTS_BUCKET = 'fleet_results';
export const AGENTS_BUCKET = 'fleet_agents';
export const DRAINS_BUCKET = 'fleet_drains';
/**
 * Which agents an admin accepted, with the labels the admin gave them: written by the gateway
 * only (an agent's NATS login has no subject of this bucket), so an agent cannot enrol itself
 * nor choose the labels that targets and key scopes match.
 */
export const ENROLLMENTS_BUCKET = 'fleet_enrollments';
export const REVOKED_BUCKET = 'fleet_revoked';
export const AUDIT_STREAM = 'FLEET_AUDIT';
export const AUDIT_SUBJECT = 'fleet.audit';

export const JOB_SUBJECT_PREFIX = 'fleet.job';
/** Core NATS, never stored: an agent asks the gateway for a job's credential on `fleet.secret.<job_id>.<hostname>`. */
export const SECRET_SUBJECT_PREFIX = 'fleet.secret';
/** Core NATS: an agent streams a job's chunks on `fleet.stream.<job_id>.<hostname>`. */
export const STREAM_SUBJECT_PREFIX = 'fleet.stream';
/** Core NATS: the gateway ends a streaming job early on `fleet.cancel.<job_id>` (its client went away). */
export const CANCEL_SUBJECT_PREFIX = 'fleet.cancel';
export const JOB_RECORD_SUBJECT_PREFIX = 'fleet.jobrec';
/**
 * Core NATS, never stored: an agent announces a final row on `fleet.row.<job_id>.<hostname>` the
 * moment it has it, then writes it to RESULTS_BUCKET. Only that agent may publish its hostname's subject.
 */
export const EARLY_ROW_SUBJECT_PREFIX = 'fleet.row';

/** The shard a host's jobs travel on: FNV-1a of the hostname, so every process computes the same. */
export function jobShardOf(hostname: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < hostname.length; i++) hash = Math.imul(hash ^ hostname.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % JOB_SHARDS;
}

export function jobsStreamName(shard: number): string {
  return `${JOBS_STREAM_PREFIX}_${String(shard).padStart(2, '0')}`;
}

/** Every subject of a shard's stream: `fleet.job.s<shard>.<hostname>`. */
export function jobShardSubjects(shard: number): string {
  return `${JOB_SUBJECT_PREFIX}.s${shard}.*`;
}

export function jobsStreamOf(hostname: string): string {
  return jobsStreamName(jobShardOf(hostname));
}

export function jobSubject(hostname: string): string {
  return `${JOB_SUBJECT_PREFIX}.s${jobShardOf(hostname)}.${hostname}`;
}

export function jobRecordSubject(jobId: string): string {
  return `${JOB_RECORD_SUBJECT_PREFIX}.${jobId}`;
}

export function secretSubject(jobId: string, hostname: string): string {
  return `${SECRET_SUBJECT_PREFIX}.${jobId}.${hostname}`;
}

export function streamSubject(jobId: string, hostname: string): string {
  return `${STREAM_SUBJECT_PREFIX}.${jobId}.${hostname}`;
}

export function earlyRowSubject(jobId: string, hostname: string): string {
  return `${EARLY_ROW_SUBJECT_PREFIX}.${jobId}.${hostname}`;
}

export function cancelSubject(jobId: string): string {
  return `${CANCEL_SUBJECT_PREFIX}.${jobId}`;
}

export function agentConsumerName(hostname: string): string {
  return `agent_${hostname}`;
}

export function resultKey(jobId: string, hostname: string): string {
  return `${jobId}.${hostname}`;
}

/** The (job, host) pair a result key or a per-host subject names. */
export interface JobHost {
  jobId: string;
  hostname: string;
}

/** Splits a result key (or the tail of its `$KV.<bucket>.` subject) into job id and hostname. */
export function parseResultKey(key: string): JobHost | undefined {
  const dot = key.indexOf('.');
  if (dot <= 0 || dot === key.length - 1) return undefined;
  return { jobId: key.slice(0, dot), hostname: key.slice(dot + 1) };
}

/** The (job, host) of `<prefix>.<job_id>.<hostname>`, or undefined for any other subject. */
function parseJobHostSubject(prefix: string, subject: string): JobHost | undefined {
  return subject.startsWith(`${prefix}.`) ? parseResultKey(subject.slice(prefix.length + 1)) : undefined;
}

/** Reads `fleet.secret.<job_id>.<hostname>` back into its job and host. */
export function parseSecretSubject(subject: string): JobHost | undefined {
  return parseJobHostSubject(SECRET_SUBJECT_PREFIX, subject);
}

/** Reads `fleet.row.<job_id>.<hostname>` back into its job and host. */
export function parseEarlyRowSubject(subject: string): JobHost | undefined {
  return parseJobHostSubject(EARLY_ROW_SUBJECT_PREFIX, subject);
}

/** Reads `fleet.stream.<job_id>.<hostname>` back into its job and host. */
export function parseStreamSubject(subject: string): JobHost | undefined {
  return parseJobHostSubject(STREAM_SUBJECT_PREFIX, subject);
}

/*
 * A NATS KV bucket is a JetStream stream named `KV_<bucket>` whose key `k` is stored on subject
 * `$KV.<bucket>.<k>` (the KV layout of the NATS server). Readers that go below the KV API
 * (direct gets, core subscriptions, permissions) build these names here and nowhere else.
 */

/** The stream behind a KV bucket. */
export function kvStreamName(bucket: string): string {
  return `KV_${bucket}`;
}

/** Every subject of a bucket starts with this; what follows is the key. */
export function kvSubjectPrefix(bucket: string): string {
  return `$KV.${bucket}.`;
}

/** The subject a bucket's key is stored on; `key` may hold wildcards (`*.<hostname>`) for permissions. */
export function kvSubject(bucket: string, key: string): string {
  return `${kvSubjectPrefix(bucket)}${key}`;
}

/** The key a bucket subject stores, or undefined for a subject outside the bucket. */
export function kvKeyOf(bucket: string, subject: string): string | undefined {
  const prefix = kvSubjectPrefix(bucket);
  return subject.startsWith(prefix) ? subject.slice(prefix.length) : undefined;
}

export type RowStatus = components['schemas']['RowStatus'];
export type JobStatus = components['schemas']['JobStatus'];

/** One host's outcome, as the contract defines it; operations add their own fields (`containers`, `id`, …). */
export type HostRow = components['schemas']['HostResult'];

/**
 * An agent stops a job still running this long before the job's deadline and reports that
 * itself, so its row (which says why) lands before the gateway, at the deadline, writes a
 * host that has not answered down as not responding.
 */
export const AGENT_REPORT_GRACE_MS = 300;

export function isFinal(status: RowStatus): boolean {
  return status === 'ok' || status === 'failed' || status === 'skipped';
}

/** What an agent receives on its job subject. */
export interface JobMessage {
  job_id: string;
  operation: NodeOperationName;
  /** The target as the caller wrote it, for the agent's logs. */
  target: string;
  params: Record<string, unknown>;
  /** Epoch milliseconds; an agent never starts a job past it. */
  deadline: number;
  /** The job has a credential (e.g. X-Registry-Auth) held by the gateway; fetch it on secretSubject. */
  secret?: boolean;
  /** The caller wants chunks as they come, on streamSubject, until done, deadline or cancel. */
  stream?: boolean;
  /** The gateway's signature allowing these parameters to reach the host (host-grant.ts); agents verify it. */
  host_grant?: HostGrant;
}

/**
 * The only event names an agent's chunk may carry; the gateway drops any other (`job` and `end`
 * are the gateway's own, and a name is written into the SSE framing as is).
 */
export const STREAM_CHUNK_EVENTS = ['stdout', 'stderr', 'progress', 'stats', 'docker'] as const;
export type StreamChunkEvent = (typeof STREAM_CHUNK_EVENTS)[number];

export function isStreamChunkEvent(event: unknown): event is StreamChunkEvent {
  return (STREAM_CHUNK_EVENTS as readonly unknown[]).includes(event);
}

/** One chunk of a streaming job: its kind (SSE event name) and payload. */
export interface StreamChunk {
  event: StreamChunkEvent;
  data: unknown;
}

/** The stored job: fixed at creation, rows live beside it in RESULTS_BUCKET. */
export interface JobRecord {
  job_id: string;
  operation: NodeOperationName;
  target: string;
  hosts: string[];
  caller: string;
  created_at: string;
  deadline: string;
}

/** What an agent writes to AGENTS_BUCKET on every heartbeat. */
export interface AgentRecord {
  hostname: string;
  /** The labels the agent asks for (FLEET_AGENT_LABELS): shown, never matched; an admin sets the real ones. */
  labels: Record<string, string>;
  agent_version: string;
  engine_version?: string;
  engine: { healthy: boolean; error?: string };
  started_at: string;
  /** The agent's Prometheus endpoint, when FLEET_AGENT_METRICS_ADDR turns it on. */
  metrics_url?: string;
}

/** An accepted agent in ENROLLMENTS_BUCKET (keyed by hostname); no entry means pending. */
export interface EnrollmentRecord {
  labels: Record<string, string>;
  by: string;
  at: string;
}

export interface DrainRecord {
  drained: boolean;
  by: string;
  at: string;
}
