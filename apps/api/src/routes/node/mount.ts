import type { Request, RequestHandler, Response, Router } from 'express';
import { nodeOperationHostAccess, type AccessPolicy } from '@fleet/contracts/host-access';
import { answersWithStream, JOB_CONTROL_PARAMS, JOB_TIMEOUT_SECONDS, OPERATIONS, type NodeOperationName, type OperationSpec } from '@fleet/contracts/operations';
import type { HostRow } from '@fleet/contracts/protocol';
import { authorize, callerOf, requirePermission } from '../../auth/middleware';
import { ApiError } from '../../errors';
import { readableRows } from '../../jobs/access';
import type { JobClient, JobRequest, StartedJob } from '../../jobs/client';
import { EventStream } from '../../http/sse';
import { Rollouts } from '../../jobs/rollout';
import { TargetResolver } from '../../targets/resolve';
import { answerDryRun, answerRollout, requestedRollout } from './rollout-answers';
import { compareBySpecificity, expressPath } from './route-order';
import { answerWithFile, receiveUpload, startWithUpload, type Transfers } from './transfers';

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
 */
export function mountNodeOperations(
  router: Router,
  jobs: JobClient,
  transfers: Transfers,
  validate: (spec: OperationSpec) => RequestHandler[],
  accessPolicy: AccessPolicy,
  isRevoked: (jti: string) => boolean = () => false,
): void {
  const nodeOperations = OPERATIONS.filter((op) => op.nodeTargeted).sort((a, b) => compareBySpecificity(a.path, b.path));
  const rollouts = new Rollouts(jobs);
  for (const spec of nodeOperations) mountNodeOperation(router, { jobs, rollouts, transfers, isRevoked }, spec, validate(spec), accessPolicy);
}

/** Mounts one node-targeted operation: validate, authorize, start the job, answer with its rows (or its event stream, or its file). */
/** What a node operation's handler works with. */
interface NodeOperationDeps {
  jobs: JobClient;
  rollouts: Rollouts;
  transfers: Transfers;
  /** A rollout checks its key before each wave (README "Rollouts"). */
  isRevoked: (jti: string) => boolean;
}

function mountNodeOperation(
  router: Router,
  { jobs, rollouts, transfers, isRevoked }: NodeOperationDeps,
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
      requirePermission(caller, spec.hostPermission ?? 'docker:host', `this request reaches the host (${hostAccess.map((access) => access.reason).join('; ')}), so it`);
    }
    const streaming = answersWithStream(spec, req.query);
    const request: JobRequest = {
      operation: name,
      target,
      params,
      hostAccess: hostAccess.length > 0,
      callerHost: caller.permissions.includes('docker:host'),
      longRunning: spec.longRunning || streaming,
      timeoutSeconds: Number(req.query.timeout ?? JOB_TIMEOUT_SECONDS.default),
      caller: caller.sub,
      keyId: caller.jti,
      scope: caller.scope,
      secret: spec.secretHeader ? req.get(spec.secretHeader) : undefined,
    };
    // README "Rollouts": wave parameters and dry runs take their own path; a plain call goes on as it always did.
    const rollout = requestedRollout(spec, req, caller, streaming);
    if (String(req.query.dry_run) === 'true') return answerDryRun(rollouts, request, rollout, res);
    if (rollout) return answerRollout(rollouts, spec, request, rollout, res, { async: wantsAsync(req), isRevoked });
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
    const job = upload ? await startWithUpload(jobs, transfers.uploads, upload, request) : await jobs.start(request);
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
    const rows = await job.rows;
    const failure = TargetResolver.isSingleHost(target) ? singleHostFailure(rows) : undefined;
    if (failure) throw new ApiError(failure.error_code ?? 500, failure.error ?? 'operation failed', describe(name, failure), { job_id: job.record.job_id });
    res.status(spec.mutating ? 202 : 200).json({ job_id: job.record.job_id, results: readableRows(caller.permissions, name, rows) });
  });
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

function describe(name: NodeOperationName, row: HostRow): string {
  return `${name} failed on ${row.hostname}: ${row.error ?? 'no error message'}`;
}
