import type Docker from 'dockerode';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Role } from '@fleet/contracts/permissions';
import {
  agentOf,
  type AgentSpec,
  type AgentState,
  defaultAgents,
  type FleetState,
  createNatsOperator,
  type GatewayReplica,
  type KeyOptions,
  killAgent,
  killGateway,
  killNats,
  killNatsNode,
  logFileOf,
  metricsTokenFile,
  mintKey,
  type NatsCluster,
  type NatsClusterNode,
  restartGateway,
  restartNatsNode,
  startAgent,
  startAgentEngine,
  startFleet,
  startGatewayAgain,
  startGatewayReplica,
  startNatsAgain,
  startNatsCluster,
  stopAgent,
  stopAgentEngine,
  stopFleet,
  stopGatewayReplica,
  stopNatsCluster,
} from '@fleet/deploy';
import { docker } from './docker';

export interface TestFleetOptions {
  /** Default: web-01 (role=web,zone=eu.west), web-02 (role=web,zone=us.east), db-01 (role=db,zone=eu.west). */
  agents?: AgentSpec[];
  /** pino level of the gateway and agents; default info. */
  logLevel?: string;
  /** Extra gateway variables, e.g. { FLEET_JOB_RETENTION_SECONDS: '60' }. */
  gatewayEnv?: Record<string, string>;
  /** Extra agent variables, e.g. { FLEET_AGENT_HEARTBEAT_MS: '500' }. */
  agentEnv?: Record<string, string>;
  /**
   * Run on a NATS cluster of this many nodes (loopback, file storage) instead of one server; the
   * gateway and agents get every node's URL in FLEET_NATS_URL. Replicas are the caller's choice
   * (gatewayEnv FLEET_JETSTREAM_REPLICAS).
   */
  natsCluster?: number;
  /** Hostnames among `agents` left pending (not accepted): listed with the labels they ask for, never targeted. */
  pendingAgents?: string[];
  /**
   * HTTPS and NATS TLS with a CA of the fleet's own, as `fleet up` runs (README "TLS"). Without it the gateway
   * serves plain HTTP on loopback, asked for explicitly (FLEET_HTTP_INSECURE=loopback).
   */
  tls?: boolean;
}

/** A whole fleet (NATS, gateway, one dockerd + agent per host) owned by one jest suite. */
export class TestFleet {
  private readonly replicas: GatewayReplica[] = [];

  constructor(
    readonly state: FleetState,
    /** Set when the fleet runs on a NATS cluster of its own (see TestFleetOptions.natsCluster). */
    readonly cluster?: NatsCluster,
  ) {}

  get url(): string {
    return this.state.url;
  }

  get adminKey(): string {
    return this.state.adminKey;
  }

  get natsUrl(): string {
    return this.state.natsUrl;
  }

  get dir(): string {
    return this.state.dir;
  }

  get agents(): readonly AgentState[] {
    return this.state.agents;
  }

  /** The bearer token the gateway's /metrics needs, as `fleet up` made it. */
  get metricsToken(): string {
    return readFileSync(metricsTokenFile(this.state.dir), 'utf8').trim();
  }

  /** A fresh key signed with this fleet's secret; `{ ttlSeconds: -1 }` gives an expired one. */
  mintKey(role: Role, opts?: KeyOptions): string {
    return mintKey(this.state.jwtSecretFile, role, opts);
  }

  socketOf(hostname: string): string {
    return agentOf(this.state, hostname).socket;
  }

  /** dockerode on the host's engine, to check what the agent really did. */
  docker(hostname: string): Docker {
    return docker(this.socketOf(hostname));
  }

  /** Removes each named container from each host's engine, whether or not it is there (a suite's clean-up). */
  async removeContainers(hosts: readonly string[], names: readonly string[]): Promise<void> {
    const remove = (host: string, name: string) =>
      this.docker(host)
        .getContainer(name)
        .remove({ force: true })
        .catch(() => undefined);
    await Promise.all(hosts.flatMap((host) => names.map((name) => remove(host, name))));
  }

  /** SIGKILL (default) simulates a crash and waits for the death; other signals just get sent. */
  killAgent(hostname: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return killAgent(this.state, hostname, signal);
  }

  /** Graceful stop: the agent deregisters. */
  stopAgent(hostname: string): Promise<void> {
    return stopAgent(this.state, hostname);
  }

  /** Starts a stopped or killed agent again and waits until GET /agent lists it live. */
  startAgent(hostname: string): Promise<void> {
    return startAgent(this.state, hostname);
  }

  /** Same port, same secret, same NATS: nothing a client holds becomes invalid. */
  restartGateway(): Promise<void> {
    return restartGateway(this.state);
  }

  stopEngine(hostname: string): Promise<void> {
    return stopAgentEngine(this.state, hostname);
  }

  startEngine(hostname: string): Promise<void> {
    return startAgentEngine(this.state, hostname);
  }

  get gatewayPid(): number {
    return this.state.gateway.pid;
  }

  agentPid(hostname: string): number {
    return agentOf(this.state, hostname).agentPid;
  }

  /** SIGKILL (default) the gateway and wait for its death: no clean shutdown, open calls are cut. */
  killGateway(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return killGateway(this.state, signal);
  }

  /** Starts the killed gateway again on the same port; resolves once /health answers. */
  startGateway(): Promise<void> {
    return startGatewayAgain(this.state);
  }

  /** A second (third, ...) gateway process on its own port, same NATS and secret; stopped by stop(). */
  async startGatewayReplica(name: string): Promise<GatewayReplica> {
    const replica = await startGatewayReplica(this.state, name);
    this.replicas.push(replica);
    return replica;
  }

  /** SIGKILL (default) the single NATS server this fleet started; its store stays for startNats(). */
  killNats(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return killNats(this.state, signal);
  }

  /** Starts the killed NATS server again on the same port, config and store. */
  startNats(): Promise<void> {
    return startNatsAgain(this.state);
  }

  /** Node `index` (1-based) of this fleet's NATS cluster. */
  natsNode(index: number): NatsClusterNode {
    const node = this.cluster?.nodes.find((candidate) => candidate.index === index);
    if (!node) throw new Error(`this fleet has no NATS cluster node ${index}`);
    return node;
  }

  killNatsNode(index: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return killNatsNode(this.natsNode(index), signal);
  }

  /** Starts a killed cluster node again on its own store; resolves once the cluster is healthy. */
  restartNatsNode(index: number): Promise<void> {
    if (!this.cluster) throw new Error('this fleet has no NATS cluster');
    return restartNatsNode(this.cluster, this.natsNode(index));
  }

  /** A process's log so far: 'gateway', 'nats', 'agent-web-01', 'engine-web-01'. */
  log(name: string): string {
    return readFileSync(logFileOf(this.state.dir, name), 'utf8');
  }

  /** Stops every process and removes the temp dir (kept with FLEET_KEEP_TEST_DIR=1, or when a process would not stop). */
  async stop(): Promise<void> {
    const failures: unknown[] = [];
    for (const replica of this.replicas) await stopGatewayReplica(replica).catch((err: unknown) => void failures.push(err));
    await stopFleet(this.state, { killContainers: true }).catch((err: unknown) => void failures.push(err));
    if (this.cluster) await stopNatsCluster(this.cluster).catch((err: unknown) => void failures.push(err));
    if (failures.length > 0) throw new AggregateError(failures, `stopping the test fleet in ${this.state.dir} failed (dir kept)`);
    removeTestDir(this.state.dir);
  }
}

/**
 * The suites' registries run on loopback at a free port (startRegistry): gateway and agents admit
 * them beside Docker Hub (README "Host-level access"), and nothing else.
 */
export const TEST_REGISTRY_ALLOWLIST = 'docker.io,index.docker.io,registry-1.docker.io,127.0.0.1,localhost';
const TEST_REGISTRIES = { FLEET_REGISTRY_ALLOWLIST: TEST_REGISTRY_ALLOWLIST };

/** Starts a fleet in a short /tmp dir (unix socket paths are limited) with attached processes. */
export async function startTestFleet(opts: TestFleetOptions = {}): Promise<TestFleet> {
  const dir = mkdtempSync('/tmp/flt-');
  let cluster: NatsCluster | undefined;
  const agents = opts.agents ?? defaultAgents(3);
  // A cluster trusts the same operator as a single server would.
  const operator = opts.natsCluster ? createNatsOperator(join(dir, 'nats-operator')) : undefined;
  try {
    if (opts.natsCluster) {
      mkdirSync(join(dir, 'logs'), { recursive: true });
      cluster = await startNatsCluster({
        dir: join(dir, 'nats'),
        operator,
        logFileOf: (index) => logFileOf(dir, `nats-${index}`),
        size: opts.natsCluster,
        detached: false,
      });
    }
    const state = await startFleet({
      dir,
      agents,
      detached: false,
      natsUrl: cluster?.urls,
      natsOperator: operator,
      logLevel: opts.logLevel,
      gatewayEnv: { ...TEST_REGISTRIES, ...opts.gatewayEnv },
      agentEnv: { ...TEST_REGISTRIES, ...opts.agentEnv },
      pendingAgents: opts.pendingAgents,
      tls: opts.tls,
    });
    return new TestFleet(state, cluster);
  } catch (err) {
    if (cluster) await stopNatsCluster(cluster).catch(() => undefined);
    removeTestDir(dir);
    throw err;
  }
}

function removeTestDir(dir: string): void {
  if (process.env.FLEET_KEEP_TEST_DIR === '1') {
    process.stderr.write(`FLEET_KEEP_TEST_DIR=1: keeping ${dir}\n`);
    return;
  }
  rmSync(dir, { recursive: true, force: true });
}
