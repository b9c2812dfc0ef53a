import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { acceptAgents, BUSYBOX_IMAGE, dockerClient, type FleetState, hostGrantKeyFiles, listAgents, REPO_ROOT } from '@fleet/deploy';
// eslint-disable-next-line fleet/import-boundaries -- the bench opens the very Chromium the e2e suites do: one launcher, one set of flags
import { launchChromium } from '../../test/support/chromium';
import { SwarmProcess } from '../harness/swarm-client';
import { swarmHostname, swarmLabels } from '../harness/swarm-protocol';
import { sleep, type Progress } from '../lib/context';
import { startRealFleet, startScaleFleet, type ScaleFleet } from '../lib/fleets';
import { round, summarize, type Summary } from '../lib/stats';
import { measureFleetView, measureMatrix, SWARM_PREFIX, type FleetViewMeasurement, type MatrixMeasurement } from './dashboard-fleet';

/**
 * DASHBOARD: the ops dashboard (/ui) in headless Debian chromium, as an operator opens it. What a
 * person waits for (sign-in to the containers view of 3 real hosts; then, beside 1,000 and 10,000
 * simulated agents, the fleet view's first page, paging to its end, finding a host, and one `_all`
 * job's matrix filling in) and whether the page stays responsive and small meanwhile. Measured, never asserted.
 */
export interface DashboardResult {
  browser: string;
  /** When the section ran and the box's 1-minute load average then: it may run alone (`--only=dashboard`), apart from the rest. */
  measuredAt: string;
  loadAtStart: number;
  /** Sign-in click to the containers view showing containers of all 3 real hosts. */
  signInToContainers: Summary;
  /** One entry per fleet size, smallest first. */
  fleets: LargeFleetMeasurement[];
  /** Why a fleet size (and the larger ones) was not measured, when one was not. */
  notMeasured?: string;
  /** Where the screenshots went (not committed). */
  screenshots: string;
}

export interface LargeFleetMeasurement {
  hosts: number;
  /** Swarm processes started to every agent listed live and accepted by paged GET /agent. */
  liveAfterMs: number;
  fleetView: FleetViewMeasurement;
  matrix?: MatrixMeasurement;
  matrixSkipped?: string;
}

const PER_PROCESS = 1250;
/** 10,000 agents take about 70 s on this box to be listed live; four times that is a broken start. */
const LIVE_LIMIT_MS = 300_000;
const SCREENS = join(REPO_ROOT, 'bench', 'results', 'screens');

async function signIn(page: Page, url: string, key: string, hash: string): Promise<number> {
  await page.goto(`${url}/ui/${hash}`, { waitUntil: 'load' });
  await page.getByLabel('API key').fill(key);
  const t0 = performance.now();
  await page.getByRole('button', { name: 'Sign in' }).click();
  return t0;
}

/** Sign-in to containers of every real host on screen, `runs` times in fresh tabs (fresh sessionStorage). */
async function measureSignIn(state: FleetState, context: BrowserContext, runs: number): Promise<Summary> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const page = await context.newPage();
    const t0 = await signIn(page, state.url, state.adminKey, '#/containers');
    await page.waitForFunction(
      (hosts) =>
        new Set([...document.querySelectorAll('[data-view=containers] tr[data-host]')].map((r) => r.getAttribute('data-host'))).size ===
        hosts,
      state.agents.length,
      { timeout: 60_000, polling: 'raf' },
    );
    samples.push(performance.now() - t0);
    await page.close();
  }
  return summarize(samples);
}

export async function runDashboard(
  opts: { quick: boolean; maxAgents?: number; levels?: number[] },
  progress: Progress,
): Promise<DashboardResult> {
  const levels = (opts.levels ?? (opts.quick ? [1000] : [1000, 10_000])).filter((n) => n <= (opts.maxAgents ?? Infinity));
  mkdirSync(SCREENS, { recursive: true });
  const measuredAt = new Date().toISOString();
  const loadAtStart = round(loadavg()[0], 2);
  const browser = await launchChromium();
  try {
    progress.say('dashboard: real fleet (3 engines) — sign-in to the containers view');
    const real = await startRealFleet('warn');
    let signInToContainers: Summary;
    try {
      const engines = real.state.agents.map((agent) => dockerClient(agent.socket));
      await Promise.all(
        engines.map((docker) =>
          docker.createContainer({ Image: BUSYBOX_IMAGE, name: 'bench-ui', Cmd: ['sleep', '3600'] }).then((c) => c.start()),
        ),
      );
      signInToContainers = await measureSignIn(real.state, browser.context, opts.quick ? 3 : 9);
      progress.say(`dashboard: sign-in → containers of 3 hosts: p50 ${signInToContainers.p50} ms, max ${signInToContainers.max} ms`);
    } finally {
      await real.stop();
    }
    const result: DashboardResult = {
      browser: `Chromium ${browser.context.browser()?.version() ?? ''}`.trim(),
      measuredAt,
      loadAtStart,
      signInToContainers,
      fleets: [],
      screenshots: relative(REPO_ROOT, SCREENS),
    };
    await measureLargeFleets(levels, browser.context, result, progress);
    return result;
  } finally {
    await browser.close();
  }
}

/** One scale fleet whose swarm grows level by level; the dashboard measured at each. */
async function measureLargeFleets(levels: number[], context: BrowserContext, result: DashboardResult, progress: Progress): Promise<void> {
  progress.say(`dashboard: scale fleet for ${levels.join(', ')} simulated agents`);
  const fleet = await startScaleFleet('warn', {});
  const swarms: SwarmProcess[] = [];
  try {
    let running = 0;
    for (const hosts of levels) {
      const t0 = performance.now();
      swarms.push(...(await growSwarm(fleet, running, hosts)));
      running = hosts;
      const live = await waitForLive(fleet.state, hosts);
      if (live < hosts) {
        result.notMeasured = `${hosts} agents: ${live} listed live and accepted by GET /agent after ${LIVE_LIMIT_MS / 1000} s`;
        progress.say(`dashboard: stopping — ${result.notMeasured}`);
        return;
      }
      const liveAfterMs = round(performance.now() - t0);
      progress.say(`dashboard: ${hosts} agents live (${liveAfterMs} ms)`);
      result.fleets.push({ hosts, liveAfterMs, ...(await measureInBrowser(fleet.state, context, hosts, progress)) });
    }
  } catch (err) {
    result.notMeasured = err instanceof Error ? err.message : String(err);
    progress.say(`dashboard: large fleets not (all) measured — ${result.notMeasured}`);
  } finally {
    await Promise.all(swarms.map((swarm) => swarm.stop().catch(() => undefined)));
    await fleet.stop();
  }
}

/** Accepts and starts the swarm's agents [from, to), PER_PROCESS to a process. */
async function growSwarm(fleet: ScaleFleet, from: number, to: number): Promise<SwarmProcess[]> {
  await acceptAgents(
    fleet.state,
    Array.from({ length: to - from }, (_, i) => ({ hostname: swarmHostname(SWARM_PREFIX, from + i), labels: swarmLabels(from + i) })),
  );
  const swarms: SwarmProcess[] = [];
  for (let first = from; first < to; first += PER_PROCESS) {
    const config = {
      natsUrl: fleet.nats.url,
      hostGrantPublicKeyFile: hostGrantKeyFiles(fleet.dir).publicKey,
      prefix: SWARM_PREFIX,
      from: first,
      count: Math.min(PER_PROCESS, to - first),
    };
    swarms.push(new SwarmProcess(config, join(fleet.dir, 'logs', `swarm-ui-${first}.log`)));
  }
  await Promise.all(swarms.map((swarm) => swarm.ready(600_000)));
  return swarms;
}

async function measureInBrowser(
  state: FleetState,
  context: BrowserContext,
  hosts: number,
  progress: Progress,
): Promise<Omit<LargeFleetMeasurement, 'hosts' | 'liveAfterMs'>> {
  const page = await context.newPage();
  try {
    await signIn(page, state.url, state.adminKey, '#/fleet');
    const fleetView = await measureFleetView(page, hosts, SCREENS);
    progress.say(
      `dashboard: fleet view of ${hosts}: first page p50 ${fleetView.firstPage.p50} ms; Next p50 ${fleetView.nextClick.p50} ms; ` +
        `Last (page ${fleetView.pages}) p50 ${fleetView.lastClick.p50} ms; one host by filter p50 ` +
        `${fleetView.findHost.p50} ms; ${fleetView.labelFilter.selector} (${fleetView.labelFilter.matching}) p50 ` +
        `${fleetView.labelFilter.ms.p50} ms; heap ${mib(fleetView.heap.firstPage.jsHeapUsedBytes)} → ` +
        `${mib(fleetView.heap.afterPaging.jsHeapUsedBytes)} MiB after paging`,
    );
    try {
      const matrix = await measureMatrix(page, state.url, state.adminKey, hosts, SCREENS);
      progress.say(
        `dashboard: matrix of ${hosts}: rows shown ${matrix.firstRenderMs} ms, all final ${matrix.allFinalMs} ms (gateway ` +
          `${matrix.gatewaySettledMs} ms); click p50 ${matrix.clickLatency.p50} max ${matrix.clickLatency.max} ms; timer lag p99 ` +
          `${matrix.timerLag.p99} max ${matrix.timerLag.max} ms; ${matrix.longTasks} long tasks (${matrix.longTaskTotalMs} ms); ` +
          `heap ${mib(matrix.heap.jsHeapUsedBytes)} MiB, ${matrix.heap.domNodes} DOM nodes`,
      );
      return { fleetView, matrix };
    } catch (err) {
      const matrixSkipped = err instanceof Error ? err.message : String(err);
      progress.say(`dashboard: matrix of ${hosts} not measured — ${matrixSkipped}`);
      return { fleetView, matrixSkipped };
    }
  } finally {
    await page.close();
  }
}

const mib = (bytes: number) => round(bytes / 2 ** 20, 1);

/** How many of the swarm's agents paged GET /agent lists live and accepted, once all are or after LIVE_LIMIT_MS. */
async function waitForLive(state: FleetState, wanted: number): Promise<number> {
  const deadline = performance.now() + LIVE_LIMIT_MS;
  for (;;) {
    const agents = await listAgents(state).catch(() => []);
    const live = agents.filter((agent) => agent.live && agent.enrollment === 'accepted' && agent.hostname.startsWith(SWARM_PREFIX)).length;
    if (live >= wanted || performance.now() > deadline) return live;
    await sleep(1000);
  }
}
