/**
 * SCALE HARNESS ONLY — the part of the simulated engine (simulated-engine.ts) that stacks reach: the networks,
 * volumes and containers an agent's stack reconciler creates, kept in memory per engine, with the label and name
 * filters it lists them by. Images are always present (nothing is pulled), and no container has a healthcheck.
 */
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';

type Labels = Record<string, string>;
type Summary = Record<string, unknown> & { Id: string; Names: string[]; Labels: Labels; State: string };
interface Named {
  Name: string;
  Id: string;
  Labels: Labels;
}

/** The Engine's `filters` query (JSON) as a map of string lists. */
function filtersOf(query: { filters?: string | Record<string, string[]> } = {}): Record<string, string[]> {
  if (!query.filters) return {};
  return typeof query.filters === 'string' ? JSON.parse(query.filters) : query.filters;
}

/** `label=key` or `label=key=value`, every one of them, as the Engine matches them. */
function labelsMatch(labels: Labels, wanted: string[] = []): boolean {
  return wanted.every((entry) => {
    const [key, ...value] = entry.split('=');
    return value.length === 0 ? key in labels : labels[key] === value.join('=');
  });
}

/** The Engine's name filter matches a part of the name. */
const namesMatch = (name: string, wanted: string[] = []) => wanted.length === 0 || wanted.some((part) => name.includes(part));

export class SimulatedStackObjects {
  private readonly containers = new Map<string, Summary>();
  private readonly networks = new Map<string, Named>();
  private readonly volumes = new Map<string, Named>();
  private created = 0;

  constructor(private readonly hostname: string) {}

  /** Of `all` (the engine's other containers too), those the query's label filter picks. */
  listContainers(all: Array<Record<string, unknown>>, query: { filters?: string } = {}): Array<Record<string, unknown>> {
    const wanted = filtersOf(query).label;
    const every = [...all, ...this.containers.values()];
    return wanted ? every.filter((container) => labelsMatch((container.Labels ?? {}) as Labels, wanted)) : every;
  }

  container(id: string): Summary | undefined {
    return this.containers.get(id) ?? [...this.containers.values()].find((summary) => summary.Id === id);
  }

  createContainer(body: Record<string, unknown> & { name: string }): Summary {
    if (this.containers.has(body.name)) throw conflict(`The container name "/${body.name}" is already in use`);
    const summary: Summary = {
      Id: hex(`${this.hostname}/stack/${body.name}/${this.created++}`),
      Names: [`/${body.name}`],
      Image: body.Image,
      Labels: (body.Labels ?? {}) as Labels,
      State: 'created',
      Status: 'Created',
    };
    this.containers.set(body.name, summary);
    return summary;
  }

  setState(id: string, state: 'running' | 'exited'): void {
    const summary = this.container(id);
    if (summary) summary.State = state;
  }

  removeContainer(id: string): boolean {
    const summary = this.container(id);
    return summary !== undefined && this.containers.delete(summary.Names[0].slice(1));
  }

  listNetworks(query: { filters?: string } = {}): Named[] {
    const filters = filtersOf(query);
    return [...this.networks.values()].filter(
      (network) => namesMatch(network.Name, filters.name) && labelsMatch(network.Labels, filters.label),
    );
  }

  createNetwork(body: { Name: string; Labels?: Labels }): { Id: string } {
    if (this.networks.has(body.Name)) throw conflict(`network with name ${body.Name} already exists`);
    const network = { Name: body.Name, Id: hex(`${this.hostname}/network/${body.Name}`), Labels: body.Labels ?? {} };
    this.networks.set(body.Name, network);
    return { Id: network.Id };
  }

  removeNetwork(name: string): boolean {
    return this.networks.delete(name);
  }

  hasNetwork(name: string): boolean {
    return this.networks.has(name);
  }

  listVolumes(query: { filters?: string } = {}): { Volumes: Named[]; Warnings: null } {
    const filters = filtersOf(query);
    const volumes = [...this.volumes.values()].filter(
      (volume) => namesMatch(volume.Name, filters.name) && labelsMatch(volume.Labels, filters.label),
    );
    return { Volumes: volumes, Warnings: null };
  }

  createVolume(body: { Name: string; Labels?: Labels }): Named {
    const volume = this.volumes.get(body.Name) ?? { Name: body.Name, Id: body.Name, Labels: body.Labels ?? {} };
    this.volumes.set(body.Name, volume);
    return volume;
  }
}

/** An events stream that stays open and says nothing (nothing changes a simulated engine behind the agent's back). */
export function quietEvents(query: { abortSignal?: AbortSignal } = {}): PassThrough {
  const stream = new PassThrough();
  query.abortSignal?.addEventListener('abort', () => stream.end(), { once: true });
  return stream;
}

function conflict(message: string): Error {
  return Object.assign(new Error(`(HTTP code 409) ${message}`), { statusCode: 409, json: { message } });
}

function hex(seed: string): string {
  return createHash('sha256').update(seed).digest('hex');
}
