import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { callGateway } from './http';
import { hostGrantKeyFiles, metricsTokenFile } from './keys';
import { AGENT_CREDS_FILE } from '@fleet/runtime/nats-identity';
import { gatewayIdentityEnv } from './nats-operator';
import { AGENT_ENTRYPOINT, GATEWAY_ENTRYPOINT, REPO_ROOT } from './paths';
import { abortIfDead, spawnService, waitFor } from './process';
import { type AgentSpec, type AgentState, type FleetState, logFileOf } from './state';

/** How long the gateway and agents get to come up; generous because a loaded 2-core CI box is slow. */
export const DEFAULT_READY_TIMEOUT_MS = 90_000;

/** What the gateway's GET /agent reports per agent (only the fields the fleet tooling reads). */
export interface RegisteredAgent {
  hostname: string;
  labels: Record<string, string>;
  enrollment?: 'pending' | 'accepted';
  live: boolean;
  started_at?: string;
}

/** Where a service runs: a network namespace, and the address a gateway listens on there. */
export interface ServicePlacement {
  netns: string;
  host: string;
}

/** Default: on 127.0.0.1 of the caller's own namespace. */
export function spawnGateway(state: FleetState, placement?: ServicePlacement): number {
  return spawnProgram(GATEWAY_ENTRYPOINT, logFileOf(state.dir, 'gateway'), state.detached, placement?.netns, {
    ...metricsAccessEnv(state),
    ...state.gatewayEnv,
    ...(state.natsOperator ? gatewayIdentityEnv(state.natsOperator) : {}),
    ...gatewayTransportEnv(state),
    ...natsTlsEnv(state),
    FLEET_NATS_URL: state.natsUrl,
    FLEET_API_HOST: placement?.host ?? '127.0.0.1',
    FLEET_API_PORT: String(state.gateway.port),
    FLEET_JWT_SECRET_FILE: state.jwtSecretFile,
    FLEET_HOST_GRANT_PRIVATE_KEY_FILE: grantKeysOf(state).privateKey,
    FLEET_LOG_LEVEL: state.logLevel,
  });
}

/** HTTPS with the fleet's certificate; a fleet without TLS (the test harness) asks for plain HTTP on loopback explicitly. */
function gatewayTransportEnv(state: FleetState): Record<string, string> {
  if (!state.tls) return { FLEET_HTTP_INSECURE: 'loopback' };
  return { FLEET_TLS_CERT_FILE: state.tls.gateway.cert, FLEET_TLS_KEY_FILE: state.tls.gateway.key };
}

/** The fleet's own NATS speaks TLS: gateway and agents verify it with the fleet's CA. */
function natsTlsEnv(state: FleetState): Record<string, string> {
  return state.tls?.nats ? { FLEET_NATS_CA_FILE: state.tls.caFile } : {};
}

/** The fleet's CA, for calls to its HTTPS gateway. */
function caOf(state: Pick<FleetState, 'tls'>): string | undefined {
  return state.tls ? readFileSync(state.tls.caFile, 'utf8') : undefined;
}

/** /metrics needs the fleet's token, unless the caller chose its own access (a token of its own, or public). */
function metricsAccessEnv(state: FleetState): Record<string, string> {
  const chosen = Object.keys(state.gatewayEnv).some((name) => name.startsWith('FLEET_METRICS_'));
  return chosen ? {} : { FLEET_METRICS_TOKEN_FILE: metricsTokenFile(dirname(state.jwtSecretFile)) };
}

/** The host-grant key pair lives next to the JWT secret (fleet up makes both), also for a gateway replica with a dir of its own. */
function grantKeysOf(state: FleetState): { privateKey: string; publicKey: string } {
  return hostGrantKeyFiles(dirname(state.jwtSecretFile));
}

/**
 * Starts `agent`; with `joinToken` it joins first (README "Enrolling an agent"), else it logs in
 * with the identity it made when it joined (kept in agentIdentityDir).
 */
export function spawnAgent(state: FleetState, agent: AgentState, joinToken?: string, placement?: Pick<ServicePlacement, 'netns'>): number {
  return spawnProgram(AGENT_ENTRYPOINT, agentLogOf(state, agent), state.detached, placement?.netns, {
    ...state.agentEnv,
    ...(state.natsOperator ? { FLEET_AGENT_IDENTITY_DIR: agentIdentityDir(state, agent.hostname), FLEET_GATEWAY_URL: state.url } : {}),
    ...(state.natsOperator && state.tls ? { FLEET_GATEWAY_CA_FILE: state.tls.caFile } : {}),
    ...(joinToken ? { FLEET_AGENT_JOIN_TOKEN: joinToken } : {}),
    ...natsTlsEnv(state),
    FLEET_NATS_URL: state.natsUrl,
    FLEET_AGENT_HOSTNAME: agent.hostname,
    FLEET_AGENT_LABELS: formatLabels(agent.labels),
    FLEET_HOST_GRANT_PUBLIC_KEY_FILE: grantKeysOf(state).publicKey,
    DOCKER_HOST: `unix://${agent.socket}`,
    FLEET_LOG_LEVEL: state.logLevel,
  });
}

/** Where the fleet's agent on `hostname` keeps its NATS identity (its own NKey seed and user JWT). */
export function agentIdentityDir(state: Pick<FleetState, 'dir'>, hostname: string): string {
  return join(state.dir, 'identities', hostname);
}

export function agentCredsFile(state: Pick<FleetState, 'dir'>, hostname: string): string {
  return join(agentIdentityDir(state, hostname), AGENT_CREDS_FILE);
}

/**
 * A one-time join token for `hostname`, from the gateway (POST /agent/{hostname}/join-token), over HTTPS with the fleet's CA when it has
 * one.
 */
export async function issueJoinToken(
  state: Pick<FleetState, 'url' | 'adminKey' | 'tls'>,
  hostname: string,
  ttlSeconds?: number,
): Promise<string> {
  const res = await callGateway(`${state.url}/agent/${encodeURIComponent(hostname)}/join-token`, {
    method: 'POST',
    headers: { authorization: `Bearer ${state.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(ttlSeconds === undefined ? {} : { ttl_seconds: ttlSeconds }),
    ca: caOf(state),
    timeoutMs: 30_000,
  });
  let body: { token?: string; details?: string } = {};
  try {
    body = JSON.parse(res.text) as typeof body;
  } catch {
    // not JSON: reported by status alone
  }
  if (res.status !== 201 || !body.token) throw new Error(`a join token for ${hostname} was refused (${res.status}): ${body.details ?? ''}`);
  return body.token;
}

/** The token `agent` needs to start: none when it has joined already, or when the fleet's NATS has no logins. */
export async function joinTokenFor(state: FleetState, agent: AgentSpec): Promise<string | undefined> {
  if (!state.natsOperator || existsSync(agentCredsFile(state, agent.hostname))) return undefined;
  return issueJoinToken(state, agent.hostname);
}

function agentLogOf(state: FleetState, agent: AgentState): string {
  return logFileOf(state.dir, `agent-${agent.hostname}`);
}

/**
 * `node dist/<program>.js`, the compiled build (`npm run build`), as the systemd units run it. Node itself,
 * not a wrapper, so the PID we get is the service's, which is what lets us stop and kill services by PID.
 * The absolute entrypoint path in the command line is also what the PID-reuse check looks for.
 */
function spawnProgram(
  entrypoint: string,
  logFile: string,
  detached: boolean,
  netns: string | undefined,
  env: Record<string, string>,
): number {
  return spawnService({
    command: process.execPath,
    args: [entrypoint],
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    logFile,
    detached,
    netns,
  });
}

/** `{role:'web', zone:'eu.west'}` → `role=web,zone=eu.west` (the FLEET_AGENT_LABELS format). */
export function formatLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

export async function waitForGateway(state: FleetState, timeoutMs = DEFAULT_READY_TIMEOUT_MS): Promise<void> {
  await waitFor(`gateway health at ${state.url}/health`, () => gatewayHealthy(state), {
    timeoutMs,
    abortIf: gatewayDeath(state),
  });
}

async function gatewayHealthy(state: FleetState): Promise<boolean> {
  const res = await callGateway(`${state.url}/health`, { ca: caOf(state), timeoutMs: 2_000 });
  return res.status === 200;
}

export interface AgentWait {
  timeoutMs?: number;
  /**
   * Only count registrations from agents started at or after this time. A killed agent's entry
   * stays live until its TTL runs out, so without this a restarted agent would look ready at once.
   */
  startedSince?: Date;
  /** These hostnames are expected to be listed as pending (not accepted) rather than accepted. */
  pending?: string[];
}

/** Resolves once GET /agent lists every one of `agents` as live; fails at once if one of them (or the gateway) dies. */
export async function waitForAgents(state: FleetState, agents: AgentState[], wait: AgentWait = {}): Promise<void> {
  const hostnames = agents.map((agent) => agent.hostname);
  const deaths = [
    gatewayDeath(state),
    ...agents.map((agent) => abortIfDead(`agent ${agent.hostname}`, agent.agentPid, agentLogOf(state, agent))),
  ];
  await waitFor(
    `agents ${hostnames.join(', ')} to be listed live by GET /agent`,
    async () => {
      const ready = (await listAgents(state)).filter((agent) => isReady(agent, wait));
      const missing = hostnames.filter((hostname) => !ready.some((agent) => agent.hostname === hostname));
      if (missing.length > 0) throw new Error(`not live yet: ${missing.join(', ')}`);
      return true;
    },
    { timeoutMs: wait.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS, abortIf: () => deaths.map((death) => death()).find(Boolean) },
  );
}

function isReady(agent: RegisteredAgent, { startedSince, pending }: AgentWait): boolean {
  const enrollment = pending?.includes(agent.hostname) ? 'pending' : 'accepted';
  if (!agent.live || agent.enrollment !== enrollment) return false;
  return startedSince === undefined || new Date(agent.started_at ?? 0) >= startedSince;
}

function gatewayDeath(state: FleetState): () => string | undefined {
  return abortIfDead('gateway', state.gateway.pid, logFileOf(state.dir, 'gateway'));
}

/**
 * Accepts the fleet's own agents with the labels the fleet gives them, before they start (README
 * "Security model": a new agent is pending until an admin accepts it). Accepting creates each
 * agent's job consumer, which the agent only binds to.
 */
export async function acceptAgents(state: Pick<FleetState, 'url' | 'adminKey' | 'tls'>, agents: AgentSpec[]): Promise<void> {
  for (let from = 0; from < agents.length; from += ACCEPT_PARALLEL) {
    await Promise.all(agents.slice(from, from + ACCEPT_PARALLEL).map((agent) => acceptAgent(state, agent)));
  }
}

/** Acceptances in flight at once (a bench swarm accepts thousands). */
const ACCEPT_PARALLEL = 20;

/** A busy broker answers an acceptance 503 (retry-after); accepting again is harmless, a few times. */
const ACCEPT_ATTEMPTS = 5;

async function acceptAgent(state: Pick<FleetState, 'url' | 'adminKey' | 'tls'>, agent: AgentSpec): Promise<void> {
  const ca = caOf(state);
  for (let attempt = 1; ; attempt++) {
    const res = await callGateway(`${state.url}/agent/${encodeURIComponent(agent.hostname)}/accept`, {
      method: 'POST',
      headers: { authorization: `Bearer ${state.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ labels: agent.labels }),
      ca,
      timeoutMs: 30_000,
    });
    if (res.status === 200) return;
    if (res.status !== 503 || attempt === ACCEPT_ATTEMPTS)
      throw new Error(`accepting agent ${agent.hostname} answered ${res.status}: ${res.text}`);
    await new Promise((resolve) => setTimeout(resolve, 1000 * Number(res.headers['retry-after'] ?? 1)));
  }
}

/** GET /agent of the fleet's gateway, over HTTPS with the fleet's CA when it has one. */
export async function listAgents(state: Pick<FleetState, 'url' | 'adminKey' | 'tls'>): Promise<RegisteredAgent[]> {
  const agents: RegisteredAgent[] = [];
  // GET /agent answers a page at a time (README "Agents and heartbeats"): follow the cursor to the last one.
  for (let cursor: string | undefined = ''; cursor !== undefined;) {
    const res = await callGateway(`${state.url}/agent?limit=1000${cursor ? `&cursor=${cursor}` : ''}`, {
      headers: { authorization: `Bearer ${state.adminKey}` },
      ca: caOf(state),
      timeoutMs: 5_000,
    });
    if (res.status !== 200) throw new Error(`GET /agent answered ${res.status}: ${res.text}`);
    const body = JSON.parse(res.text) as { agents?: RegisteredAgent[]; next_cursor?: string };
    if (!Array.isArray(body.agents)) throw new Error('GET /agent answered without an `agents` array');
    agents.push(...body.agents);
    cursor = body.next_cursor;
  }
  return agents;
}
