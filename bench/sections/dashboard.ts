import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { acceptAgents, BUSYBOX_IMAGE, dockerClient, type FleetState, hostGrantKeyFiles } from '@fleet/deploy';
// eslint-disable-next-line fleet/import-boundaries -- the bench opens the very Chromium the e2e suites do: one launcher, one set of flags
import { launchChromium } from '../../test/support/chromium';
import { SwarmProcess } from '../harness/swarm-client';
import { swarmHostname, swarmLabels } from '../harness/swarm-protocol';
import { sleep, type Progress } from '../lib/context';
import { startRealFleet, startScaleFleet } from '../lib/fleets';
import { round, summarize, type Summary } from '../lib/stats';

/**
 * DASHBOARD: the ops dashboard (/ui) in headless Debian chromium, as an operator opens it. What a
 * person waits for (sign-in to the containers view of 3 real hosts; a 1,000-host job matrix filling
 * in from its feed) and whether the page stays responsive meanwhile (a click's latency and the
 * page's timer lag while the rows land). Measured, never asserted.
 */
export interface DashboardResult {
  browser: string;
  /** Sign-in click to the containers view showing containers of all 3 real hosts. */
  signInToContainers: Summary;
  matrix?: MatrixMeasurement;
  /** Why the 1,000-host part did not run, when it did not. */
  matrixSkipped?: string;
}

export interface MatrixMeasurement {
  hosts: number;
  /** Job started (async) to the page showing its 1,000 rows, of any status. */
  firstRenderMs: number;
  /** Job started to every row shown final on the page. */
  allFinalMs: number;
  /** The same job's rows as the gateway answers them (GET /job?wait): what the page cannot beat. */
  gatewaySettledMs: number;
  /** Click on "Failed only" to the checkbox checked and the table re-rendered, while rows land. */
  clickLatency: Summary;
  /** How late a 50 ms timer in the page fired while rows landed (main-thread blocking). */
  timerLag: Summary;
  /** Main-thread tasks over 50 ms during the fill (PerformanceObserver longtask). */
  longTasks: number;
  longTaskTotalMs: number;
  /** The fleet view rendering the 1,000 agents from the agents feed, from navigation. */
  fleetRenderMs: number;
}

/**
 * Installed in the page: how late a 50 ms timer fires, and every long task. Text, not a function:
 * the bench runs under tsx, whose helpers for named functions do not exist inside the page.
 */
const PAGE_PROBE = `(() => {
  const probe = { lags: [], longTasks: [] };
  window.benchProbe = probe;
  let expected = performance.now() + 50;
  setTimeout(function tick() {
    const now = performance.now();
    probe.lags.push(Math.max(0, now - expected));
    expected = now + 50;
    setTimeout(tick, 50);
  }, 50);
  new PerformanceObserver((list) => list.getEntries().forEach((entry) => probe.longTasks.push(entry.duration))).observe({ type: 'longtask' });
})()`;
const MATRIX_HOSTS = 1000;
const SWARM_PREFIX = 'ui-';
const PER_PROCESS = 1000;

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

export async function runDashboard(opts: { quick: boolean }, progress: Progress): Promise<DashboardResult> {
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
    const result: DashboardResult = { browser: `Chromium ${browser.context.browser()?.version() ?? ''}`.trim(), signInToContainers };
    try {
      result.matrix = await measureMatrix(browser.context, progress);
    } catch (err) {
      result.matrixSkipped = err instanceof Error ? err.message : String(err);
      progress.say(`dashboard: 1,000-host matrix not measured — ${result.matrixSkipped}`);
    }
    return result;
  } finally {
    await browser.close();
  }
}

/** 1,000 simulated agents (bench/harness), one _all job, its page open while the rows land. */
async function measureMatrix(context: BrowserContext, progress: Progress): Promise<MatrixMeasurement> {
  progress.say(`dashboard: scale fleet with ${MATRIX_HOSTS} simulated agents`);
  const fleet = await startScaleFleet('warn', {});
  const swarms: SwarmProcess[] = [];
  try {
    const { url, adminKey } = fleet.state;
    await acceptAgents(
      fleet.state,
      Array.from({ length: MATRIX_HOSTS }, (_, i) => ({ hostname: swarmHostname(SWARM_PREFIX, i), labels: swarmLabels(i) })),
    );
    for (let from = 0; from < MATRIX_HOSTS; from += PER_PROCESS) {
      swarms.push(
        new SwarmProcess(
          {
            natsUrl: fleet.nats.url,
            hostGrantPublicKeyFile: hostGrantKeyFiles(fleet.dir).publicKey,
            prefix: SWARM_PREFIX,
            from,
            count: Math.min(PER_PROCESS, MATRIX_HOSTS - from),
          },
          join(fleet.dir, 'logs', `swarm-ui-${from}.log`),
        ),
      );
    }
    await Promise.all(swarms.map((swarm) => swarm.ready(300_000)));
    await waitForAgents(url, adminKey, MATRIX_HOSTS);
    progress.say(`dashboard: ${MATRIX_HOSTS} agents live`);

    const page = await context.newPage();
    const fleetStart = await signIn(page, url, adminKey, '#/fleet');
    await page.waitForFunction((n) => document.querySelectorAll('[data-view=fleet] tbody tr').length >= n, MATRIX_HOSTS, {
      timeout: 120_000,
    });
    const fleetRenderMs = round(performance.now() - fleetStart);
    progress.say(`dashboard: fleet view of ${MATRIX_HOSTS} agents rendered in ${fleetRenderMs} ms`);

    // The probes run in the page: a 50 ms timer's lateness and the long tasks, from now on.
    await page.evaluate(PAGE_PROBE);
    const t0 = performance.now();
    const started = await fetch(`${url}/node/_all/container/docker/system/ping?async=true`, {
      headers: { authorization: `Bearer ${adminKey}` },
    }).then((res) => res.json() as Promise<{ job_id: string }>);
    await page.evaluate((hash) => (location.hash = hash), `#/job/${started.job_id}`);
    const settled = fetch(`${url}/job/${started.job_id}?wait=120`, { headers: { authorization: `Bearer ${adminKey}` } }).then(
      () => performance.now() - t0,
    );
    await page.waitForFunction((n) => document.querySelectorAll('[data-view=job] tbody tr').length >= n, MATRIX_HOSTS, {
      timeout: 120_000,
      polling: 'raf',
    });
    const firstRenderMs = performance.now() - t0;
    const clicks: number[] = [];
    const checkbox = page.getByLabel(/Failed only/);
    const allFinal = () =>
      page.evaluate(
        (n) =>
          document.querySelectorAll('[data-view=job] h2 .badge').length > 0 &&
          !/running|pending/.test(document.querySelector('[data-view=job] h2 .badge')?.textContent ?? '') &&
          document.querySelectorAll('[data-view=job] tbody tr').length >= n,
        MATRIX_HOSTS,
      );
    // Clicks while the rows land (at least three, so a fast fill still yields a figure): check, then uncheck.
    for (let i = 0; i < 40 && (i < 3 || !(await allFinal())); i++) {
      const c0 = performance.now();
      await checkbox.click();
      await page.waitForFunction(
        (checked) => (document.querySelector('input[name=failed-only]') as HTMLInputElement).checked === checked,
        i % 2 === 0,
        { polling: 'raf' },
      );
      clicks.push(performance.now() - c0);
      if (i % 2 === 0) continue;
      await sleep(100);
    }
    if (await checkbox.isChecked()) await checkbox.click();
    await page.waitForFunction(
      (n) =>
        document.querySelectorAll('[data-view=job] tbody tr[data-status=ok], [data-view=job] tbody tr[data-status=failed]').length >= n,
      MATRIX_HOSTS,
      { timeout: 120_000, polling: 'raf' },
    );
    const allFinalMs = performance.now() - t0;
    const gatewaySettledMs = await settled;
    const probe = await page.evaluate(() => (window as unknown as { benchProbe: { lags: number[]; longTasks: number[] } }).benchProbe);
    await page.close();
    const measured: MatrixMeasurement = {
      hosts: MATRIX_HOSTS,
      firstRenderMs: round(firstRenderMs),
      allFinalMs: round(allFinalMs),
      gatewaySettledMs: round(gatewaySettledMs),
      clickLatency: summarize(clicks),
      timerLag: summarize(probe.lags),
      longTasks: probe.longTasks.length,
      longTaskTotalMs: round(probe.longTasks.reduce((a, b) => a + b, 0)),
      fleetRenderMs,
    };
    progress.say(
      `dashboard: matrix of ${MATRIX_HOSTS}: rows shown ${measured.firstRenderMs} ms, all final ${measured.allFinalMs} ms (gateway ` +
        `${measured.gatewaySettledMs} ms); click p50 ${measured.clickLatency.p50} max ${measured.clickLatency.max} ms; timer lag p99 ` +
        `${measured.timerLag.p99} max ${measured.timerLag.max} ms; ${measured.longTasks} long tasks (${measured.longTaskTotalMs} ms)`,
    );
    return measured;
  } finally {
    await Promise.all(swarms.map((swarm) => swarm.stop().catch(() => undefined)));
    await fleet.stop();
  }
}

async function waitForAgents(url: string, key: string, wanted: number): Promise<void> {
  for (let i = 0; i < 240; i++) {
    const res = await fetch(`${url}/agent`, { headers: { authorization: `Bearer ${key}` } });
    const agents = ((await res.json()) as { agents: Array<{ enrollment: string }> }).agents;
    if (agents.filter((agent) => agent.enrollment === 'accepted').length >= wanted) return;
    await sleep(1000);
  }
  throw new Error(`fewer than ${wanted} agents became live within 4 minutes`);
}
