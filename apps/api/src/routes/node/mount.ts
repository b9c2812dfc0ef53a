import type { Request, RequestHandler, Response, Router } from 'express';
import { nodeOperationHostAccess, type AccessPolicy } from '@fleet/contracts/host-access';
import {
  answersWithStream,
  jobTraits,
  JOB_CONTROL_PARAMS,
  JOB_TIMEOUT_SECONDS,
  OPERATIONS,
  type NodeOperationName,
  type OperationSpec,
} from '@fleet/contracts/operations';
import type { HostRow } from '@fleet/contracts/protocol';
import { authorize, callerOf, requirePermission } from '../../auth/middleware';
import { ApiError, hostFailure } from '../../api-error';
import { readableRows } from '../../jobs/access';
import type { JobClient, JobRequest, StartedJob } from '../../jobs/client';
import { IDEMPOTENCY_HEADER, REPLAYED_HEADER, type IdempotencyKeys } from '../../jobs/idempotency';
import { EventStream } from '../../http/sse';
import { Rollouts } from '../../jobs/rollout';
import { TargetResolver } from '../../targets/resolve';
import { answerDryRun, answerRollout, answerRolloutReplay, requestedRollout } from './rollout-answers';
import { compareBySpecificity, expressPath } from './route-order';
import { requestedWait } from './wait-answers';
import { answerWithFile, attachAgentBuild, receiveUpload, startWithUpload, type Transfers } from './transfers';

/**
 * Path parameters and query parameters (but the job controls) and, when the
 * operation declares one, the body. The contract validation has already refused
 * anything the contract does not declare, so nothing unvetted reaches an
 * agent; a body sent to an operation that declares none is ignored.
 */
function executorInput(spec: OperationSpec, req: Request): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const [name, value] of Object.entries({ ...req.params, ...req.query })) if (!JOB_CONTROL_PARAMS.has(name)) params[name] = value;
  if (spec.hasBody && req.body !== undefined && Object.keys(req.body as object).length > 0) params.body = req.body;
  return params;
}

/**
 * Mounts every node-targeted operation of the contract, most specific path first (see route-order.ts);
 * `validate` gives the handlers that check a request against the operation's contract first.
 * `idempotency` honours the Idempotency-Key header; the gateway always passes it, the bench's bare path does not.
 */
export function mountNodeOperations(
  router: Router,
  jobs: JobClient,
  transfers: Transfers,
  validate: (spec: OperationSpec) => RequestHandler[],
  accessPolicy: AccessPolicy,
  idempotency?: IdempotencyKeys,
  isRevoked: (jti: string) => boolean = () => false,
): void {
  const nodeOperations = OPERATIONS.filter((op) => op.nodeTargeted).sort((a, b) => compareBySpecificity(a.path, b.path));
  const rollouts = new Rollouts(jobs);
  const deps: NodeOperationDeps = { jobs, rollouts, transfers, isRevoked, idempotency };
  for (const spec of nodeOperations) mountNodeOperation(router, deps, spec, validate(spec), accessPolicy);
}

/** What a node operation's handler works with. */
interface NodeOperationDeps {
  jobs: JobClient;
  rollouts: Rollouts;
  transfers: Transfers;
  /** A rollout checks its key before each wave (README "Rollouts"). */
  isRevoked: (jti: string) => boolean;
  idempotency: IdempotencyKeys | undefined;
}

/** Mounts one node-targeted operation: validate, authorize, start the job, answer with its rows (or its event stream, or its file). */
function mountNodeOperation(
  router: Router,
  { jobs, rollouts, transfers, isRevoked, idempotency }: NodeOperationDeps,
  spec: OperationSpec,
  validation: RequestHandler[],
  accessPolicy: AccessPolicy,
): void {
  const name = spec.name as NodeOperationName;
  router[spec.method](expressPath(spec.path), ...validation, authorize(spec.permission), async (req: Request, res: Response) => {
    const caller = callerOf(res);
    const target = String(req.params.target);
    const params = executorInput(spec, req);
    // README "Host-level access": the operation's permission is not enough once the request reaches the host.
    const hostAccess = nodeOperationHostAccess(name, params, accessPolicy);
    if (hostAccess.length > 0) {
      requirePermission(
        caller,
        spec.hostPermission ?? 'docker:host',
        `this request reaches the host (${hostAccess.map((access) => access.reason).join('; ')}), so it`,
      );
    }
    const streaming = answersWithStream(spec, req.query);
    const request: JobRequest = {
      operation: name,
      target,
      params,
      hostAccess: hostAccess.length > 0,
      callerHost: caller.permissions.includes('docker:host'),
      longRunning: jobTraits(name, { streaming }).longRunning,
      timeoutSeconds: Number(req.query.timeout ?? JOB_TIMEOUT_SECONDS.default),
      caller: caller.sub,
      keyId: caller.jti,
      scope: caller.scope,
      secret: spec.secretHeader ? req.get(spec.secretHeader) : undefined,
    };
    await attachAgentBuild(transfers.agentBuilds, request);
    // README "Rollouts": wave parameters and dry runs take their own path; a plain call goes on as it always did.
    const rollout = requestedRollout(spec, req, caller, streaming);
    const waitSeconds = requestedWait(spec, req, streaming, rollout);
    if (String(req.query.dry_run) === 'true') return answerDryRun(rollouts, request, rollout, res);
    if (rollout) {
      // README "Retries and idempotency": the wave parameters are part of the request a key stands for.
      const key = spec.mutating ? req.get(IDEMPOTENCY_HEADER) : undefined;
      const claimed = { ...request, params: { ...params, rollout } };
      const claim = key && idempotency ? await idempotency.claim(caller, key, claimed) : undefined;
      if (claim?.replay) return answerRolloutReplay(jobs, spec, claim.jobId, res, wantsAsync(req));
      request.jobId = claim?.jobId;
      return answerRollout(rollouts, spec, request, rollout, res, { async: wantsAsync(req), isRevoked, claim });
    }
    if (spec.downloadMediaType) {
      await answerWithFile(spec, transfers, jobs, request, res);
      return;
    }
    const stream = streaming ? new EventStream(res, { maxBufferedBytes: jobs.streamBufferBytes }) : undefined;
    if (stream) {
      // The hostname is the subject's, set last: an agent's data cannot name another host.
      request.onChunk = (hostname, chunk) => stream.send(chunk.event, { ...(chunk.data as object), hostname });
      request.onCreated = (record) => stream.send('job', { job_id: record.job_id, hosts: record.hosts });
    }
    const upload = spec.uploadMediaType ? await receiveUpload(transfers.uploads, jobs, req, target, caller.scope) : undefined;
    // README "Retries and idempotency": a retry of a call that started its job answers with that job.
    const key = spec.mutating ? req.get(IDEMPOTENCY_HEADER) : undefined;
    const claimed = { ...request, uploadDigest: upload?.digest };
    const claim = key && idempotency ? await idempotency.claim(caller, key, claimed, upload?.jobId) : undefined;
    if (claim?.replay) {
      if (upload) await transfers.uploads.remove(upload.jobId);
      await answerReplay(req, res, spec, jobs, claim.jobId, stream);
      return;
    }
    request.jobId = claim?.jobId;
    // README "Jobs that wait for a host": each later delivery checks the key as it stands then.
    const authority = { permissions: [...caller.permissions], expiresAt: caller.exp };
    const plain = () => (waitSeconds ? jobs.startWaiting({ ...request, authority }, waitSeconds) : jobs.start(request));
    const starting = upload ? startWithUpload(jobs, transfers.uploads, upload, request) : plain();
    const job = await starting.catch(async (err: unknown) => {
      await claim?.release();
      throw err;
    });
    await claim?.started();
    res.locals.jobId = job.record.job_id;
    if (stream) {
      await relay(res, stream, job);
      return;
    }
    if (wantsAsync(req)) {
      job.rows.catch(() => undefined); // collected in the background; the caller polls GET /job
      res.status(202).json({ job_id: job.record.job_id, status: 'pending' });
      return;
    }
    answerRows(res, spec, target, job.record.job_id, await job.rows);
  });
}

/** The job's rows as the caller may read them; a single-host target's failure is the HTTP status. */
function answerRows(res: Response, spec: OperationSpec, target: string, jobId: string, rows: HostRow[]): void {
  const name = spec.name as NodeOperationName;
  const failure = TargetResolver.isSingleHost(target) ? singleHostFailure(rows) : undefined;
  if (failure) throw hostFailure(name, failure, jobId);
  res.status(spec.mutating ? 202 : 200).json({ job_id: jobId, results: readableRows(callerOf(res).permissions, name, rows) });
}

/**
 * The answer to a retry whose key's first call started `jobId`: that job, waited for as the first
 * call waited (up to its deadline), answered as the first call was. A stream gets the job and its
 * final rows: the chunks went to the first call.
 */
async function answerReplay(
  req: Request,
  res: Response,
  spec: OperationSpec,
  jobs: JobClient,
  jobId: string,
  stream: EventStream | undefined,
): Promise<void> {
  res.locals.jobId = jobId;
  res.set(REPLAYED_HEADER, 'true');
  const job = await jobs.waitFor(jobId, wantsAsync(req) ? 0 : await replayWaitMs(jobs, jobId));
  if (!job) {
    const why = `the job this Idempotency-Key started (${jobId}) ran and is no longer stored (FLEET_JOB_RETENTION_SECONDS)`;
    throw new ApiError('idempotency_expired', `${why}; it is not run again: send a new key to run it again`);
  }
  if (stream) {
    stream.send('job', { job_id: jobId, hosts: job.hosts });
    stream.end('end', { job_id: jobId, results: readableRows(callerOf(res).permissions, job.operation, job.results) });
    return;
  }
  if (wantsAsync(req)) {
    res.status(202).json({ job_id: jobId, status: job.status });
    return;
  }
  answerRows(res, spec, job.target, jobId, job.results);
}

/**
 * How long a retry waits for its job: as the first call waited, up to the longest deadline; a job that waits for hosts
 * (README "Jobs that wait for a host") answered once its live hosts' deadline passed, not at the end of its wait.
 */
async function replayWaitMs(jobs: JobClient, jobId: string): Promise<number> {
  const stored = await jobs.waitFor(jobId, 0);
  if (!stored?.wait) return JOB_TIMEOUT_SECONDS.maximum * 1000;
  const liveDeadline = Date.parse(stored.created_at) + (stored.authority?.timeout_seconds ?? 0) * 1000;
  return Math.max(0, liveDeadline - Date.now());
}

/**
 * Streams until every host is done or the client leaves; leaving cancels the job on every host, and
 * so does a client too slow to take what it is sent (the stream ends with `overflow` instead).
 */
async function relay(res: Response, stream: EventStream, job: StartedJob): Promise<void> {
  let finished = false;
  // The response closes early only when the client goes away.
  res.on('close', () => {
    if (!finished) job.cancel();
  });
  stream.onOverflow((buffered, limit) => {
    job.cancel();
    return { job_id: job.record.job_id, buffered_bytes: buffered, limit_bytes: limit };
  });
  const rows = await job.rows;
  finished = true;
  stream.end('end', { job_id: job.record.job_id, results: rows });
}

function wantsAsync(req: Request): boolean {
  // The validator has coerced `async` to a boolean.
  return String(req.query.async) === 'true' || /\brespond-async\b/i.test(req.get('prefer') ?? '');
}

function singleHostFailure(rows: HostRow[]): HostRow | undefined {
  return rows.length === 1 && rows[0].status === 'failed' ? rows[0] : undefined;
}
