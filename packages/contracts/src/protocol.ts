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
export const JOBS_STREAM_PREFIX = 'FLEET_JOBS';
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
/** The claims of every key minted through POST /token, keyed by its jti; never the key itself. */
export const MINTED_KEYS_BUCKET = 'fleet_minted_keys';
/** Unspent join tokens, keyed by the SHA-256 of the token (the token itself is never stored). */
export const JOIN_TOKENS_BUCKET = 'fleet_join_tokens';
/** Each joined host's NATS account and the users it joined with, keyed by hostname. */
export const IDENTITIES_BUCKET = 'fleet_identities';
/**
 * Idempotency keys (README "Retries and idempotency"), keyed by a SHA-256 of the API key's id and
 * the caller's key, each naming its job and a digest of its request; kept 24 h. The gateway's login
 * only: no agent has a subject of it.
 */
export const IDEMPOTENCY_BUCKET = 'fleet_idempotency';
/**
 * Which gateway replica runs each rollout (README "Rollouts"), keyed by job id and renewed while it
 * runs; a key left unrenewed is taken over by another replica. The gateway's login only: no agent
 * has a subject of it.
 */
export const ROLLOUT_LEASES_BUCKET = 'fleet_rollout_leases';
export const AUDIT_STREAM = 'FLEET_AUDIT';
export const AUDIT_SUBJECT = 'fleet.audit';

export const JOB_SUBJECT_PREFIX = 'fleet.job';
/** Core NATS, never stored: an agent asks the gateway for a job's credential on `fleet.secret.<job_id>.<hostname>`. */
export const SECRET_SUBJECT_PREFIX = 'fleet.secret';
/** Core NATS: an agent streams a job's chunks on `fleet.stream.<job_id>.<hostname>`. */
export const STREAM_SUBJECT_PREFIX = 'fleet.stream';
/**
 * Core NATS, request/reply: an agent asks the gateway that took an upload for its next chunk on
 * `fleet.upload.<job_id>.<hostname>`; the gateway answers only the job's own hosts, from UPLOADS_BUCKET.
 */
export const UPLOAD_SUBJECT_PREFIX = 'fleet.upload';
/**
 * Core NATS, request/reply: an agent sends the file a job answers with (a tar) chunk by chunk on
 * `fleet.download.<job_id>.<hostname>`; the gateway replies once the chunk is on its way to the client.
 */
export const DOWNLOAD_SUBJECT_PREFIX = 'fleet.download';
/**
 * The JetStream object store holding request bodies that are files (uploads), one object per job,
 * named by the job id. Only the gateway's login may touch it: agents read through the gateway.
 */
export const UPLOADS_BUCKET = 'fleet_uploads';
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

/**
 * A rollout's pause, resume and abort, asked by any gateway replica of the one running it (core request/reply
 * inside the gateway's account: no agent imports it).
 */
export function rolloutControlSubject(jobId: string): string {
  return `fleet.rollout.${jobId}.control`;
}

/** What `POST /job/{job_id}/pause|resume|abort` asks of the replica running the rollout; `by` is the key's subject. */
export interface RolloutControl {
  action: 'pause' | 'resume' | 'abort';
  by: string;
}

/** The running replica's answer: the rollout as it stands once it took the control, or why it did not. */
export type RolloutControlReply = { rollout: Rollout } | { refused: string };

export function uploadSubject(jobId: string, hostname: string): string {
  return `${UPLOAD_SUBJECT_PREFIX}.${jobId}.${hostname}`;
}

export function downloadSubject(jobId: string, hostname: string): string {
  return `${DOWNLOAD_SUBJECT_PREFIX}.${jobId}.${hostname}`;
}

export function cancelSubject(jobId: string): string {
  return `${CANCEL_SUBJECT_PREFIX}.${jobId}`;
}

/**
 * An agent's identity rotation (README "Rotating NATS identities"), on subjects only that host's
 * account reaches: it asks for a user JWT for its new key over its current login, and once its new
 * login carries its work, says so over the new one; the gateway then revokes every other key.
 */
export const IDENTITY_SUBJECT_PREFIX = 'fleet.identity';

export function identityRotateSubject(hostname: string): string {
  return `${IDENTITY_SUBJECT_PREFIX}.rotate.${hostname}`;
}

export function identityRotatedSubject(hostname: string): string {
  return `${IDENTITY_SUBJECT_PREFIX}.rotated.${hostname}`;
}

/** The host whose rotation request arrived on `subject`, and which step it is. */
export function parseIdentitySubject(subject: string): { step: 'rotate' | 'rotated'; hostname: string } | undefined {
  const [fleet, identity, step, hostname, ...rest] = subject.split('.');
  if (`${fleet}.${identity}` !== IDENTITY_SUBJECT_PREFIX || (step !== 'rotate' && step !== 'rotated') || !hostname || rest.length > 0)
    return undefined;
  return { step, hostname };
}

/** The agent's durable push consumer delivers to one member of this queue group: a rotating agent binds twice for a moment. */
export function agentDeliverGroup(hostname: string): string {
  return `agent_${hostname}`;
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

/** Reads `fleet.upload.<job_id>.<hostname>` back into its job and host. */
export function parseUploadSubject(subject: string): JobHost | undefined {
  return parseJobHostSubject(UPLOAD_SUBJECT_PREFIX, subject);
}

/** Reads `fleet.download.<job_id>.<hostname>` back into its job and host. */
export function parseDownloadSubject(subject: string): JobHost | undefined {
  return parseJobHostSubject(DOWNLOAD_SUBJECT_PREFIX, subject);
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

/*
 * A NATS object store bucket is a JetStream stream named `OBJ_<bucket>`; an object's chunks are the
 * messages on `$O.<bucket>.C.<nuid>` (the object store layout of the NATS server and clients).
 */

/** The stream behind an object store bucket. */
export function objectStreamName(bucket: string): string {
  return `OBJ_${bucket}`;
}

/** The subject an object's chunks are stored on; `nuid` may be a wildcard (`*`, `>`) for permissions. */
export function objectChunkSubject(bucket: string, nuid: string): string {
  return `$O.${bucket}.C.${nuid}`;
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

/**
 * A job's status from its host rows (README "Responses"): the gateway answers it, the dashboard follows it
 * while rows land, so both say the same.
 */
export function jobStatus(rows: HostRow[]): JobStatus {
  if (rows.some((row) => !isFinal(row.status))) {
    return rows.every((row) => row.status === 'pending') ? 'pending' : 'running';
  }
  // A skipped host (a rollout that stopped before it) did not get the change: the job is not ok there.
  const ok = rows.filter((row) => row.status === 'ok').length;
  if (ok === rows.length) return 'ok';
  return ok === 0 ? 'failed' : 'partial';
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
  /** The job's request body is a file of this many bytes, held by the gateway: fetch it on uploadSubject. */
  upload?: { bytes: number };
  /** The job answers with a file: send it on downloadSubject. */
  download?: boolean;
  /** The caller holds `docker:host`, so it may use host-level objects an admin made (README "Host-level access"); covered by the seal. */
  caller_host?: true;
  /** A rollout's health gate: checked by the agent after its step, on the container the step acted on (README "Rollouts"). */
  health?: HealthGate;
  /** The gateway's seal for the host it is sent to (host-grant.ts `signJobSeal`); an agent runs no job without a valid one. */
  seal?: string;
}

/**
 * Headers of the transfer messages. An upload chunk's reply carries `Fleet-Seq` (ask for the chunk
 * after it next); a download message carries `Fleet-Part` (`start` with the file's headers as JSON,
 * `data`, `end`) and its `Fleet-Seq`. Either side answers a refusal with `Fleet-Error`.
 */
export const TRANSFER_HEADERS = { seq: 'Fleet-Seq', part: 'Fleet-Part', error: 'Fleet-Error' } as const;
export type DownloadPart = 'start' | 'data' | 'end';
/** What one transfer message carries at most: well under NATS' default 1 MB max_payload. */
export const TRANSFER_CHUNK_BYTES = 128 * 1024;

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

/** A rollout's plan and progress, as the contract defines them (schema `Rollout`). */
export type Rollout = components['schemas']['Rollout'];
export type RolloutWave = components['schemas']['RolloutWave'];
export type WaveState = RolloutWave['state'];

/** What a host's agent checks after its step before the host counts as passed (`health`, `health_cmd`). */
export type HealthGate = { check: 'running'; delay_seconds: number } | { check: 'healthy' } | { check: 'exec'; cmd: string[] };

/**
 * The stored job: fixed at creation (but the `reruns` it gains), rows live beside it in RESULTS_BUCKET; a rollout's progress is stored
 * again as it goes.
 */
export interface JobRecord {
  job_id: string;
  operation: NodeOperationName;
  target: string;
  hosts: string[];
  caller: string;
  created_at: string;
  deadline: string;
  /** The job this one reruns (POST /job/{job_id}/rerun). */
  rerun_of?: string;
  /** The jobs that rerun this one, oldest first. */
  reruns?: string[];
  /** What a rerun needs to run the job again; never shown to a reader (JobReadAccess). */
  replay?: JobReplay;
  rollout?: Rollout;
  /** Who started a rollout, so a replica taking it over checks that key again before each wave; never shown to a reader. */
  authority?: RolloutAuthority;
}

/** What a rollout runs on besides its parameters (`replay`): the starting key as it was judged, and the gate. */
export interface RolloutAuthority {
  /** The API key's id (`jti`): a revoked key sends no further wave. */
  key_id?: string;
  /** When the key expires (epoch seconds): an expired key sends no further wave. */
  expires_at: number;
  scope?: string;
  permissions: string[];
  host_access: boolean;
  caller_host: boolean;
  long_running: boolean;
  /** Each wave's timeout. */
  timeout_seconds: number;
  health?: HealthGate;
}

/**
 * The parameters a rerun sends again, or why it cannot: a credential, a file body or environment
 * values are never stored, and a stream or a file answer is the first caller's alone.
 */
export type JobReplay = { params: Record<string, unknown>; timeout_seconds: number } | { refused: string };

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
  /** The stacks the agent keeps, with their state (README "Stacks on the agents"); capped in count and size. */
  stacks?: components['schemas']['StackHostState'][];
}

/** An accepted agent in ENROLLMENTS_BUCKET (keyed by hostname); no entry means pending. */
export interface EnrollmentRecord {
  labels: Record<string, string>;
  by: string;
  at: string;
}

/** A join token in JOIN_TOKENS_BUCKET: for which host, until when, and whether a join spent it. */
export interface JoinTokenRecord {
  hostname: string;
  expires_at: string;
  by: string;
  spent_at?: string;
}

/**
 * A host's NATS identity in IDENTITIES_BUCKET: its account's public key and every user key it joined with, each with when it was revoked
 * (if).
 */
export interface IdentityRecord {
  account: string;
  /** Every key the host joined or rotated to; all but the newest are revoked, except during a rotation. */
  users: { public_key: string; joined_at: string; rotated?: true }[];
  revocations: Record<string, number>;
}

/** A key minted through POST /token, in MINTED_KEYS_BUCKET: what GET /token lists. */
export interface MintedKeyRecord {
  jti: string;
  sub: string;
  role: string;
  scope?: string;
  expires_at: string;
  minted_by: string;
  minted_at: string;
}

export interface DrainRecord {
  drained: boolean;
  by: string;
  at: string;
}

/*
 * The Engine API proxy's tunnel (README "The docker CLI through the gateway"). One HTTP request to
 * `/node/<hostname>/docker/…` is one session, on core NATS (nothing is stored):
 *
 *   gateway → agent   fleet.proxy.req.<hostname>.<session>   OPEN first, then DATA, END, CREDIT, ALIVE, ABORT
 *   agent → gateway   fleet.proxy.res.<hostname>.<session>   HEAD (or ABORT), then DATA, END, CREDIT, ALIVE
 *
 * Only the gateway may publish on `req` (agents may only subscribe to their own hostname's), and
 * an agent may publish only on `res` subjects of its own hostname, so no agent can open a session
 * to another host nor answer for one. Both directions are flow controlled by credit: a side sends
 * at most PROXY_WINDOW_BYTES of DATA beyond what the other side has granted back with CREDIT
 * frames, which it sends as it hands bytes on (to the engine, to the HTTP client). A session ends
 * when both sides sent END, or at once on ABORT; a side that hears nothing (not even ALIVE) for
 * PROXY_SILENCE_MS takes the other for gone.
 */
export const PROXY_REQUEST_PREFIX = 'fleet.proxy.req';
export const PROXY_RESPONSE_PREFIX = 'fleet.proxy.res';

export function proxyRequestSubject(hostname: string, session: string): string {
  return `${PROXY_REQUEST_PREFIX}.${hostname}.${session}`;
}

export function proxyResponseSubject(hostname: string, session: string): string {
  return `${PROXY_RESPONSE_PREFIX}.${hostname}.${session}`;
}

/** The session a `fleet.proxy.req.<hostname>.<session>` subject names, if it is `hostname`'s. */
export function proxySessionOf(subject: string, hostname: string): string | undefined {
  const prefix = `${PROXY_REQUEST_PREFIX}.${hostname}.`;
  const session = subject.startsWith(prefix) ? subject.slice(prefix.length) : '';
  return /^[A-Za-z0-9_-]{1,64}$/.test(session) ? session : undefined;
}

/** Bytes one side may send ahead of the other's credit. */
export const PROXY_WINDOW_BYTES = 1024 * 1024;
/** Largest DATA frame (NATS takes at most 1 MB per message). */
export const PROXY_CHUNK_BYTES = 64 * 1024;
/** Each side says ALIVE this often while a session is open. */
export const PROXY_ALIVE_MS = 5_000;
/** A side that hears nothing from the other this long ends the session. */
export const PROXY_SILENCE_MS = 20_000;

export const PROXY_FRAME = { OPEN: 1, HEAD: 2, DATA: 3, END: 4, CREDIT: 5, ALIVE: 6, ABORT: 7 } as const;
export type ProxyFrameKind = (typeof PROXY_FRAME)[keyof typeof PROXY_FRAME];

/** The first frame of a session: the Engine request, as the gateway accepted it. */
export interface ProxyOpen {
  method: string;
  /** The Engine path and query (`/v1.41/containers/json?all=1`). */
  path: string;
  /** Request headers passed to the engine (hop-by-hop and gateway credentials removed). */
  headers: Record<string, string>;
  /** `hijack`: upgrade the engine connection and carry bytes both ways. */
  hijack: boolean;
  /** Whether DATA frames carry a request body (END ends it); never for a hijack, whose DATA is stdin after 101. */
  body: boolean;
  /** A body sent whole, in base64: a create body the gateway judged (and signed), or a hijack's small JSON. */
  inline_body?: string;
  /** For logs on both sides. */
  caller: string;
  /** The gateway's signature letting this request reach the host (host-grant.ts); `job_id` is the session. */
  host_grant?: HostGrant;
}

/** The engine's answer head: status and headers (a hijack's is 101). */
export interface ProxyHead {
  status: number;
  headers: Record<string, string>;
}

/** Why a side ended a session; `status` is the HTTP answer when no head was sent yet. */
export interface ProxyAbort {
  status: number;
  error: string;
  details: string;
}

/** One frame: its kind in the first byte, the payload after it. */
export function encodeProxyFrame(kind: ProxyFrameKind, payload?: Uint8Array | string | object): Uint8Array {
  const bytes =
    payload === undefined
      ? Buffer.alloc(0)
      : payload instanceof Uint8Array
        ? payload
        : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
  const frame = Buffer.allocUnsafe(bytes.length + 1);
  frame[0] = kind;
  frame.set(bytes, 1);
  return frame;
}

export function decodeProxyFrame(frame: Uint8Array): { kind: number; payload: Buffer } {
  const buffer = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  return { kind: buffer[0] ?? 0, payload: buffer.subarray(1) };
}

/** A frame's JSON payload, or undefined when it is not JSON. */
export function proxyFrameJson<T>(payload: Buffer): T | undefined {
  try {
    return JSON.parse(payload.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}
