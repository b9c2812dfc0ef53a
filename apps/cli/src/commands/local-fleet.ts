import { dirname } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import type { FleetState } from '@fleet/deploy';

/**
 * @fleet/deploy, loaded when `up`, `down` or `status` runs: it brings the process tooling and the API-key
 * package, which every other command would otherwise load at start for nothing (a pipeline pays the CLI's
 * start on each call).
 */
function loadDeploy() {
  return require('@fleet/deploy') as typeof import('@fleet/deploy');
}

type Deploy = ReturnType<typeof loadDeploy>;

interface UpOptions {
  agents: number;
  port: number;
  natsUrl?: string;
  dockerHost?: string;
  /** commander's `--no-tls`: true unless it is given. */
  tls: boolean;
}

const ADMIN_KEY_TTL_SECONDS = 7 * 86_400;

/** `fleet up | down | status`: a local fleet whose processes outlive the command, recorded in .fleet/state.json. */
export function registerLocalFleetCommands(program: Command): void {
  program
    .command('up')
    .description('start a local fleet in the background: NATS, the gateway and N agents, each with its own dockerd')
    .option('--agents <n>', 'number of agents (web-01, web-02, db-01, node-04, ...)', parseAgentCount, 3)
    .option('--port <port>', 'gateway port on 127.0.0.1', parsePort, 8080)
    .option('--nats-url <url>', 'use this NATS server instead of starting one')
    .option('--docker-host <unix://path>', 'let all agents share this engine instead of starting one dockerd each')
    .option('--no-tls', 'plain HTTP on 127.0.0.1 and NATS without TLS (default: HTTPS and NATS TLS with a CA of the fleet, .fleet/pki)')
    .action((opts: UpOptions) => up(loadDeploy(), opts));
  program
    .command('down')
    .description('stop every process of the local fleet')
    .action(() => down(loadDeploy()));
  program
    .command('status')
    .description("show the local fleet's processes and registered agents")
    .action(() => status(loadDeploy()));
}

function parseAgentCount(raw: string): number {
  const count = Number(raw);
  if (!Number.isInteger(count) || count < 1 || count > 50) throw new InvalidArgumentError('a whole number from 1 to 50');
  return count;
}

function parsePort(raw: string): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError('a port from 1 to 65535');
  return port;
}

/** Progress and diagnostics go to stderr; stdout carries only what a caller may want to capture. */
function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function up(deploy: Deploy, opts: UpOptions): Promise<void> {
  const { LOCAL_FLEET_DIR } = deploy;
  const existing = deploy.loadFleetState(LOCAL_FLEET_DIR);
  if (existing && runningProcesses(deploy, existing) > 0) {
    note('A local fleet is already up (`fleet down` stops it):');
    await printStatus(deploy, existing);
    return;
  }
  // Whatever a previous state file lists is gone (e.g. after a reboot): forget it.
  deploy.removeFleetState(LOCAL_FLEET_DIR);
  note(`Starting a local fleet with ${opts.agents} agent(s) in ${LOCAL_FLEET_DIR} ...`);
  const state = await deploy
    .startFleet({
      dir: LOCAL_FLEET_DIR,
      agents: deploy.defaultAgents(opts.agents),
      detached: true,
      port: opts.port,
      natsUrl: opts.natsUrl,
      dockerHost: opts.dockerHost,
      adminKeyTtlSeconds: ADMIN_KEY_TTL_SECONDS,
      tls: opts.tls,
    })
    .catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\nlogs: ${deploy.logFileOf(LOCAL_FLEET_DIR, '*')}`);
    });
  deploy.saveFleetState(state);
  printWelcome(deploy, state);
}

function printWelcome(deploy: Deploy, state: FleetState): void {
  const hosts = state.agents.map((agent) => agent.hostname).join(', ');
  const curl = state.tls ? `curl -s --cacert ${state.tls.caFile}` : 'curl -s';
  process.stdout.write(
    [
      `Fleet is up with ${state.agents.length} agent(s): ${hosts}`,
      `  URL:        ${state.url}`,
      ...(state.tls
        ? [
            `  CA:         ${state.tls.caFile} (the fleet CLI uses it; others: --cacert, FLEET_CA_FILE, ` +
              `DOCKER_CERT_PATH=${dirname(state.tls.caFile)})`,
          ]
        : []),
      `  Admin key:  ${state.adminKey}`,
      `              (valid ${ADMIN_KEY_TTL_SECONDS / 86_400} days; more keys: npm run -s fleet -- token create --role viewer)`,
      '  Try:',
      `    export FLEET_KEY=${state.adminKey}`,
      `    ${curl} -H "Authorization: Bearer $FLEET_KEY" ${state.url}/agent`,
      `    ${curl} -H "Authorization: Bearer $FLEET_KEY" ${state.url}/node/_all/container/docker`,
      `  Metrics:    ${curl} -H "Authorization: Bearer $(cat ${deploy.metricsTokenFile(state.dir)})" ${state.url}/metrics`,
      `  Logs:       ${deploy.logFileOf(state.dir, '*')}`,
      `  State:      ${deploy.stateFileOf(state.dir)}`,
      '  Stop with:  npm run fleet -- down',
      '',
    ].join('\n'),
  );
}

async function down(deploy: Deploy): Promise<void> {
  const { LOCAL_FLEET_DIR } = deploy;
  const state = deploy.loadFleetState(LOCAL_FLEET_DIR);
  if (!state) {
    note(`No local fleet is up (no ${deploy.stateFileOf(LOCAL_FLEET_DIR)}).`);
    return;
  }
  note(`Stopping ${deploy.fleetProcesses(state).length} processes ...`);
  // On failure the state file stays, so `down` can be run again for what is left.
  await deploy.stopFleet(state);
  deploy.removeFleetState(LOCAL_FLEET_DIR);
  note('Local fleet stopped.');
}

async function status(deploy: Deploy): Promise<void> {
  const { LOCAL_FLEET_DIR } = deploy;
  const state = deploy.loadFleetState(LOCAL_FLEET_DIR);
  if (!state) {
    note(`No local fleet is up (no ${deploy.stateFileOf(LOCAL_FLEET_DIR)}); start one with: npm run fleet -- up`);
    process.exitCode = 1;
    return;
  }
  if (!(await printStatus(deploy, state))) process.exitCode = 1;
}

function runningProcesses(deploy: Deploy, state: FleetState): number {
  return deploy.fleetProcesses(state).filter((proc) => deploy.isOurProcess(proc.pid, proc.marker)).length;
}

/** Prints every process and what GET /agent says; true when all is well. */
async function printStatus(deploy: Deploy, state: FleetState): Promise<boolean> {
  const lines = [`Gateway ${state.url}${state.tls ? ` (CA ${state.tls.caFile})` : ''}`, 'Processes:'];
  let healthy = true;
  for (const proc of deploy.fleetProcesses(state)) {
    const alive = deploy.isOurProcess(proc.pid, proc.marker);
    healthy &&= alive;
    lines.push(`  ${proc.name.padEnd(18)} pid ${String(proc.pid).padEnd(8)} ${alive ? 'running' : 'DEAD'}`);
  }
  const agents = await agentReport(deploy, state);
  process.stdout.write(`${[...lines, ...agents.lines].join('\n')}\n`);
  return healthy && agents.healthy;
}

/** What the gateway says about the agents; healthy when every agent of the fleet is listed live. */
async function agentReport(deploy: Deploy, state: FleetState): Promise<{ lines: string[]; healthy: boolean }> {
  try {
    const agents = await deploy.listAgents(state);
    const live = new Set(agents.filter((agent) => agent.live).map((agent) => agent.hostname));
    const lines = [`Agents (GET /agent): ${agents.length} registered`];
    for (const agent of agents) {
      lines.push(`  ${agent.hostname.padEnd(18)} ${agent.live ? 'live    ' : 'not live'} ${deploy.formatLabels(agent.labels ?? {})}`);
    }
    return { lines, healthy: state.agents.every((agent) => live.has(agent.hostname)) };
  } catch (err) {
    return { lines: [`Agents: gateway unreachable (${(err as Error).message})`], healthy: false };
  }
}
