import { startEngine, stopEngine } from './engine';
import { AGENT_ENTRYPOINT, GATEWAY_ENTRYPOINT } from './paths';
import { isOurProcess, sendSignal, stopByPid, waitForExit } from './process';
import { spawnAgent, spawnGateway, waitForAgents, waitForGateway } from './services';
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
  agent.agentPid = spawnAgent(state, agent);
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
