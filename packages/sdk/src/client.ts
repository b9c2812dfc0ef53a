import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { paths } from '@fleet/contracts';
import { JOB_WAIT_MAX_SECONDS } from '@fleet/contracts/operations';
import { errorFromResponse, errorFromStatus, FleetConnectionError, JobWaitTimeoutError } from './errors';
import { NodeClient } from './node';
import { readEvents } from './sse';
import { fetchTransport, type JsonAnswer, type JsonTransport } from './transport';
import type {
  AgentList,
  AuditList,
  Enrollment,
  Job,
  JobAccepted,
  JobList,
  NodeResponse,
  QueryOf,
  RolloutControlled,
  Stack,
  StackDeploy,
  StackDeployed,
  StackList,
  StackRemoved,
  StackRevisionText,
  StreamEvent,
} from './types';

export interface FleetClientOptions {
  /** The gateway's base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** An API key (JWT), sent as `Authorization: Bearer <key>`. Omit to send none. */
  apiKey?: string;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** A fetch implementation (tests, proxies); the global fetch by default. Streams, feeds and files go through it. */
  fetch?: typeof fetch;
  /** How plain JSON calls travel; over `fetch` by default. The CLI gives `httpTransport` (Node's http, node-http.ts). */
  transport?: JsonTransport;
}

/** A plain JSON call: path parameters fill the path's `{name}`s, the query is serialised as `serializeQuery` does. */
export interface JsonCall {
  path?: Record<string, unknown>;
  query?: Record<string, unknown>;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

type Method = 'get' | 'post' | 'put' | 'delete';
/** What a path's method answers on success (200 or 201), as the contract types it. */
type AnswerOf<P extends keyof paths, M extends Method> = paths[P][M] extends { responses: infer R } ? SuccessJson<R> : never;
type SuccessJson<R> = R extends { 200: { content: { 'application/json': infer J } } }
  ? J
  : R extends { 201: { content: { 'application/json': infer J } } }
    ? J
    : never;

export interface RawRequest {
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

// `any` by default, as for the e2e helper this serves: the caller knows what it asked for.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface RawResponse<T = any> {
  status: number;
  /** Parsed JSON when the response says it is JSON, the raw text otherwise. */
  body: T;
  headers: Record<string, string>;
}

export interface FeedOptions {
  /** Seconds the feed stays open at most (1–3600; the gateway's default is 300). */
  timeout?: number;
  signal?: AbortSignal;
}

export interface WaitOptions {
  /** Give up after this long (default 5 minutes) with a JobWaitTimeoutError carrying the last state. */
  timeoutMs?: number;
  /** Longest single long-poll (`GET /job/{id}?wait=`), in seconds; default 30. */
  pollSeconds?: number;
  signal?: AbortSignal;
}

/** What openapi-fetch answers: data on 2xx, error otherwise, and the response. */
interface FetchResult<D> {
  data?: D;
  error?: unknown;
  response: Response;
}

/**
 * Query values: arrays (image save's `names`) as the parameter repeated, other objects (the
 * Engine's `filters`, declared `content: application/json` in the contract) as JSON, everything
 * else as its string form.
 */
export function serializeQuery(query: Record<string, unknown>): string {
  const encode = (name: string, value: unknown) =>
    `${encodeURIComponent(name)}=${encodeURIComponent(typeof value === 'object' ? JSON.stringify(value) : String(value))}`;
  return Object.entries(query)
    .filter(([, value]) => value !== undefined && value !== null)
    .flatMap(([name, value]) => (Array.isArray(value) ? value.map((item) => encode(name, item)) : [encode(name, value)]))
    .join('&');
}

/** A path parameter, encoded; `:` `,` `@` stay readable (they are legal in a path segment), so `role:web,zone:eu` reads as typed. */
export function encodePathSegment(value: unknown): string {
  return encodeURIComponent(String(value)).replace(/%3A/gi, ':').replace(/%2C/gi, ',').replace(/%40/gi, '@');
}

function serializePath(template: string, params: Record<string, unknown>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (params[name] === undefined ? whole : encodePathSegment(params[name])));
}

/**
 * The fleet gateway's client: openapi-fetch over the contract's `paths`, so
 * every path, parameter and body below is checked against `openapi.yaml` by
 * the compiler. Non-2xx answers throw typed errors (errors.ts).
 */
export class FleetClient {
  readonly url: string;
  private readonly transport: JsonTransport;
  /** Sent with every call, names in lower case. */
  private readonly headers: Record<string, string>;
  private readonly fetch?: typeof fetch;
  private typed?: Client<paths>;

  constructor(options: FleetClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.headers = lowerCaseNames({
      ...(options.apiKey !== undefined ? { authorization: `Bearer ${options.apiKey}` } : {}),
      ...options.headers,
    });
    this.fetch = options.fetch;
    this.transport = options.transport ?? fetchTransport(options.fetch);
  }

  /**
   * The typed openapi-fetch client, for streams, files and calls the helpers do not cover. Made on
   * first use: it reads fetch's classes, whose loading a short-lived process (the CLI) need not pay.
   */
  get http(): Client<paths> {
    this.typed ??= createClient<paths>({
      baseUrl: this.url,
      fetch: this.fetch,
      headers: this.headers,
      querySerializer: serializeQuery,
      pathSerializer: serializePath,
    });
    return this.typed;
  }

  /** Node-targeted operations on `target`: a hostname, `_any`, `_all` or `key:value[,key:value…]`. */
  node(target: string): NodeClient {
    return new NodeClient(this, target);
  }

  readonly jobs = {
    /** One job with its per-host rows; `wait` long-polls up to that many seconds for it to finish. */
    get: (jobId: string, options: { wait?: number; signal?: AbortSignal } = {}): Promise<Job> =>
      this.json('get', '/job/{job_id}', { path: { job_id: jobId }, query: { wait: options.wait }, signal: options.signal }),
    /** A page of jobs, newest first; pass `next_cursor` as `cursor` for the next page. */
    list: (query: QueryOf<'job.list'> = {}): Promise<JobList> => this.json('get', '/job', { query }),
    /** Long-polls until the job is no longer pending or running. */
    wait: (jobId: string, options: WaitOptions = {}): Promise<Job> => this.waitForJob(jobId, options),
    /** Runs the job's operation again, as a new job, on its `failed` (default), `timeout`, `skipped` or `all` hosts. */
    rerun: (jobId: string, query: QueryOf<'job.rerun'> = {}): Promise<NodeResponse | JobAccepted> =>
      this.json('post', '/job/{job_id}/rerun', { path: { job_id: jobId }, query }) as Promise<NodeResponse | JobAccepted>,
    /** Holds a running rollout once its current wave has ended (README "Rollouts"). */
    pause: (jobId: string): Promise<RolloutControlled> => this.json('post', '/job/{job_id}/pause', { path: { job_id: jobId } }),
    /** Lets a held rollout go on with its next wave. */
    resume: (jobId: string): Promise<RolloutControlled> => this.json('post', '/job/{job_id}/resume', { path: { job_id: jobId } }),
    /** Stops a running rollout once its current wave has ended: the hosts not reached get `skipped` rows. */
    abort: (jobId: string): Promise<RolloutControlled> => this.json('post', '/job/{job_id}/abort', { path: { job_id: jobId } }),
  };

  readonly agents = {
    list: (): Promise<AgentList> => this.json('get', '/agent'),
    get: (hostname: string) => this.json('get', '/agent/{hostname}', { path: { hostname } }),
    /** Cordons the agent out of `_all`, `_any` and label targets (its hostname still reaches it). */
    drain: (hostname: string) => this.json('post', '/agent/{hostname}/drain', { path: { hostname } }),
    undrain: (hostname: string) => this.json('post', '/agent/{hostname}/undrain', { path: { hostname } }),
    /** Enrols a pending (or not yet seen) agent so targets reach it; without labels it gets the ones it asked for. */
    accept: (hostname: string, labels?: Record<string, string>): Promise<Enrollment> =>
      this.json('post', '/agent/{hostname}/accept', { path: { hostname }, ...(labels ? { body: { labels } } : {}) }),
    /** Replaces an accepted agent's labels, the ones targets and key scopes match. */
    label: (hostname: string, labels: Record<string, string>): Promise<Enrollment> =>
      this.json('put', '/agent/{hostname}/labels', { path: { hostname }, body: { labels } }),
    /** A one-time join token for the agent on `hostname` (shown once; only its hash is kept). */
    joinToken: (hostname: string, ttlSeconds?: number) =>
      this.json('post', '/agent/{hostname}/join-token', {
        path: { hostname },
        ...(ttlSeconds === undefined ? {} : { body: { ttl_seconds: ttlSeconds } }),
      }),
    /** Has the live agent rotate to a new NKey without a gap in its work; its older keys are then revoked. */
    rotate: (hostname: string) => this.json('post', '/agent/{hostname}/rotate', { path: { hostname } }),
    /** Revokes the agent's NATS identity (its connection is cut at once) and its enrolment. */
    remove: (hostname: string) => this.json('delete', '/agent/{hostname}/identity', { path: { hostname } }),
  };

  /** Stacks (README "Stacks"): a compose file kept true on the hosts of a target, in numbered revisions. */
  readonly stacks = {
    list: (): Promise<StackList> => this.json('get', '/stack'),
    /** The stack, its revisions (newest first) and each host's state. */
    get: (name: string): Promise<Stack> => this.json('get', '/stack/{name}', { path: { name } }),
    /** Stores the compose file as the next revision and rolls it out with the stack's policy; follow it by `job_id`. */
    deploy: (name: string, body: StackDeploy): Promise<StackDeployed> =>
      this.json('put', '/stack/{name}', { path: { name }, body }) as Promise<StackDeployed>,
    /** What a deploy of this body would change on each host of its target; nothing is stored or changed. */
    diff: (name: string, body: StackDeploy): Promise<NodeResponse> => this.json('post', '/stack/{name}/diff', { path: { name }, body }),
    /** Rolls revision `to` out again as a new revision, with the stack's current target and policy. */
    rollback: (name: string, to: number): Promise<StackDeployed> =>
      this.json('post', '/stack/{name}/rollback', { path: { name }, query: { to } }) as Promise<StackDeployed>,
    /** One revision's compose file as it was sent. */
    revision: (name: string, revision: number): Promise<StackRevisionText> =>
      this.json('get', '/stack/{name}/revisions/{revision}', { path: { name, revision } }),
    /** Removes the stack from every host; its revisions stay readable. */
    remove: (name: string): Promise<StackRemoved> => this.json('delete', '/stack/{name}', { path: { name } }) as Promise<StackRemoved>,
  };

  readonly audit = {
    /** A page of the audit trail, newest first. */
    list: (query: QueryOf<'audit.list'> = {}): Promise<AuditList> => this.json('get', '/audit', { query }),
  };

  readonly tokens = {
    /** The keys this gateway minted that have not expired (their claims, never the keys); a scoped caller sees those inside its scope. */
    list: () => this.json('get', '/token'),
    /** Mints a key (`token:admin`); a scoped caller mints only inside its own scope. The key is in this answer only. */
    create: (body: paths['/token']['post']['requestBody']['content']['application/json']) => this.json('post', '/token', { body }),
    /** Revokes a key by its `jti`: refused from the next request on every gateway replica. */
    revoke: (jti: string) => this.json('delete', '/token/{jti}', { path: { jti } }),
  };

  /**
   * The live feeds (server-sent events, contract tag `feeds`): a job's rows as they land (`job`,
   * `row`…, `end`), new jobs and their outcomes (`job`…), the agents and their changes (`agents`,
   * `agent`…, `gone`). Each ends with `end` at its `timeout` (seconds, default 300) or when the key
   * is revoked; leaving the loop closes the connection.
   */
  readonly feeds = {
    job: (jobId: string, options: FeedOptions = {}): AsyncGenerator<StreamEvent> =>
      this.follow(
        this.http.GET('/feed/job/{job_id}', {
          params: { path: { job_id: jobId }, query: { timeout: options.timeout } },
          parseAs: 'stream',
          signal: options.signal,
        }),
      ),
    jobs: (options: FeedOptions = {}): AsyncGenerator<StreamEvent> =>
      this.follow(
        this.http.GET('/feed/jobs', { params: { query: { timeout: options.timeout } }, parseAs: 'stream', signal: options.signal }),
      ),
    agents: (options: FeedOptions = {}): AsyncGenerator<StreamEvent> =>
      this.follow(
        this.http.GET('/feed/agents', { params: { query: { timeout: options.timeout } }, parseAs: 'stream', signal: options.signal }),
      ),
  };

  health() {
    return this.json('get', '/health');
  }

  /**
   * A plain JSON call through the transport, with the client's base URL and headers: the answer's
   * JSON on 2xx, a typed error otherwise (errors.ts), a FleetConnectionError when the gateway
   * cannot be reached. The path is checked against the contract's paths by the compiler.
   */
  async json<P extends keyof paths & string, M extends Method>(method: M, path: P, call: JsonCall = {}): Promise<AnswerOf<P, M>> {
    const search = serializeQuery(call.query ?? {});
    const url = `${this.url}${serializePath(path, call.path ?? {})}${search ? `?${search}` : ''}`;
    const body = call.body === undefined ? undefined : JSON.stringify(call.body);
    const headers = {
      ...this.headers,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...lowerCaseNames(call.headers ?? {}),
    };
    const answer = await this.guard(this.transport({ method: method.toUpperCase(), url, headers, body, signal: call.signal }));
    const parsed = parseAnswer(answer);
    if (answer.status < 200 || answer.status > 299) throw errorFromStatus(answer.status, parsed, answer.headers['retry-after'] ?? null);
    return parsed as AnswerOf<P, M>;
  }

  private async *follow(call: Promise<{ data?: unknown; error?: unknown; response: Response }>): AsyncGenerator<StreamEvent> {
    const { data, error, response } = await this.guard(call);
    if (!response.ok) throw errorFromResponse(response, error);
    yield* readEvents(data as ReadableStream<Uint8Array>);
  }

  /**
   * An untyped request through the same client (base URL, key, headers):
   * `path` is sent as given (query string and encoding included) and any
   * status is returned, not thrown. For tests and tools that probe the API.
   */
  async raw(method: string, path: string, request: RawRequest = {}): Promise<RawResponse> {
    let text = '';
    // Keeps the exact body text, whatever openapi-fetch would make of it.
    const keepText: Middleware = {
      async onResponse({ response }) {
        text = await response.text();
        const empty = [101, 204, 205, 304].includes(response.status);
        return new Response(empty ? null : text, { status: response.status, statusText: response.statusText, headers: response.headers });
      },
    };
    const init = { body: request.body, headers: request.headers, signal: request.signal, parseAs: 'text', middleware: [keepText] };
    // Untyped by design: any method, any path.
    const { response } = await this.guard(
      this.http.request(method.toLowerCase() as 'get', path as never, init as never) as Promise<{ response: Response }>,
    );
    const isJson = (response.headers.get('content-type') ?? '').includes('json') && text !== '';
    return { status: response.status, body: isJson ? JSON.parse(text) : text, headers: Object.fromEntries(response.headers) };
  }

  /** Awaits an openapi-fetch call: the data on 2xx, a typed error otherwise. */
  async send<D>(call: Promise<FetchResult<D>>): Promise<D> {
    const { data, error, response } = await this.guard(call);
    if (!response.ok) throw errorFromResponse(response, error);
    return data as D;
  }

  /** Turns a failed connection into a FleetConnectionError naming the gateway. */
  async guard<R>(call: Promise<R>): Promise<R> {
    try {
      return await call;
    } catch (err) {
      if (isTransportFailure(err)) {
        throw new FleetConnectionError(this.url, err);
      }
      throw err;
    }
  }

  private async waitForJob(jobId: string, options: WaitOptions): Promise<Job> {
    const deadline = Date.now() + (options.timeoutMs ?? JOB_WAIT_MAX_SECONDS * 1000);
    const pollSeconds = Math.min(options.pollSeconds ?? 30, JOB_WAIT_MAX_SECONDS);
    for (;;) {
      const remainingSeconds = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
      const job = await this.jobs.get(jobId, { wait: Math.min(pollSeconds, remainingSeconds), signal: options.signal });
      if (job.status !== 'pending' && job.status !== 'running') return job;
      if (Date.now() >= deadline) throw new JobWaitTimeoutError(job);
    }
  }
}

/**
 * undici's `fetch failed` (refused, reset, DNS) or an aborted request, as opposed to a bug.
 * Matched by name, not `instanceof`: fetch's errors may come from another realm (jest's sandbox).
 */
function isTransportFailure(err: unknown): boolean {
  const { name, message } = (err ?? {}) as { name?: unknown; message?: unknown };
  return (name === 'TypeError' && message === 'fetch failed') || name === 'AbortError' || name === 'TimeoutError';
}

function lowerCaseNames(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

/** JSON when the answer says it is JSON, its text otherwise (an empty body is `undefined`). */
function parseAnswer(answer: JsonAnswer): unknown {
  if (answer.text === '') return undefined;
  return (answer.headers['content-type'] ?? '').includes('json') ? JSON.parse(answer.text) : answer.text;
}

/** `createFleetClient({url, apiKey}).node('role:web').containers.list()` */
export function createFleetClient(options: FleetClientOptions): FleetClient {
  return new FleetClient(options);
}
