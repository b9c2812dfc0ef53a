import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Engine, startEngine, stopEngine } from './engine';
import { BUSYBOX_IMAGE, hasImage, importBusyboxImage } from './image';
import { ensureHostGrantKeys, ensureJwtSecret, ensureMetricsToken, mintKey } from './keys';
import { createNatsOperator, type NatsOperator } from './nats-operator';
import { ensurePrivateDir } from './secret-files';
import { startNats, stopNats } from './nats';
import { AGENT_ENTRYPOINT, GATEWAY_ENTRYPOINT } from './paths';
import { assertPortFree, freePort, stopByPid } from './process';
import { acceptAgents, joinTokenFor, spawnAgent, spawnGateway, waitForAgents, waitForGateway } from './services';
import { createPki } from './pki';
import { type AgentSpec, type AgentState, agentsWithOwnEngine, type FleetState, type FleetTls, logFileOf } from './state';

export interface FleetOptions {
  /** Everything the fleet writes lives here: logs/, engines/, nats/, the JWT secret. */
  dir: string;
  agents: AgentSpec[];
  /** Detached processes outlive the caller (`fleet up`); attached ones belong to it (tests). */
  detached: boolean;
  /** Gateway port; a free one when omitted. */
  port?: number;
  /** Use this NATS instead of starting one. */
  natsUrl?: string;
  /** The operator `natsUrl`'s servers trust (e.g. a cluster's, made with createNatsOperator); none: a NATS without logins. */
  natsOperator?: NatsOperator;
  /** unix:///path/docker.sock: all agents share this engine instead of one private engine each. */
  dockerHost?: string;
  /** pino level for the gateway and agents; default info. */
  logLevel?: string;
  gatewayEnv?: Record<string, string>;
  agentEnv?: Record<string, string>;
  adminKeyTtlSeconds?: number;
  readyTimeoutMs?: number;
  /** Hostnames among `agents` left pending (not accepted): they start, register and are never targeted. */
  pendingAgents?: string[];
  /**
   * HTTPS for the gateway and TLS for the fleet's own NATS, with certificates of a CA made in <dir>/pki (`fleet up`).
   * Without it the gateway serves plain HTTP on loopback, which it is explicitly asked for.
   */
  tls?: boolean;
}

/** The names the local fleet's certificates hold: everything listens on loopback. */
const LOCAL_HOSTS = ['127.0.0.1', 'localhost'];

const NAMED_AGENTS: AgentSpec[] = [
  { hostname: 'web-01', labels: { role: 'web', zone: 'eu.west' } },
  { hostname: 'web-02', labels: { role: 'web', zone: 'us.east' } },
  { hostname: 'db-01', labels: { role: 'db', zone: 'eu.west' } },
];

/** web-01, web-02, db-01 (labels the e2e suites target), then generic node-04, node-05, ... */
export function defaultAgents(count: number): AgentSpec[] {
  return Array.from({ length: count }, (_, index) => NAMED_AGENTS[index] ?? genericAgent(index + 1));
}

function genericAgent(number: number): AgentSpec {
  return { hostname: `node-${String(number).padStart(2, '0')}`, labels: { role: 'generic', zone: 'eu.west' } };
}

type Undo = () => Promise<void>;

/** What exists before the gateway and agents are spawned. */
interface Infrastructure {
  port: number;
  jwtSecretFile: string;
  nats: FleetState['nats'];
  natsOperator: FleetState['natsOperator'];
  engines: Map<string, Engine>;
  tls: FleetTls | undefined;
}

/**
 * Starts NATS, one engine per agent (with the busybox image), the gateway and the agents, and
 * waits until the gateway is healthy and lists every agent live. On failure it stops whatever it
 * had started before rethrowing.
 */
export async function startFleet(opts: FleetOptions): Promise<FleetState> {
  // The fleet's dir holds the signing secret, the NATS config and passwords and the state (with
  // an admin key): nobody else may even list it.
  ensurePrivateDir(opts.dir);
  mkdirSync(join(opts.dir, 'logs'), { recursive: true });
  const jwtSecretFile = join(opts.dir, 'jwt-secret');
  ensureJwtSecret(jwtSecretFile);
  ensureHostGrantKeys(opts.dir);
  ensureMetricsToken(opts.dir);
  // Checked before anything starts, so a busy port fails fast.
  const port = await gatewayPort(opts.port);
  const tls = opts.tls ? await issueFleetCertificates(opts) : undefined;
  const undo: Undo[] = [];
  try {
    const [nats, engines] = await Promise.all([startFleetNats(opts, tls, undo), startFleetEngines(opts, undo)]);
    return await launchServices(opts, { port, jwtSecretFile, ...nats, engines, tls }, undo);
  } catch (err) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    throw err;
  }
}

async function gatewayPort(requested: number | undefined): Promise<number> {
  if (requested === undefined) return freePort();
  await assertPortFree(requested);
  return requested;
}

/**
 * The fleet's CA (made once, kept across `fleet up`s so clients keep trusting it) and fresh certificates for
 * the gateway and, when the fleet starts its own, NATS.
 */
async function issueFleetCertificates(opts: FleetOptions): Promise<FleetTls> {
  const pki = await createPki(join(opts.dir, 'pki'), {
    gatewayHosts: LOCAL_HOSTS,
    natsHosts: opts.natsUrl ? undefined : LOCAL_HOSTS,
    force: true,
  });
  return { caFile: pki.ca, gateway: pki.gateway!, nats: pki.nats ?? null };
}

/** A NATS of our own in operator mode: each service logs in with an NKey identity of its own (agents make theirs when they join). */
async function startFleetNats(
  opts: FleetOptions,
  tls: FleetTls | undefined,
  undo: Undo[],
): Promise<Pick<FleetState, 'nats' | 'natsOperator'>> {
  if (opts.natsUrl) return { nats: null, natsOperator: opts.natsOperator ?? null };
  const operator = createNatsOperator(join(opts.dir, 'nats-operator'));
  const server = await startNats({
    dir: join(opts.dir, 'nats'),
    logFile: logFileOf(opts.dir, 'nats'),
    detached: opts.detached,
    serverName: 'fleet-nats',
    operator,
    tls: tls?.nats ? { certFile: tls.nats.cert, keyFile: tls.nats.key, caFile: tls.caFile } : undefined,
  });
  undo.push(() => stopNats(server));
  return {
    nats: { pid: server.pid, port: server.port, monitorPort: server.monitorPort, configFile: server.configFile },
    natsOperator: operator,
  };
}

/** One engine per agent keyed by hostname, or an empty map when all agents share `dockerHost`. */
async function startFleetEngines(opts: FleetOptions, undo: Undo[]): Promise<Map<string, Engine>> {
  if (opts.dockerHost) {
    await ensureBusyboxImage(socketOfDockerHost(opts.dockerHost));
    return new Map();
  }
  const engines = await allSettledOrThrow(
    opts.agents.map(async (agent) => {
      const engine = await startEngine({
        dir: join(opts.dir, 'engines', agent.hostname),
        logFile: logFileOf(opts.dir, `engine-${agent.hostname}`),
        detached: opts.detached,
      });
      undo.push(() => stopEngine(engine, { killContainers: !opts.detached }));
      await ensureBusyboxImage(engine.socket);
      return [agent.hostname, engine] as const;
    }),
  );
  return new Map(engines);
}

/** A persistent engine (`fleet up` after `down`) already has the image; re-importing would leave a dangling copy. */
async function ensureBusyboxImage(socket: string): Promise<void> {
  if (!(await hasImage(socket, BUSYBOX_IMAGE))) await importBusyboxImage(socket, BUSYBOX_IMAGE);
}

function socketOfDockerHost(dockerHost: string): string {
  if (!dockerHost.startsWith('unix://')) throw new Error(`docker host must be unix:///path/to/docker.sock, got ${dockerHost}`);
  return dockerHost.slice('unix://'.length);
}

/** Like Promise.all, but waits for every promise so that nothing is still starting while we clean up. */
async function allSettledOrThrow<T>(promises: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failure = results.find((result) => result.status === 'rejected');
  if (failure) throw failure.reason;
  return results.map((result) => (result as PromiseFulfilledResult<T>).value);
}

/**
 * Spawns the gateway and, once it is healthy, the agents: the gateway creates the streams and
 * buckets the agents open at start-up.
 */
async function launchServices(opts: FleetOptions, infra: Infrastructure, undo: Undo[]): Promise<FleetState> {
  const state: FleetState = {
    url: `${infra.tls ? 'https' : 'http'}://127.0.0.1:${infra.port}`,
    adminKey: mintKey(infra.jwtSecretFile, 'admin', { ttlSeconds: opts.adminKeyTtlSeconds ?? 86_400, subject: 'local-admin' }),
    natsUrl: opts.natsUrl ?? `nats://127.0.0.1:${infra.nats?.port}`,
    dir: opts.dir,
    jwtSecretFile: infra.jwtSecretFile,
    detached: opts.detached,
    logLevel: opts.logLevel ?? 'info',
    gatewayEnv: opts.gatewayEnv ?? {},
    agentEnv: opts.agentEnv ?? {},
    gateway: { pid: 0, port: infra.port },
    nats: infra.nats,
    natsOperator: infra.natsOperator,
    agents: opts.agents.map((agent) => agentState(agent, infra.engines.get(agent.hostname), opts.dockerHost)),
    tls: infra.tls,
  };
  state.gateway.pid = spawnGateway(state);
  undo.push(() => stopByPid(state.gateway.pid, { marker: GATEWAY_ENTRYPOINT }));
  await waitForGateway(state, opts.readyTimeoutMs);
  const pending = new Set(opts.pendingAgents ?? []);
  await acceptAgents(
    state,
    state.agents.filter((agent) => !pending.has(agent.hostname)),
  );
  const joinTokens = await Promise.all(state.agents.map((agent) => joinTokenFor(state, agent)));
  for (const [index, agent] of state.agents.entries()) {
    agent.agentPid = spawnAgent(state, agent, joinTokens[index]);
    undo.push(() => stopByPid(agent.agentPid, { marker: AGENT_ENTRYPOINT }));
  }
  await waitForAgents(state, state.agents, { timeoutMs: opts.readyTimeoutMs, pending: [...pending] });
  return state;
}

/** PIDs start at 0 (none yet) and are filled in as the processes are spawned. */
function agentState(agent: AgentSpec, engine: Engine | undefined, dockerHost: string | undefined): AgentState {
  return {
    ...agent,
    socket: engine ? engine.socket : socketOfDockerHost(dockerHost ?? ''),
    engineDir: engine ? engine.dir : null,
    enginePid: engine ? engine.pid : null,
    agentPid: 0,
  };
}

export interface FleetStopOptions {
  /** Kill containers before stopping engines (fast; for fleets whose data is deleted afterwards). */
  killContainers?: boolean;
}

/**
 * Stops every process the state lists, by PID: agents, gateway, NATS, then engines (last, so
 * agents never see their engine vanish first). Keeps going past failures and reports them at the end.
 */
export async function stopFleet(state: FleetState, opts: FleetStopOptions = {}): Promise<void> {
  const failures: unknown[] = [];
  const attempt = (work: Promise<void>) => work.catch((err: unknown) => void failures.push(err));
  await Promise.all(state.agents.map((agent) => attempt(stopByPid(agent.agentPid, { marker: AGENT_ENTRYPOINT }))));
  await attempt(stopByPid(state.gateway.pid, { marker: GATEWAY_ENTRYPOINT }));
  if (state.nats) await attempt(stopNats(state.nats));
  await Promise.all(agentsWithOwnEngine(state).map((agent) => attempt(stopEngine({ pid: agent.enginePid, dir: agent.engineDir }, opts))));
  if (failures.length > 0) throw new AggregateError(failures, `stopping the fleet in ${state.dir} failed`);
}
