import type Docker from 'dockerode';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Role } from '@fleet/contracts/permissions';
import { killAgent, restartGateway, startAgent, startAgentEngine, stopAgent, stopAgentEngine } from '../../deploy/lib/control';
import { defaultAgents, startFleet, stopFleet } from '../../deploy/lib/fleet';
import { type AgentSpec, agentOf, type AgentState, type FleetState, logFileOf } from '../../deploy/lib/state';
import { type KeyOptions, mintKey } from '../../deploy/lib/keys';
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
}

/** A whole fleet (NATS, gateway, one dockerd + agent per host) owned by one jest suite. */
export class TestFleet {
  constructor(readonly state: FleetState) {}

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

  /** A process's log so far: 'gateway', 'nats', 'agent-web-01', 'engine-web-01'. */
  log(name: string): string {
    return readFileSync(logFileOf(this.state.dir, name), 'utf8');
  }

  /** Stops every process and removes the temp dir (kept with FLEET_KEEP_TEST_DIR=1, or when a process would not stop). */
  async stop(): Promise<void> {
    await stopFleet(this.state, { killContainers: true });
    removeTestDir(this.state.dir);
  }
}

/** Starts a fleet in a short /tmp dir (unix socket paths are limited) with attached processes. */
export async function startTestFleet(opts: TestFleetOptions = {}): Promise<TestFleet> {
  const dir = mkdtempSync('/tmp/flt-');
  try {
    const state = await startFleet({
      dir,
      agents: opts.agents ?? defaultAgents(3),
      detached: false,
      logLevel: opts.logLevel,
      gatewayEnv: opts.gatewayEnv,
      agentEnv: opts.agentEnv,
    });
    return new TestFleet(state);
  } catch (err) {
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
