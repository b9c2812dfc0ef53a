import type { Request, Response, Router } from 'express';
import { operationSpec, type NodeOperationName } from '@fleet/contracts/operations';
import type { HostRow } from '@fleet/contracts/protocol';
import { authorize, callerOf } from '../../auth/middleware';
import { ApiError } from '../../errors';
import type { JobClient, StartedJob } from '../../jobs/client';
import { EventStream } from '../../http/sse';
import { TargetResolver } from '../../targets/resolve';

/** Turns a validated request into the parameters the agent's executor receives. */
export type InputMapper = (req: Request) => Record<string, unknown>;

export interface NodeRouteOptions {
  input?: InputMapper;
  /** A request header carrying a credential for the agents (e.g. x-registry-auth): never stored or logged. */
  secretHeader?: string;
  /** When this says so, the answer is a server-sent-event stream of the agents' chunks, then the rows. */
  streams?: (req: Request) => boolean;
}

const CONTROL_QUERY = new Set(['timeout', 'async']);
const DEFAULT_TIMEOUT_SECONDS = 30;

/**
 * Path parameters (but the target), query parameters (but the job controls)
 * and the body. The OpenAPI validator has already refused anything the
 * contract does not declare, so nothing unvetted reaches an agent.
 */
export const contractInput: InputMapper = (req) => {
  const params: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(req.params)) if (name !== 'target') params[name] = value;
  for (const [name, value] of Object.entries(req.query)) if (!CONTROL_QUERY.has(name)) params[name] = value;
  if (req.body !== undefined && Object.keys(req.body as object).length > 0) params.body = req.body;
  return params;
};

/** OpenAPI `{name}` path templates become express `:name` parameters. */
export function expressPath(openApiPath: string): string {
  return openApiPath.replace(/\{(\w+)\}/g, ':$1');
}

/** Mounts one node-targeted operation: authorize, start the job, answer with its rows. */
export function mountNodeOperation(router: Router, jobs: JobClient, name: NodeOperationName, options: NodeRouteOptions = {}): void {
  const spec = operationSpec(name);
  const input = options.input ?? contractInput;
  // A body sent to an operation that declares none is ignored, never forwarded to the agents.
  const paramsOf = (req: Request) => {
    const { body, ...params } = input(req);
    return spec.hasBody ? { ...params, ...(body === undefined ? {} : { body }) } : params;
  };
  router[spec.method](expressPath(spec.path), authorize(spec.permission), async (req: Request, res: Response) => {
    const caller = callerOf(res);
    const target = String(req.params.target);
    const stream = options.streams?.(req) ? new EventStream(res) : undefined;
    const job = await jobs.start({
      operation: name,
      target,
      params: paramsOf(req),
      timeoutSeconds: Number(req.query.timeout ?? DEFAULT_TIMEOUT_SECONDS),
      caller: caller.sub,
      scope: caller.scope,
      secret: options.secretHeader ? req.get(options.secretHeader) : undefined,
      onChunk: stream && ((hostname, chunk) => stream.send(chunk.event, { hostname, ...(chunk.data as object) })),
      onCreated: stream && ((record) => stream.send('job', { job_id: record.job_id, hosts: record.hosts })),
    });
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
    res.status(spec.mutating ? 202 : 200).json({ job_id: job.record.job_id, results: rows });
  });
}

/** Streams until every host is done or the client leaves; leaving cancels the job on every host. */
async function relay(res: Response, stream: EventStream, job: StartedJob): Promise<void> {
  let finished = false;
  // The response closes early only when the client goes away.
  res.on('close', () => {
    if (!finished) job.cancel();
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
