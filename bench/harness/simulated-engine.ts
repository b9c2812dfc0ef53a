/**
 * SCALE HARNESS ONLY — never used by functional tests.
 *
 * A simulated Docker engine: an object with the dockerode methods the agent's
 * executors and Registration call, answered from memory. It lets one machine
 * run thousands of real agents (bench/harness/swarm.ts) without thousands of
 * dockerd. Anything it does not simulate rejects like an engine error (501),
 * so a benchmark that strays off the simulated path fails loudly.
 */
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { quietEvents, SimulatedStackObjects } from './simulated-stacks';

export interface SimulatedEngineOptions {
  hostname: string;
  /** Containers this host reports (all running). */
  containers: number;
  /** Added to every call, in ms (0: answer on the next tick). */
  latencyMs?: number;
  /** Containers whose id starts with this block on inspect until released (in-flight job measurements). */
  hold?: HoldGate;
  /** A restart fails here as on an engine whose container is gone (404): a failure injected for rollouts. */
  failRestart?: boolean;
  /** Called on every container restart, failed or not, so a bench can count what reached each engine. */
  onRestart?: () => void;
}

/**
 * Shared by all simulated engines of a swarm process: while armed, `held…`
 * inspects wait until release() (or a bound); once released they pass until armed again.
 */
export class HoldGate {
  private waiting: Array<() => void> = [];
  private armed = true;

  wait(maxMs: number): Promise<void> {
    if (!this.armed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, maxMs);
      timer.unref();
      this.waiting.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  arm(): void {
    this.armed = true;
  }

  release(): number {
    this.armed = false;
    const released = this.waiting.length;
    this.waiting.forEach((go) => go());
    this.waiting = [];
    return released;
  }

  get held(): number {
    return this.waiting.length;
  }
}

const ENGINE_VERSION = '20.10.24-simulated';
const HOLD_PREFIX = 'held';
const HOLD_MAX_MS = 60_000;

/** dockerode's own demultiplexer, from a client that never connects. */
const modem = new Docker({ socketPath: '/nonexistent/simulated.sock' }).modem;

interface EngineError extends Error {
  statusCode: number;
  json: { message: string };
}

function engineError(statusCode: number, message: string): EngineError {
  return Object.assign(new Error(`(HTTP code ${statusCode}) ${message}`), { statusCode, json: { message } });
}

function hex(seed: string): string {
  return createHash('sha256').update(seed).digest('hex');
}

/** Shaped like GET /containers/json of Engine API 1.41. */
function containerSummary(hostname: string, index: number): Record<string, unknown> {
  const id = hex(`${hostname}/${index}`);
  return {
    Id: id,
    Names: [`/app-${index}`],
    Image: 'local/busybox:latest',
    ImageID: `sha256:${hex('local/busybox')}`,
    Command: 'sleep 3600',
    Created: 1_700_000_000 + index,
    Ports: [],
    Labels: { 'com.fleet.role': 'app', 'com.fleet.index': String(index) },
    State: 'running',
    Status: 'Up 2 hours',
    HostConfig: { NetworkMode: 'none' },
    NetworkSettings: {
      Networks: {
        none: {
          IPAMConfig: null,
          Links: null,
          Aliases: null,
          NetworkID: hex('none'),
          EndpointID: hex(`${hostname}/${index}/ep`),
          Gateway: '',
          IPAddress: '',
          IPPrefixLen: 0,
          IPv6Gateway: '',
          GlobalIPv6Address: '',
          GlobalIPv6PrefixLen: 0,
          MacAddress: '',
          DriverOpts: null,
        },
      },
    },
    Mounts: [],
  };
}

function containerInspect(hostname: string, id: string, summary?: Record<string, unknown>): Record<string, unknown> {
  return {
    Id: summary?.Id ?? hex(`${hostname}/${id}`),
    Created: '2024-01-01T00:00:00.000000000Z',
    Path: 'sleep',
    Args: ['3600'],
    State: {
      Status: 'running',
      Running: true,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: 4242,
      ExitCode: 0,
      Error: '',
      StartedAt: '2024-01-01T00:00:01Z',
      FinishedAt: '0001-01-01T00:00:00Z',
    },
    Image: `sha256:${hex('local/busybox')}`,
    Name: `/${id}`,
    RestartCount: 0,
    Driver: 'overlay2',
    Platform: 'linux',
    HostConfig: { NetworkMode: 'none', RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, Memory: 0, NanoCpus: 0 },
    Config: {
      Hostname: id.slice(0, 12),
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: ['sleep', '3600'],
      Image: 'local/busybox:latest',
      Labels: summary?.Labels ?? {},
    },
    NetworkSettings: summary?.NetworkSettings ?? {},
    Mounts: [],
  };
}

/** Builds the engine; cast to Docker where the agent expects one. */
export function simulatedEngine(opts: SimulatedEngineOptions): Docker {
  const containers = Array.from({ length: opts.containers }, (_, index) => containerSummary(opts.hostname, index));
  const byName = new Map<string, Record<string, unknown>>();
  containers.forEach((summary, index) => {
    byName.set(`app-${index}`, summary);
    byName.set(String(summary.Id), summary);
  });
  const answer = async <T>(value: () => T): Promise<T> => {
    if (opts.latencyMs) await new Promise((resolve) => setTimeout(resolve, opts.latencyMs));
    else await new Promise((resolve) => setImmediate(resolve));
    return value();
  };

  const stacks = new SimulatedStackObjects(opts.hostname);
  const engine = {
    modem,
    listContainers: (query: { all?: boolean; limit?: number; filters?: string } = {}) =>
      answer(() => (query.limit ? containers.slice(0, query.limit) : stacks.listContainers(containers, query))),
    getContainer: (id: string) => simulatedContainer(opts, id, byName.get(id), answer, stacks),
    // What a stack's reconciler and drift watch call (simulated-stacks.ts).
    getEvents: (query?: { abortSignal?: AbortSignal }) => answer(() => quietEvents(query)),
    getImage: (name: string) =>
      notSimulatedElsewhere({ inspect: () => answer(() => ({ Id: `sha256:${hex(name)}`, RepoTags: [name] })) }, `image ${name}`),
    createContainer: (body: Record<string, unknown> & { name: string }) =>
      answer(() => {
        const summary = stacks.createContainer(body);
        return simulatedContainer(opts, summary.Id, undefined, answer, stacks);
      }),
    listNetworks: (query?: { filters?: string }) => answer(() => stacks.listNetworks(query)),
    createNetwork: (body: { Name: string; Labels?: Record<string, string> }) => answer(() => stacks.createNetwork(body)),
    getNetwork: (name: string) => simulatedNetwork(name, answer, stacks),
    listVolumes: (query?: { filters?: string }) => answer(() => stacks.listVolumes(query)),
    createVolume: (body: { Name: string; Labels?: Record<string, string> }) => answer(() => stacks.createVolume(body)),
    ping: () => answer(() => Buffer.from('OK')),
    version: () =>
      answer(() => ({
        Version: ENGINE_VERSION,
        ApiVersion: '1.41',
        MinAPIVersion: '1.12',
        Os: 'linux',
        Arch: 'amd64',
        KernelVersion: '6.1.0',
        GoVersion: 'go1.19.8',
      })),
    info: () =>
      answer(() => ({
        ID: hex(opts.hostname),
        Name: opts.hostname,
        Containers: containers.length,
        ContainersRunning: containers.length,
        Images: 1,
        ServerVersion: ENGINE_VERSION,
        NCPU: 2,
        MemTotal: 8 << 30,
      })),
  };
  return notSimulatedElsewhere(engine, 'engine') as unknown as Docker;
}

function simulatedContainer(
  opts: SimulatedEngineOptions,
  id: string,
  summary: Record<string, unknown> | undefined,
  answer: <T>(value: () => T) => Promise<T>,
  stacks: SimulatedStackObjects,
): object {
  const ofStack = stacks.container(id);
  if (!summary && ofStack) return simulatedStackContainer(opts, ofStack, answer, stacks);
  const exists = summary !== undefined || id.startsWith(HOLD_PREFIX) || id === 'bench';
  const missing = () => Promise.reject(engineError(404, `No such container: ${id}`));
  const container = {
    id,
    inspect: async () => {
      if (!exists) return missing();
      if (id.startsWith(HOLD_PREFIX) && opts.hold) await opts.hold.wait(HOLD_MAX_MS);
      return answer(() => containerInspect(opts.hostname, id, summary));
    },
    exec: async () => {
      if (!exists) return missing();
      return answer(() => simulatedExec());
    },
    restart: async () => {
      opts.onRestart?.();
      if (!exists || opts.failRestart) return missing();
      return answer(() => undefined);
    },
  };
  return notSimulatedElsewhere(container, `container ${id}`);
}

/** A container a stack created: its state follows start, stop and remove. */
function simulatedStackContainer(
  opts: SimulatedEngineOptions,
  summary: Record<string, unknown> & { Id: string; State: string },
  answer: <T>(value: () => T) => Promise<T>,
  stacks: SimulatedStackObjects,
): object {
  const id = summary.Id;
  const gone = () => Promise.reject(engineError(404, `No such container: ${id}`));
  const container = {
    id,
    inspect: () =>
      stacks.container(id)
        ? answer(() => {
            const inspect = containerInspect(opts.hostname, id, summary);
            const running = summary.State === 'running';
            return { ...inspect, State: { ...(inspect.State as object), Status: summary.State, Running: running } };
          })
        : gone(),
    start: () => (stacks.container(id) ? answer(() => stacks.setState(id, 'running')) : gone()),
    stop: () => (stacks.container(id) ? answer(() => stacks.setState(id, 'exited')) : gone()),
    remove: () => (stacks.removeContainer(id) ? answer(() => undefined) : gone()),
  };
  return notSimulatedElsewhere(container, `container ${id}`);
}

function simulatedNetwork(name: string, answer: <T>(value: () => T) => Promise<T>, stacks: SimulatedStackObjects): object {
  const gone = () => Promise.reject(engineError(404, `network ${name} not found`));
  const network = {
    connect: () => (stacks.hasNetwork(name) ? answer(() => undefined) : gone()),
    remove: () => (stacks.removeNetwork(name) ? answer(() => undefined) : gone()),
  };
  return notSimulatedElsewhere(network, `network ${name}`);
}

/** An exec of a command that prints nothing and exits 0 (`true`). */
function simulatedExec(): object {
  return {
    start: async () => {
      const stream = new PassThrough();
      setImmediate(() => stream.end());
      return stream;
    },
    inspect: async () => ({ Running: false, ExitCode: 0, Pid: 0 }),
  };
}

/** Any method the harness does not simulate rejects with a 501 engine error naming it. */
function notSimulatedElsewhere<T extends object>(target: T, what: string): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      if (property in object || typeof property === 'symbol' || property === 'then') return Reflect.get(object, property, receiver);
      return () => Promise.reject(engineError(501, `simulated engine: ${what}.${String(property)} is not simulated`));
    },
  });
}
