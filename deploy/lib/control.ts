import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, stopEngine } from './engine';
import { respawnNats } from './nats';
import { AGENT_ENTRYPOINT, GATEWAY_ENTRYPOINT } from './paths';
import { freePort, isOurProcess, sendSignal, stopByPid, waitForExit } from './process';
import { joinTokenFor, spawnAgent, spawnGateway, waitForAgents, waitForGateway } from './services';
import { agentOf, type AgentState, type AgentWithOwnEngine, type FleetState, logFileOf } from './state';

/*
 * Fault injection on one part of a running fleet. Each function updates the PIDs in `state` in
 * place, so the caller's handle (and a later stopFleet) always sees the current processes.
 */

/** Graceful stop (SIGTERM): the agent deregisters itself. */
export function stopAgent(state: FleetState, hostname: string): Promise<void> {
  return stopByPid(agentOf(state, hostname).agentPid, { marker: AGENT_ENTRYPOINT });
}

/**
 * Sends `signal` to the agent. For SIGKILL (a crash) it also waits until the process is gone;
 * other signals (SIGSTOP to simulate a hang, ...) return right after sending.
 */
export async function killAgent(state: FleetState, hostname: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  const agent = agentOf(state, hostname);
  if (!isRunning(agent)) throw new Error(`agent ${hostname} is not running`);
  sendSignal(agent.agentPid, signal);
  // Liveness, not isRunning: an exiting process loses its command line before it is gone.
  if (signal === 'SIGKILL' && !(await waitForExit(agent.agentPid, 5_000))) throw new Error(`agent ${hostname} survived SIGKILL`);
}

function isRunning(agent: AgentState): boolean {
  return isOurProcess(agent.agentPid, AGENT_ENTRYPOINT);
}

/** Starts a stopped or killed agent again with its original settings; resolves once it is listed live. */
export async function startAgent(state: FleetState, hostname: string): Promise<void> {
  const agent = agentOf(state, hostname);
  if (isRunning(agent)) throw new Error(`agent ${hostname} is already running (pid ${agent.agentPid})`);
  const startedSince = new Date();
  agent.agentPid = spawnAgent(state, agent, await joinTokenFor(state, agent));
  await waitForAgents(state, [agent], { startedSince });
}

/** Stops the gateway and starts it again on the same port; resolves once /health answers. */
export async function restartGateway(state: FleetState): Promise<void> {
  await stopByPid(state.gateway.pid, { marker: GATEWAY_ENTRYPOINT });
  state.gateway.pid = spawnGateway(state);
  await waitForGateway(state);
}

/** Stops the agent's engine the way a host's dockerd stops (running containers get their stop timeout). */
export async function stopAgentEngine(state: FleetState, hostname: string): Promise<void> {
  const agent = withOwnEngine(state, hostname);
  await stopEngine({ pid: agent.enginePid, dir: agent.engineDir });
}

/** Starts the agent's engine again on the same data: images and containers survive. */
export async function startAgentEngine(state: FleetState, hostname: string): Promise<void> {
  const agent = withOwnEngine(state, hostname);
  const engine = await startEngine({ dir: agent.engineDir, logFile: logFileOf(state.dir, `engine-${hostname}`), detached: state.detached });
  agent.enginePid = engine.pid;
}

function withOwnEngine(state: FleetState, hostname: string): AgentWithOwnEngine {
  const agent = agentOf(state, hostname);
  if (agent.enginePid === null || agent.engineDir === null) {
    throw new Error(`agent ${hostname} uses a shared engine this fleet did not start (${agent.socket})`);
  }
  return agent as AgentWithOwnEngine;
}

/**
 * Sends `signal` to the fleet's NATS server (SIGKILL by default: a crash) and waits until it is
 * gone. Its JetStream store stays on disk for startNatsAgain.
 */
export async function killNats(state: FleetState, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  const nats = ownNats(state);
  if (!isOurProcess(nats.pid, nats.configFile)) throw new Error("the fleet's nats-server is not running");
  sendSignal(nats.pid, signal);
  if (!(await waitForExit(nats.pid, 20_000))) throw new Error(`nats-server (pid ${nats.pid}) did not exit after ${signal}`);
}

/** Starts the fleet's NATS again with its config: same port, same store, same users. Clients reconnect by themselves. */
export async function startNatsAgain(state: FleetState): Promise<void> {
  const nats = ownNats(state);
  if (isOurProcess(nats.pid, nats.configFile)) throw new Error(`the fleet's nats-server is already running (pid ${nats.pid})`);
  nats.pid = await respawnNats({ ...nats, logFile: logFileOf(state.dir, 'nats') }, { detached: state.detached });
}

function ownNats(state: FleetState): NonNullable<FleetState['nats']> {
  if (!state.nats) throw new Error(`the fleet uses a NATS it did not start (${state.natsUrl})`);
  return state.nats;
}

/** SIGKILL (default) or another signal to the gateway; waits for its death. No clean shutdown runs. */
export async function killGateway(state: FleetState, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (!isOurProcess(state.gateway.pid, GATEWAY_ENTRYPOINT)) throw new Error('the gateway is not running');
  sendSignal(state.gateway.pid, signal);
  if (!(await waitForExit(state.gateway.pid, 10_000))) throw new Error(`gateway (pid ${state.gateway.pid}) did not exit after ${signal}`);
}

/** Starts a stopped or killed gateway again on its port; resolves once /health answers. */
export async function startGatewayAgain(state: FleetState): Promise<void> {
  if (isOurProcess(state.gateway.pid, GATEWAY_ENTRYPOINT)) throw new Error(`the gateway is already running (pid ${state.gateway.pid})`);
  state.gateway.pid = spawnGateway(state);
  await waitForGateway(state);
}

export interface GatewayReplica {
  name: string;
  pid: number;
  port: number;
  url: string;
  logFile: string;
}

/**
 * Starts one more gateway process on the same NATS, secret and settings, on a port of its own, with
 * its log in logs/gateway-<name>.log. The caller stops it (stopGatewayReplica) before stopFleet.
 */
export async function startGatewayReplica(state: FleetState, name: string, port?: number): Promise<GatewayReplica> {
  const replicaPort = port ?? (await freePort());
  // spawnGateway logs to <dir>/logs/gateway.log: a private dir gives the replica a log of its own.
  const replicaDir = join(state.dir, 'replicas', name);
  mkdirSync(join(replicaDir, 'logs'), { recursive: true });
  const replicaState: FleetState = {
    ...state,
    dir: replicaDir,
    url: `${state.tls ? 'https' : 'http'}://127.0.0.1:${replicaPort}`,
    gateway: { pid: 0, port: replicaPort },
  };
  replicaState.gateway.pid = spawnGateway(replicaState);
  const logFile = logFileOf(replicaDir, 'gateway');
  const linked = logFileOf(state.dir, `gateway-${name}`);
  if (!existsSync(linked)) symlinkSync(logFile, linked);
  try {
    await waitForGateway(replicaState);
  } catch (err) {
    await stopByPid(replicaState.gateway.pid, { marker: GATEWAY_ENTRYPOINT });
    throw err;
  }
  return { name, pid: replicaState.gateway.pid, port: replicaPort, url: replicaState.url, logFile };
}

export function stopGatewayReplica(replica: GatewayReplica): Promise<void> {
  return stopByPid(replica.pid, { marker: GATEWAY_ENTRYPOINT });
}
