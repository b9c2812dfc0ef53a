import { operationSpec } from '@fleet/contracts/operations';
import type { FleetClient } from './client';
import { errorFromResponse } from './errors';
import { readEvents } from './sse';
import type {
  CallArgs,
  CallOptions,
  FileAnswer,
  FileBody,
  JobAccepted,
  NodeInput,
  NodeOperationName,
  NodeResponse,
  NodeResult,
  StreamEvent,
} from './types';

type Without<N extends NodeOperationName, K extends string> = Omit<NodeInput<N>, K>;
type BodyOf<N extends NodeOperationName> = NodeInput<N> extends { body: infer B } ? B : never;

interface RequestResult {
  data?: unknown;
  error?: unknown;
  response: Response;
}

/** How a request's body travels: JSON, or a file streamed as it is (`duplex: 'half'` is what fetch needs for a stream). */
type BodyKind = { json: true } | { file: FileBody; mediaType: string };

/**
 * The node-targeted operations of one target. `call` takes any operation of
 * the contract by name, its input typed from the contract; the helpers below
 * name the common ones. Each answers `{job_id, results}` with one row per
 * targeted host; a failed host is a row (`status: 'failed'`), not an
 * exception, except on a single-host target, where the gateway turns it into
 * the HTTP status (thrown as a typed error carrying `jobId`).
 */
export class NodeClient {
  constructor(
    private readonly fleet: FleetClient,
    readonly target: string,
  ) {}

  /** Runs operation `name` and answers its rows. */
  call<N extends NodeOperationName>(name: N, ...[input, options]: CallArgs<N>): Promise<NodeResult<N>> {
    return this.invoke(name, (input ?? {}) as Record<string, unknown>, options) as Promise<NodeResult<N>>;
  }

  /** Starts operation `name` as an async job (`?async=true`): answers `{job_id, status: 'pending'}` at once; see `jobs.wait`. */
  submit<N extends NodeOperationName>(name: N, ...[input, options]: CallArgs<N>): Promise<JobAccepted> {
    return this.invoke(name, (input ?? {}) as Record<string, unknown>, { ...options, async: true }) as Promise<JobAccepted>;
  }

  /**
   * A streaming operation's server-sent events (`system events`, `image pull`
   * with `progress: true`), ending with `end` `{job_id, results}`. An answer
   * that is not a stream comes out as a single `end` event. Leaving the loop
   * closes the connection, which cancels the job on every host.
   */
  stream<N extends NodeOperationName>(name: N, ...[input, options]: CallArgs<N>): AsyncGenerator<StreamEvent> {
    return this.invokeStream(name, (input ?? {}) as Record<string, unknown>, options);
  }

  /**
   * `call` for tools that build the input at run time (the CLI): path
   * parameters are the names in the operation's path template, `body` is the
   * JSON body, everything else is a query parameter.
   */
  async invoke(
    name: NodeOperationName,
    input: Record<string, unknown>,
    options: CallOptions & { async?: boolean } = {},
  ): Promise<NodeResponse | JobAccepted> {
    const { spec, path, query, body } = this.parts(name, input, options);
    // The operation is chosen at run time, so its path is not a literal the compiler can check; the helpers' inputs are.
    const call = { path, query, body, headers: options.headers, signal: options.signal };
    return this.fleet.json(spec.method as never, spec.path as never, call) as Promise<NodeResponse | JobAccepted>;
  }

  /**
   * Runs an operation whose request body is a file (`docker.image.load`, `docker.container.archive-put`):
   * `file` is streamed to the gateway as it is read, and the answer is the rows, as for `invoke`.
   */
  async upload(
    name: NodeOperationName,
    file: FileBody,
    input: Record<string, unknown> = {},
    options: CallOptions & { async?: boolean } = {},
  ): Promise<NodeResponse | JobAccepted> {
    const mediaType = operationSpec(name).uploadMediaType;
    if (!mediaType) throw new TypeError(`${name} takes no file body`);
    return this.fleet.send(this.request(name, input, options, 'json', { file, mediaType })) as Promise<NodeResponse | JobAccepted>;
  }

  /**
   * Runs an operation that answers with one host's file (`docker.image.save`, `docker.container.export`,
   * `docker.container.archive-get`) on this target (a hostname or `_any`), and resolves as soon as the
   * file starts coming, with its bytes as a stream.
   */
  async download(name: NodeOperationName, input: Record<string, unknown> = {}, options: CallOptions = {}): Promise<FileAnswer> {
    if (!operationSpec(name).downloadMediaType) throw new TypeError(`${name} answers with no file`);
    const { data, error, response } = await this.fleet.guard(this.request(name, input, options, 'stream'));
    if (!response.ok) throw errorFromResponse(response, error);
    return {
      jobId: response.headers.get('x-fleet-job-id') ?? '',
      hostname: response.headers.get('x-fleet-hostname') ?? '',
      headers: response.headers,
      body: data as ReadableStream<Uint8Array>,
    };
  }

  /** `stream` for tools that build the input at run time (see `invoke`). */
  async *invokeStream(name: NodeOperationName, input: Record<string, unknown>, options: CallOptions = {}): AsyncGenerator<StreamEvent> {
    const { data, error, response } = await this.fleet.guard(this.request(name, input, options, 'stream'));
    if (!response.ok) throw errorFromResponse(response, error);
    if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
      yield { event: 'end', data: await response.json() };
      return;
    }
    yield* readEvents(data as ReadableStream<Uint8Array>);
  }

  private request(
    name: NodeOperationName,
    input: Record<string, unknown>,
    options: CallOptions & { async?: boolean },
    parseAs: 'json' | 'stream',
    kind: BodyKind = { json: true },
  ): Promise<RequestResult> {
    const { spec, path, query, body } = this.parts(name, input, options);
    // The operation is chosen at run time, so its path is not a literal the compiler can check; the helpers' inputs are.
    const json = { params: { path, query }, body, headers: options.headers, signal: options.signal, parseAs };
    const init =
      'file' in kind
        ? {
            ...json,
            body: kind.file,
            bodySerializer: (file: FileBody) => file,
            headers: { ...options.headers, 'content-type': kind.mediaType },
            duplex: 'half',
          }
        : json;
    return this.fleet.http.request(spec.method as 'get', spec.path as never, init as never) as Promise<RequestResult>;
  }

  /** The operation's path parameters (the target among them), its query (job controls included) and its body. */
  private parts(name: NodeOperationName, input: Record<string, unknown>, options: CallOptions & { async?: boolean }) {
    const spec = operationSpec(name);
    const { body, ...params } = input;
    const pathNames = new Set([...spec.path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]));
    const path: Record<string, unknown> = { target: this.target };
    const query: Record<string, unknown> = { timeout: options.timeout, async: options.async ? true : undefined };
    for (const [key, value] of Object.entries(params)) (pathNames.has(key) ? path : query)[key] = value;
    return { spec, path, query, body };
  }

  readonly containers = {
    list: (query?: NodeInput<'docker.container.list'>, options?: CallOptions) => this.call('docker.container.list', query, options),
    create: (body: BodyOf<'docker.container.create'>, options?: CallOptions) => this.call('docker.container.create', { body }, options),
    inspect: (id: string, options?: CallOptions) => this.call('docker.container.inspect', { id }, options),
    start: (id: string, options?: CallOptions) => this.call('docker.container.start', { id }, options),
    stop: (id: string, query: Without<'docker.container.stop', 'id'> = {}, options?: CallOptions) =>
      this.call('docker.container.stop', { id, ...query }, options),
    restart: (id: string, query: Without<'docker.container.restart', 'id'> = {}, options?: CallOptions) =>
      this.call('docker.container.restart', { id, ...query }, options),
    remove: (id: string, query: Without<'docker.container.remove', 'id'> = {}, options?: CallOptions) =>
      this.call('docker.container.remove', { id, ...query }, options),
    exec: (id: string, body: BodyOf<'docker.container.exec'>, options?: CallOptions) =>
      this.call('docker.container.exec', { id, body }, options),
    logs: (id: string, query: Without<'docker.container.logs', 'id'> = {}, options?: CallOptions) =>
      this.call('docker.container.logs', { id, ...query }, options),
    commit: (id: string, body: BodyOf<'docker.container.commit'> = {}, options?: CallOptions) =>
      this.call('docker.container.commit', { id, body }, options),
    /** A tar of `path` in the container, from this target's one host. */
    archiveGet: (id: string, path: string, options?: CallOptions) => this.download('docker.container.archive-get', { id, path }, options),
    /** Extracts the tar `file` into the directory `path` of the container on every targeted host. */
    archivePut: (
      id: string,
      path: string,
      file: FileBody,
      query: Without<'docker.container.archive-put', 'id' | 'path'> = {},
      options?: CallOptions,
    ) =>
      this.upload('docker.container.archive-put', file, { id, path, ...query }, options) as Promise<
        NodeResult<'docker.container.archive-put'>
      >,
    /** A tar of the container's filesystem, from this target's one host. */
    export: (id: string, options?: CallOptions) => this.download('docker.container.export', { id }, options),
  };

  readonly images = {
    list: (query?: NodeInput<'docker.image.list'>, options?: CallOptions) => this.call('docker.image.list', query, options),
    pull: (fromImage: string, query: Without<'docker.image.pull', 'fromImage'> = {}, options?: CallOptions) =>
      this.call('docker.image.pull', { fromImage, ...query }, options),
    inspect: (image: string, options?: CallOptions) => this.call('docker.image.inspect', { image }, options),
    remove: (image: string, query: Without<'docker.image.remove', 'image'> = {}, options?: CallOptions) =>
      this.call('docker.image.remove', { image, ...query }, options),
    /** A tar of the images (as `docker save` writes it), from this target's one host. */
    save: (names: string[], options?: CallOptions) => this.download('docker.image.save', { names }, options),
    /** Loads the images of a `docker save` tar onto every targeted host. */
    load: (file: FileBody, options?: CallOptions) =>
      this.upload('docker.image.load', file, {}, options) as Promise<NodeResult<'docker.image.load'>>,
  };

  readonly volumes = {
    list: (query?: NodeInput<'docker.volume.list'>, options?: CallOptions) => this.call('docker.volume.list', query, options),
    create: (body: BodyOf<'docker.volume.create'>, options?: CallOptions) => this.call('docker.volume.create', { body }, options),
    remove: (name: string, query: Without<'docker.volume.remove', 'name'> = {}, options?: CallOptions) =>
      this.call('docker.volume.remove', { name, ...query }, options),
  };

  readonly networks = {
    list: (query?: NodeInput<'docker.network.list'>, options?: CallOptions) => this.call('docker.network.list', query, options),
    create: (body: BodyOf<'docker.network.create'>, options?: CallOptions) => this.call('docker.network.create', { body }, options),
    remove: (id: string, options?: CallOptions) => this.call('docker.network.remove', { id }, options),
  };

  readonly system = {
    info: (options?: CallOptions) => this.call('docker.system.info', {}, options),
    version: (options?: CallOptions) => this.call('docker.system.version', {}, options),
    ping: (options?: CallOptions) => this.call('docker.system.ping', {}, options),
    df: (options?: CallOptions) => this.call('docker.system.df', {}, options),
  };
}
