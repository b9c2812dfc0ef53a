/**
 * SCALE HARNESS ONLY — never used by functional tests.
 *
 * The objects a stack apply makes on a simulated engine (./simulated-engine.ts), kept in memory so a second apply
 * finds what the first made: images pulled, containers created from them (with their labels, started, stopped,
 * removed), networks and volumes. Answers are shaped like Engine API 1.41's; an engine event stream stays open and
 * quiet (nothing changes by hand here).
 */
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';

type Answer = <T>(value: () => T) => Promise<T>;
type Labels = Record<string, string>;

interface EngineError extends Error {
  statusCode: number;
  json: { message: string };
}

function engineError(statusCode: number, message: string): EngineError {
  return Object.assign(new Error(`(HTTP code ${statusCode}) ${message}`), { statusCode, json: { message } });
}

const hex = (seed: string) => createHash('sha256').update(seed).digest('hex');

interface CreateOptions {
  name?: string;
  Image: string;
  Labels?: Labels;
  Healthcheck?: unknown;
  HostConfig?: Record<string, unknown>;
  NetworkingConfig?: { EndpointsConfig?: Record<string, unknown> };
  [key: string]: unknown;
}

interface SimulatedContainer {
  id: string;
  name: string;
  created: string;
  config: CreateOptions;
  running: boolean;
  startedAt: string;
  networks: Set<string>;
}

interface SimulatedNamed {
  id: string;
  name: string;
  labels: Labels;
  options: Record<string, unknown>;
}

/** dockerode's filters (an object or its JSON): `label` (`k` or `k=v`, all must match) and `name` (a part of the name). */
export function matchesFilters(filters: unknown, object: { labels: Labels; name?: string }): boolean {
  const parsed = (typeof filters === 'string' ? JSON.parse(filters) : (filters ?? {})) as { label?: string[]; name?: string[] };
  const labelsMatch = (parsed.label ?? []).every((each) => {
    const [key, ...value] = each.split('=');
    return value.length === 0 ? key in object.labels : object.labels[key] === value.join('=');
  });
  const names = parsed.name ?? [];
  return labelsMatch && (names.length === 0 || names.some((part) => (object.name ?? '').includes(part)));
}

/** Per simulated host: the stack objects, and the dockerode methods that reach them. */
export class SimulatedStackObjects {
  private readonly images = new Map<string, string>();
  private readonly containers = new Map<string, SimulatedContainer>();
  private readonly networks = new Map<string, SimulatedNamed>();
  private readonly volumes = new Map<string, SimulatedNamed>();
  private serial = 0;

  constructor(
    private readonly hostname: string,
    private readonly answer: Answer,
  ) {}

  /** Summaries (GET /containers/json) of the stack containers matching `filters`. */
  summaries(filters: unknown, all: boolean): Array<Record<string, unknown>> {
    return [...this.containers.values()]
      .filter(
        (container) =>
          (all || container.running) && matchesFilters(filters, { labels: container.config.Labels ?? {}, name: container.name }),
      )
      .map((container) => ({
        Id: container.id,
        Names: [`/${container.name}`],
        Image: container.config.Image,
        ImageID: this.images.get(container.config.Image),
        Command: '',
        Created: Math.floor(Date.parse(container.created) / 1000),
        Labels: container.config.Labels ?? {},
        State: container.running ? 'running' : 'exited',
        Status: container.running ? 'Up' : 'Exited (0)',
        Ports: [],
        HostConfig: { NetworkMode: container.config.HostConfig?.NetworkMode ?? 'default' },
        NetworkSettings: { Networks: Object.fromEntries([...container.networks].map((network) => [network, {}])) },
        Mounts: [],
      }));
  }

  /** The container named or identified by `id` (a name, a full id or a prefix of one), if the stack made it. */
  find(id: string): SimulatedContainer | undefined {
    const name = id.replace(/^\//, '');
    return this.containers.get(id) ?? [...this.containers.values()].find((each) => each.name === name || each.id.startsWith(id));
  }

  /** The dockerode engine methods a stack apply calls, to merge into the simulated engine. */
  engineMethods(): Record<string, unknown> {
    return {
      pull: (reference: string, _opts?: unknown, callback?: (err: unknown, stream?: NodeJS.ReadableStream) => void) => {
        const stream = this.pulled(reference);
        if (typeof callback === 'function') {
          callback(null, stream);
          return undefined;
        }
        return this.answer(() => stream);
      },
      createImage: (options: { fromImage: string }) => this.answer(() => this.pulled(options.fromImage)),
      getImage: (reference: string) => ({
        name: reference,
        inspect: () => this.answer(() => this.imageInspect(reference)),
      }),
      createContainer: (options: CreateOptions) => this.answer(() => this.container(this.create(options))),
      listNetworks: (query: { filters?: unknown } = {}) =>
        this.answer(() => [...this.networks.values()].filter((n) => matchesFilters(query.filters, n)).map(namedSummary)),
      createNetwork: (options: Record<string, unknown>) => this.answer(() => this.named(this.networks, options, 'network')),
      getNetwork: (id: string) => this.network(id),
      listVolumes: (query: { filters?: unknown } = {}) =>
        this.answer(() => ({
          Volumes: [...this.volumes.values()].filter((v) => matchesFilters(query.filters, v)).map(namedSummary),
          Warnings: null,
        })),
      createVolume: (options: Record<string, unknown>) => this.answer(() => namedSummary(this.volumeFrom(options))),
      getVolume: (name: string) => this.volume(name),
      getEvents: () => this.answer(() => new PassThrough()),
    };
  }

  /** dockerode's Container for one of the stack's containers. */
  container(found: SimulatedContainer): Record<string, unknown> {
    const now = () => new Date().toISOString();
    return {
      id: found.id,
      inspect: () => this.answer(() => this.inspect(found)),
      start: () =>
        this.answer(() => {
          found.running = true;
          found.startedAt = now();
        }),
      stop: () => this.answer(() => void (found.running = false)),
      kill: () => this.answer(() => void (found.running = false)),
      restart: () => this.answer(() => void (found.startedAt = now())),
      remove: (opts: { force?: boolean } = {}) =>
        this.answer(() => {
          if (found.running && !opts.force) throw engineError(409, `cannot remove container ${found.name}: it is running`);
          this.containers.delete(found.id);
        }),
      rename: (opts: { name: string }) => this.answer(() => void (found.name = opts.name)),
    };
  }

  private pulled(reference: string): NodeJS.ReadableStream {
    const qualified = reference.includes(':') ? reference : `${reference}:latest`;
    this.images.set(qualified, `sha256:${hex(qualified)}`);
    const stream = new PassThrough();
    setImmediate(() => stream.end(`${JSON.stringify({ status: `Status: Downloaded newer image for ${qualified}` })}\n`));
    return stream;
  }

  private imageInspect(reference: string): Record<string, unknown> {
    const id = this.images.get(reference) ?? this.images.get(`${reference}:latest`);
    if (!id) throw engineError(404, `No such image: ${reference}`);
    return { Id: id, RepoTags: [reference], RepoDigests: [], Config: { Labels: {} }, Os: 'linux', Architecture: 'amd64' };
  }

  private create(options: CreateOptions): SimulatedContainer {
    if (!this.images.has(options.Image) && !this.images.has(`${options.Image}:latest`)) {
      throw engineError(404, `No such image: ${options.Image}`);
    }
    const id = hex(`${this.hostname}/container/${++this.serial}`);
    const name = options.name ?? id.slice(0, 12);
    if (this.find(name)) throw engineError(409, `Conflict. The container name "/${name}" is already in use`);
    const networks = Object.keys(options.NetworkingConfig?.EndpointsConfig ?? {});
    const mode = options.HostConfig?.NetworkMode;
    const container = {
      id,
      name,
      created: new Date().toISOString(),
      config: options,
      running: false,
      startedAt: '0001-01-01T00:00:00Z',
      networks: new Set(networks.length > 0 ? networks : typeof mode === 'string' ? [mode] : []),
    };
    this.containers.set(id, container);
    return container;
  }

  private inspect(container: SimulatedContainer): Record<string, unknown> {
    const { name, Image, Labels, HostConfig, NetworkingConfig, Healthcheck, ...config } = container.config;
    void NetworkingConfig;
    return {
      Id: container.id,
      Name: `/${name ?? container.name}`,
      Created: container.created,
      Image: this.images.get(Image),
      State: {
        Status: container.running ? 'running' : 'exited',
        Running: container.running,
        Paused: false,
        Restarting: false,
        OOMKilled: false,
        Dead: false,
        Pid: container.running ? 4242 : 0,
        ExitCode: 0,
        Error: '',
        StartedAt: container.startedAt,
        FinishedAt: '0001-01-01T00:00:00Z',
        ...(Healthcheck ? { Health: { Status: container.running ? 'healthy' : 'unhealthy', FailingStreak: 0, Log: [] } } : {}),
      },
      HostConfig: { RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, ...HostConfig },
      Config: { ...config, Image, Labels: Labels ?? {}, ...(Healthcheck ? { Healthcheck } : {}) },
      NetworkSettings: { Networks: Object.fromEntries([...container.networks].map((network) => [network, { Aliases: [] }])) },
      Mounts: [],
    };
  }

  private named(store: Map<string, SimulatedNamed>, options: Record<string, unknown>, what: string): Record<string, unknown> {
    const name = String(options.Name ?? options.name ?? '');
    if ([...store.values()].some((each) => each.name === name)) throw engineError(409, `${what} with name ${name} already exists`);
    const created = { id: hex(`${this.hostname}/${what}/${name}`), name, labels: (options.Labels as Labels) ?? {}, options };
    store.set(created.id, created);
    return what === 'network' ? this.network(created.id) : namedSummary(created);
  }

  private volumeFrom(options: Record<string, unknown>): SimulatedNamed {
    this.named(this.volumes, options, 'volume');
    return [...this.volumes.values()].find((each) => each.name === String(options.Name ?? options.name ?? '')) as SimulatedNamed;
  }

  private network(id: string): Record<string, unknown> {
    const lookup = () => {
      const found = this.networks.get(id) ?? [...this.networks.values()].find((each) => each.name === id);
      if (!found) throw engineError(404, `network ${id} not found`);
      return found;
    };
    return {
      id,
      inspect: () => this.answer(() => ({ ...namedSummary(lookup()), Containers: {} })),
      remove: () => this.answer(() => void this.networks.delete(lookup().id)),
      connect: (opts: { Container: string }) => this.answer(() => void this.find(opts.Container)?.networks.add(lookup().name)),
      disconnect: (opts: { Container: string }) => this.answer(() => void this.find(opts.Container)?.networks.delete(lookup().name)),
    };
  }

  private volume(name: string): Record<string, unknown> {
    const lookup = () => {
      const found = [...this.volumes.values()].find((each) => each.name === name);
      if (!found) throw engineError(404, `get ${name}: no such volume`);
      return found;
    };
    return {
      name,
      inspect: () => this.answer(() => namedSummary(lookup())),
      remove: () => this.answer(() => void this.volumes.delete(lookup().id)),
    };
  }
}

/** A network's or volume's summary, as Engine API 1.41 lists and inspects them. */
function namedSummary(named: SimulatedNamed): Record<string, unknown> {
  return {
    Id: named.id,
    ID: named.id,
    Name: named.name,
    Labels: named.labels,
    Driver: (named.options.Driver as string) ?? 'local',
    Scope: 'local',
    Internal: Boolean(named.options.Internal),
    Mountpoint: `/var/lib/docker/volumes/${named.name}/_data`,
    Options: {},
  };
}
