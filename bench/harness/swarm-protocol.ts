/** SCALE HARNESS ONLY: what the bench and a swarm process (./swarm.ts) say to each other over IPC. */
/** How a swarm runs its agents; a caller names only what it measures, the rest is SWARM_DEFAULTS. */
export interface SwarmSettings {
  heartbeatMs: number;
  /** The agents' FLEET_AGENT_REFRESH_MS; unset: the agent's default. */
  refreshMs?: number;
  concurrency: number;
  containersPerHost: number;
  /** Agents started at once. */
  startParallel: number;
  /** Give up starting after this long and report how far it got. */
  startTimeoutMs: number;
  logLevel: string;
}

export const SWARM_DEFAULTS: SwarmSettings = {
  heartbeatMs: 5000,
  concurrency: 32,
  containersPerHost: 1,
  startParallel: 50,
  startTimeoutMs: 240_000,
  logLevel: 'warn',
};

export interface SwarmConfig extends Partial<SwarmSettings> {
  natsUrl: string;
  /** The gateway's public key (PEM file): every agent verifies its jobs' seals with it. */
  hostGrantPublicKeyFile: string;
  /** Hostnames are `${prefix}${index padded to 5}` for index in [from, from + count). */
  prefix: string;
  from: number;
  count: number;
  /** Hostnames whose simulated engine fails every container restart (404). */
  failingHosts?: string[];
}

export type SwarmRequest =
  { type: 'arm' } | { type: 'release' } | { type: 'stats' } | { type: 'restarts' } | { type: 'counted' } | { type: 'stop' };
export type SwarmReport =
  | { type: 'progress'; started: number }
  | { type: 'ready'; started: number; failed: number; ms: number; errors: string[] }
  | { type: 'armed' }
  | { type: 'released'; count: number }
  | { type: 'stats'; rssBytes: number; heapUsedBytes: number; held: number; agents: number }
  /** Container restarts each host's engine received so far (hosts with none left out). */
  | { type: 'restarts'; byHost: Record<string, number> }
  /** Restarts of `counted-…` containers (COUNTED_PREFIX) by `<hostname> <container>`. */
  | { type: 'counted'; byHostAndContainer: Record<string, number> }
  | { type: 'stopped'; ms: number };

const ROLES = ['web', 'db', 'cache', 'batch'];
const ZONES = ['eu.west.1', 'eu.west.2', 'us.east.1', 'ap.south.1'];

export function swarmHostname(prefix: string, index: number): string {
  return `${prefix}${String(index).padStart(5, '0')}`;
}

export function swarmLabels(index: number): Record<string, string> {
  return { role: ROLES[index % ROLES.length], zone: ZONES[Math.floor(index / ROLES.length) % ZONES.length], swarm: 'sim' };
}
