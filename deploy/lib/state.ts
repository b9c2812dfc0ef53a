import type { CertificateFiles } from './pki';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { engineSocketOf } from './engine';
import type { NatsOperator } from './nats-operator';
import { AGENT_ENTRYPOINT, GATEWAY_ENTRYPOINT } from './paths';
import { writeSecretFile } from './secret-files';

export interface AgentSpec {
  hostname: string;
  labels: Record<string, string>;
}

export interface AgentState extends AgentSpec {
  /** Engine socket the agent talks to. */
  socket: string;
  /** Null when the agents share an engine this fleet did not start (`dockerHost`). */
  engineDir: string | null;
  enginePid: number | null;
  agentPid: number;
}

/** An agent whose engine this fleet started (and so must stop). */
export type AgentWithOwnEngine = AgentState & { engineDir: string; enginePid: number };

/** Plain data (saved as .fleet/state.json by `fleet up`) describing every process of a running fleet. */
export interface FleetState {
  url: string;
  adminKey: string;
  natsUrl: string;
  dir: string;
  jwtSecretFile: string;
  detached: boolean;
  logLevel: string;
  /** Extra variables the gateway and agents were started with; restarts reuse them. */
  gatewayEnv: Record<string, string>;
  agentEnv: Record<string, string>;
  gateway: { pid: number; port: number };
  /** Null when the fleet uses a NATS it did not start (`natsUrl`). */
  nats: { pid: number; port: number; monitorPort: number; configFile: string } | null;
  /** The NATS operator the fleet's servers trust (its keys and the gateway's logins); null: a NATS without logins. */
  natsOperator: NatsOperator | null;
  agents: AgentState[];
  /** Set when the fleet runs with TLS (`fleet up`): the gateway serves HTTPS and its own NATS, if any, speaks TLS. */
  tls?: FleetTls;
}

export interface FleetTls {
  /** The fleet's CA (`<dir>/pki/ca.pem`), which clients (CLI, docker CLI, curl) trust. */
  caFile: string;
  gateway: CertificateFiles;
  /** The NATS the fleet started listens with this certificate; null when the fleet uses a NATS it did not start. */
  nats: CertificateFiles | null;
}

export interface FleetProcess {
  name: string;
  pid: number;
  /** Part of the process's command line that tells it apart from a stranger that reused its PID. */
  marker: string;
}

export function logFileOf(dir: string, name: string): string {
  return join(dir, 'logs', `${name}.log`);
}

export function agentOf(state: FleetState, hostname: string): AgentState {
  const agent = state.agents.find((candidate) => candidate.hostname === hostname);
  if (!agent) throw new Error(`no agent ${hostname} in this fleet (has ${state.agents.map((a) => a.hostname).join(', ')})`);
  return agent;
}

export function agentsWithOwnEngine(state: FleetState): AgentWithOwnEngine[] {
  return state.agents.filter((agent): agent is AgentWithOwnEngine => agent.enginePid !== null && agent.engineDir !== null);
}

/** Every process of the fleet, for status displays. */
export function fleetProcesses(state: FleetState): FleetProcess[] {
  return [
    ...(state.nats ? [{ name: 'nats', pid: state.nats.pid, marker: state.nats.configFile }] : []),
    ...agentsWithOwnEngine(state).map((agent) => ({
      name: `engine ${agent.hostname}`,
      pid: agent.enginePid,
      marker: engineSocketOf(agent.engineDir),
    })),
    { name: 'gateway', pid: state.gateway.pid, marker: GATEWAY_ENTRYPOINT },
    ...state.agents.map((agent) => ({ name: `agent ${agent.hostname}`, pid: agent.agentPid, marker: AGENT_ENTRYPOINT })),
  ];
}

/** Where a detached fleet records its processes, so later commands (down, status) can find them. */
export function stateFileOf(dir: string): string {
  return join(dir, 'state.json');
}

/** Mode 600: the file holds an admin key. */
export function saveFleetState(state: FleetState): void {
  writeSecretFile(stateFileOf(state.dir), `${JSON.stringify(state, null, 2)}\n`);
}

export function loadFleetState(dir: string): FleetState | undefined {
  const file = stateFileOf(dir);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as FleetState) : undefined;
}

export function removeFleetState(dir: string): void {
  rmSync(stateFileOf(dir), { force: true });
}
