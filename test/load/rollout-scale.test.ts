/**
 * A rollout on 1,000 hosts (README "Rollouts"): real agents, a thousand to one process, against simulated engines
 * (the scale harness, bench/harness/swarm.ts, spawned as a process), a real gateway and nats-server on loopback.
 * Restarts fail on 21 chosen hosts, spread over the first three waves of 100. With `batch=10%&max_failures=2%`
 * (20 tolerated) the rollout stops after the wave where the 21st failure lands; the engines' own restart counts
 * show every host of those three waves restarted once and no host beyond them touched. With 21 tolerated, the
 * same call runs all ten waves. Bounded: one swarm process, two rollouts; no timing is asserted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  acceptAgents,
  hostGrantKeyFiles,
  listAgents,
  REPO_ROOT,
  startFleet,
  startNats,
  stopByPid,
  stopFleet,
  stopNats,
  waitForExit,
} from '@fleet/deploy';
import type { FleetState, NatsServer } from '@fleet/deploy';
import { api } from '../support/http';

const HOSTS = 1000;
const PREFIX = 'roll-';
const hostname = (index: number) => `${PREFIX}${String(index).padStart(5, '0')}`;
/** 8 failures in wave 1, 8 in wave 2, 5 in wave 3: the 21st lands in wave 3. */
const FAILING = [...[3, 11, 25, 40, 52, 67, 80, 99], ...[100, 121, 133, 148, 150, 177, 185, 199], ...[204, 230, 256, 271, 290]].map(
  hostname,
);
const SWARM_ENTRYPOINT = join(REPO_ROOT, 'bench', 'harness', 'swarm.ts');

let dir: string;
let nats: NatsServer;
let fleet: FleetState;
let swarm: ChildProcess;

/** The swarm's IPC (bench/harness/swarm-protocol.ts): one request, its first answer of `type`. */
function ask<T>(request: { type: string } | undefined, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`swarm: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
    const listener = (report: { type: string }) => {
      if (report.type !== type) return;
      clearTimeout(timer);
      swarm.off('message', listener);
      resolve(report as T);
    };
    swarm.on('message', listener);
    if (request) swarm.send(request);
  });
}

async function restartsByHost(): Promise<Record<string, number>> {
  return (await ask<{ byHost: Record<string, number> }>({ type: 'restarts' }, 'restarts', 10_000)).byHost;
}

async function waitForLive(count: number): Promise<void> {
  for (let attempt = 0; attempt < 120; attempt++) {
    const agents = await listAgents(fleet);
    if (agents.filter((agent) => agent.live).length >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(`fewer than ${count} agents became live`);
}

beforeAll(async () => {
  dir = mkdtempSync('/tmp/flr-');
  nats = await startNats({
    dir: join(dir, 'nats'),
    logFile: join(dir, 'nats.log'),
    detached: false,
    serverName: 'rollout-nats',
    extraConfig: 'max_connections: 4000',
  });
  fleet = await startFleet({
    dir,
    agents: [],
    natsUrl: nats.url,
    detached: false,
    logLevel: 'warn',
    gatewayEnv: { FLEET_RATE_LIMIT_PER_MINUTE: '10000000' },
  });
  const labels = { swarm: 'sim' };
  await acceptAgents(
    fleet,
    Array.from({ length: HOSTS }, (_, index) => ({ hostname: hostname(index), labels })),
  );
  const config = {
    natsUrl: nats.url,
    hostGrantPublicKeyFile: hostGrantKeyFiles(dir).publicKey,
    prefix: PREFIX,
    from: 0,
    count: HOSTS,
    // The rest are the swarm's defaults (bench/harness/swarm-protocol.ts).
    failingHosts: FAILING,
  };
  const log = openSync(join(dir, 'logs', 'swarm.log'), 'a');
  swarm = spawn(process.execPath, ['--import', 'tsx', SWARM_ENTRYPOINT], {
    cwd: REPO_ROOT,
    env: { ...process.env, SWARM_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', log, log, 'ipc'],
  });
  closeSync(log);
  const ready = await ask<{ started: number; errors: string[] }>(undefined, 'ready', 300_000);
  expect(ready).toMatchObject({ started: HOSTS, errors: [] });
  await waitForLive(HOSTS);
}, 420_000);

afterAll(async () => {
  if (swarm?.pid !== undefined && swarm.exitCode === null) {
    if (swarm.connected) swarm.send({ type: 'stop' });
    if (!(await waitForExit(swarm.pid, 75_000))) await stopByPid(swarm.pid, { marker: SWARM_ENTRYPOINT });
  }
  if (fleet) await stopFleet(fleet);
  if (nats) await stopNats(nats);
  rmSync(dir, { recursive: true, force: true });
}, 180_000);

describe('a rollout on 1,000 simulated hosts with batch=10% and max_failures=2%', () => {
  it('stops after wave 3, where the 21st failure lands: 700 hosts skipped, none of them restarted on its engine', async () => {
    const res = await api(fleet, 'POST', '/node/_all/container/docker/app-0/restart?batch=10%25&max_failures=2%25&timeout=60', {
      timeoutMs: 300_000,
    });

    expect(res.status).toBe(409);
    expect(res.body.rollout).toMatchObject({ state: 'stopped', max_failures: 20, failures: 21 });
    expect(res.body.details).toContain('after wave 3 of 10');
    const states = res.body.rollout.waves.map((wave: { state: string }) => wave.state);
    expect(states).toEqual(['failed', 'failed', 'failed', ...Array(7).fill('skipped')]);
    expect(res.body.rollout.waves.map((wave: { failed?: string[] }) => wave.failed?.length ?? 0).slice(0, 3)).toEqual([8, 8, 5]);
    const byStatus = (status: string) => res.body.results.filter((row: { status: string }) => row.status === status).length;
    expect([byStatus('ok'), byStatus('failed'), byStatus('skipped')]).toEqual([279, 21, 700]);

    const restarts = await restartsByHost();
    const reached = Array.from({ length: 300 }, (_, index) => hostname(index));
    expect(Object.keys(restarts).sort()).toEqual(reached);
    expect(Object.values(restarts).every((count) => count === 1)).toBe(true);
  });

  it('with 21 failures tolerated runs all ten waves and completes: every host restarted', async () => {
    const before = await restartsByHost();
    const res = await api(fleet, 'POST', '/node/_all/container/docker/app-0/restart?batch=10%25&max_failures=21&timeout=60', {
      timeoutMs: 300_000,
    });

    expect(res.status).toBe(202);
    expect(res.body.rollout).toMatchObject({ state: 'completed', max_failures: 21, failures: 21 });
    expect(res.body.results).toHaveLength(HOSTS);
    const after = await restartsByHost();
    const added = Array.from({ length: HOSTS }, (_, index) => (after[hostname(index)] ?? 0) - (before[hostname(index)] ?? 0));
    expect(added.every((count) => count === 1)).toBe(true);
  });
});
