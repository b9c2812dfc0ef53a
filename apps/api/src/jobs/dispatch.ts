import { randomUUID, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { jobMessageDigest, paramsDigest, signHostGrant, signJobSeal } from '@fleet/contracts/host-grant';
import { jobSubject, type JobMessage, type JobRecord } from '@fleet/contracts/protocol';
import { UnsendableParamsError } from './job-errors';
import type { JobRequest } from './job-request';
import { publishUntil, withSeal, type JetStreamPublisher } from './publish';
import { replayOf } from './replay';
import type { JobStore } from './store';

export interface DispatchDeps {
  /** Dispatch messages go out through it, acknowledged by their stream. */
  js: JetStreamPublisher;
  store: Pick<JobStore, 'recordUndelivered'>;
  log: Logger;
  /** Seals every job message for each of its hosts and signs host-access grants (Ed25519). */
  hostGrantKey: KeyObject;
}

/** A job message as JSON, before each host's seal is added, and the digest the seals sign. */
export interface UnsealedPayload {
  json: string;
  digest: string;
}

/**
 * Dispatches of one job awaiting JetStream's acknowledgement at once. The broker stores a
 * connection's publishes one after another: with all 5,000 of an `_all` sent at once, the last ones
 * waited longer than an attempt's timeout, and their retries (the first ones' too) piled more work
 * on a broker already behind. A window keeps every acknowledgement prompt and the pipe full.
 */
export const DISPATCH_WINDOW = 256;

/** The record of a job on the hosts its target resolved to, created now. */
export function newJobRecord(request: JobRequest, hosts: string[], now: number): JobRecord {
  return {
    job_id: request.jobId ?? randomUUID(),
    operation: request.operation,
    target: request.target,
    hosts,
    caller: request.caller,
    created_at: new Date(now).toISOString(),
    deadline: new Date(now + request.timeoutSeconds * 1000).toISOString(),
    ...(request.rerunOf ? { rerun_of: request.rerunOf } : {}),
    replay: replayOf(request),
  };
}

/**
 * The dispatch message as JSON, with the digest each host's seal signs. Parameters JSON cannot
 * hold (nested thousands deep) are the caller's error.
 */
export function unsealedPayload(record: JobRecord, request: JobRequest, hostGrantKey: KeyObject): UnsealedPayload {
  const message: JobMessage = {
    job_id: record.job_id,
    operation: record.operation,
    target: record.target,
    params: request.params,
    deadline: Date.parse(record.deadline),
    ...(request.secret ? { secret: true } : {}),
    ...(request.onChunk ? { stream: true } : {}),
    ...(request.hostAccess ? { host_grant: hostGrant(record, request.params, hostGrantKey) } : {}),
    ...(request.callerHost ? { caller_host: true as const } : {}),
    ...(request.upload ? { upload: request.upload } : {}),
    ...(request.download ? { download: true } : {}),
    ...(request.health ? { health: request.health } : {}),
  };
  try {
    return { json: JSON.stringify(message), digest: jobMessageDigest(message as unknown as Record<string, unknown>) };
  } catch (err) {
    throw new UnsendableParamsError(`the request's parameters cannot be forwarded to the agents: ${(err as Error).message}`);
  }
}

/** The grant lives as long as the job may run; it names the job, its hosts and a digest of its parameters. */
function hostGrant(record: JobRecord, params: Record<string, unknown>, hostGrantKey: KeyObject): JobMessage['host_grant'] {
  const claims = {
    job_id: record.job_id,
    operation: record.operation,
    hosts: record.hosts,
    params_sha256: paramsDigest(params),
    expires_at: Date.parse(record.deadline),
  };
  return signHostGrant(claims, hostGrantKey);
}

/**
 * Publishes the job to `hosts` (all of the record's, or some of them). A host the broker would not
 * take the job for gets a failed row at once (the others go ahead): its job is reported, never
 * silently lost or left to time out. A host outside the record is refused before anything is sent:
 * its seal would let the job run where its target (and the caller's scope) never reached.
 */
export async function publishToHosts(
  deps: DispatchDeps,
  record: JobRecord,
  payload: UnsealedPayload,
  hosts: readonly string[],
): Promise<void> {
  const outside = hostsOutside(record, hosts);
  if (outside.length > 0) throw new Error(`job ${record.job_id} was not resolved to ${outside.join(', ')}: not published there`);
  const deadline = Date.parse(record.deadline);
  // Each host gets the message sealed for itself: a copy on another host's subject does not run there.
  const sealedFor = (host: string) => payloadEncoder.encode(withSeal(payload.json, signJobSeal(host, payload.digest, deps.hostGrantKey)));
  // msgID lets JetStream drop a duplicate publish of the same (job, host), so a retry is safe.
  const publish = (host: string) => publishUntil(deps.js, jobSubject(host), sealedFor(host), `${record.job_id}.${host}`, deadline);
  const outcomes = await settleInWindow(hosts, DISPATCH_WINDOW, publish);
  const undelivered = hosts.flatMap((host, i) => {
    const outcome = outcomes[i];
    return outcome.status === 'rejected' ? [{ host, reason: describeError(outcome.reason) }] : [];
  });
  if (undelivered.length === 0) return;
  const summary = { job_id: record.job_id, target: record.target, undelivered: undelivered.length, reason: undelivered[0].reason };
  deps.log.warn(summary, 'job not delivered to some hosts');
  // A row that cannot be written now either is written at the deadline, as a timeout (collection.ts).
  await Promise.all(undelivered.map(({ host, reason }) => deps.store.recordUndelivered(record, host, reason).catch(() => undefined)));
}

function hostsOutside(record: JobRecord, hosts: readonly string[]): string[] {
  if (hosts === record.hosts) return [];
  const resolved = new Set(record.hosts);
  return hosts.filter((host) => !resolved.has(host));
}

/** `Promise.allSettled(items.map(run))`, with at most `window` runs pending at any time; outcomes in item order. */
export async function settleInWindow<T, R>(
  items: readonly T[],
  window: number,
  run: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const outcomes: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) {
      try {
        outcomes[i] = { status: 'fulfilled', value: await run(items[i]) };
      } catch (reason) {
        outcomes[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, items.length) }, lane));
  return outcomes;
}

export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const payloadEncoder = new TextEncoder();
