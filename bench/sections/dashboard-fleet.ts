import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { swarmHostname, swarmLabels } from '../harness/swarm-protocol';
import { sleep } from '../lib/context';
import { round, summarize, type Summary } from '../lib/stats';

/**
 * What an operator of a large fleet waits for in the dashboard (/ui), measured in chromium against a
 * gateway whose agents are the swarm's: the fleet view (a page of 50 agents from paged `GET /agent`),
 * paging to its end, finding one host or a label group, and the job matrix of one `_all` call.
 */
export interface FleetViewMeasurement {
  /** Reload of the signed-in page to the fleet view's first page: 50 rows, the heading and the pager naming the whole fleet. */
  firstPage: Summary;
  /** Each click on Next, from page 1 on (at most NEXT_CLICKS), to that page's rows shown. */
  nextClick: Summary;
  /** A click on Last (from page 1) to the last page's rows shown, and on First back to page 1's. */
  lastClick: Summary;
  firstClick: Summary;
  pages: number;
  /** A hostname typed into Filter (then Enter) to its one row shown alone. */
  findHost: Summary;
  /** A label selector typed into Filter to its first page, with the pager naming how many hosts match. */
  labelFilter: { selector: string; matching: number; ms: Summary };
  heap: { firstPage: HeapSample; afterPaging: HeapSample };
}

export interface MatrixMeasurement {
  /** Job started (async) to the page showing a row for every host, of any status. */
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
  /** With every row final on the page, after a garbage collection. */
  heap: HeapSample;
}

/** The page's JavaScript heap after a forced garbage collection, and its DOM nodes (Chrome DevTools Protocol). */
export interface HeapSample {
  jsHeapUsedBytes: number;
  domNodes: number;
}

/** The swarm's hostnames: `ui-00000`, `ui-00001`, … */
export const SWARM_PREFIX = 'ui-';
/** Agents per page of the fleet view (apps/ui/src/views/fleet.tsx). */
const PAGE_SIZE = 50;
const LABEL_SELECTOR = { role: 'db', zone: 'us.east.1' };
const REPEATS = 5;
/** Next clicks timed from page 1: enough for the median and worst of a click. */
const NEXT_CLICKS = 20;
const WAIT = { timeout: 120_000 };
/** A page of 50 agents that takes longer than this is a broken view, not a slow one. */
const FLEET_WAIT = { timeout: 30_000 };
/** Row counts over thousands of rows are checked every 50 ms, not every frame: the check itself would load the page. */
const MATRIX_POLL = { ...WAIT, polling: 50 };
const FLEET_VIEW = '[data-view=fleet]';

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

export async function heapAfterGc(page: Page): Promise<HeapSample> {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send('HeapProfiler.collectGarbage');
    await cdp.send('Performance.enable');
    const { metrics } = await cdp.send('Performance.getMetrics');
    const metric = (name: string) => metrics.find((m) => m.name === name)?.value ?? NaN;
    return { jsHeapUsedBytes: metric('JSHeapUsedSize'), domNodes: metric('Nodes') };
  } finally {
    await cdp.detach();
  }
}

/** What the pager says for the page starting at `first` of `total` agents (the view's own wording). */
function pagerText(first: number, shown: number, total: number): string {
  return `${(first + 1).toLocaleString('en')}–${(first + shown).toLocaleString('en')} of ${total.toLocaleString('en')}`;
}

/** The fleet view's pager text and its rows' hostnames, as shown (an expression: see PAGE_PROBE). */
const FLEET_SHOWN = `({
  pager: document.querySelector('[data-testid=fleet-pager] span')?.textContent ?? '',
  rows: [...document.querySelectorAll('[data-view=fleet] tbody tr[data-host]')].map((r) => r.getAttribute('data-host')),
})`;

/** Waits until the fleet view shows exactly these hosts under this pager text; says what it showed instead if it never does. */
async function waitForFleetPage(page: Page, pager: string, hosts: string[]): Promise<void> {
  try {
    await page.waitForFunction(
      ({ pager, hosts }) => {
        const rows = [...document.querySelectorAll('[data-view=fleet] tbody tr[data-host]')].map((r) => r.getAttribute('data-host'));
        const shown = document.querySelector('[data-testid=fleet-pager] span')?.textContent;
        return shown === pager && rows.length === hosts.length && rows.every((host, i) => host === hosts[i]);
      },
      { pager, hosts },
      { ...FLEET_WAIT, polling: 'raf' },
    );
  } catch (err) {
    const shown = (await page.evaluate(FLEET_SHOWN).catch(() => undefined)) as { pager: string; rows: string[] } | undefined;
    const rows = shown ? `${shown.rows.length} rows (${shown.rows[0]}…${shown.rows.at(-1)})` : 'nothing readable';
    throw new Error(`the fleet view never showed "${pager}" with ${hosts[0]}…${hosts.at(-1)}; it showed "${shown?.pager}", ${rows}`, {
      cause: err,
    });
  }
}

/** The swarm's hostnames sort in index order (zero-padded), so page p holds indexes [p × 50, p × 50 + 50). */
/** A click on a pager button to page `pageIndex`'s rows and pager shown, in ms. */
async function clickToPage(page: Page, button: 'First' | 'Next' | 'Last', hosts: number, pageIndex: number): Promise<number> {
  const shown = hostsOfPage(hosts, pageIndex);
  const t0 = performance.now();
  await page.getByRole('button', { name: button, exact: true }).click();
  await waitForFleetPage(page, pagerText(pageIndex * PAGE_SIZE, shown.length, hosts), shown);
  return performance.now() - t0;
}

function hostsOfPage(hosts: number, pageIndex: number): string[] {
  const first = pageIndex * PAGE_SIZE;
  return Array.from({ length: Math.min(PAGE_SIZE, hosts - first) }, (_, i) => swarmHostname(SWARM_PREFIX, first + i));
}

async function filterFleet(page: Page, text: string): Promise<number> {
  const box = page.getByLabel('Filter');
  await box.fill(text);
  const t0 = performance.now();
  await box.press('Enter');
  return t0;
}

/** The fleet view of `hosts` live agents, in `page` (signed in): first page, paging to the end, search. */
export async function measureFleetView(page: Page, hosts: number, screens: string): Promise<FleetViewMeasurement> {
  const firstHosts = hostsOfPage(hosts, 0);
  const firstPager = pagerText(0, firstHosts.length, hosts);
  const heading = `Fleet · ${hosts.toLocaleString('en')} agents`;
  const firstPage: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now();
    await page.reload({ waitUntil: 'commit' });
    await waitForFleetPage(page, firstPager, firstHosts);
    await page.locator(`${FLEET_VIEW} h2`, { hasText: heading }).waitFor(WAIT);
    firstPage.push(performance.now() - t0);
  }
  await page.screenshot({ path: join(screens, `dashboard-${hosts}-fleet-first-page.png`), fullPage: true });
  const firstPageHeap = await heapAfterGc(page);

  const pages = Math.ceil(hosts / PAGE_SIZE);
  const clicks: number[] = [];
  for (let p = 1; p < Math.min(pages, NEXT_CLICKS + 1); p++) clicks.push(await clickToPage(page, 'Next', hosts, p));
  await clickToPage(page, 'First', hosts, 0);
  const lastClicks: number[] = [];
  const firstClicks: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    lastClicks.push(await clickToPage(page, 'Last', hosts, pages - 1));
    if (i === 0) await page.screenshot({ path: join(screens, `dashboard-${hosts}-fleet-last-page.png`), fullPage: true });
    firstClicks.push(await clickToPage(page, 'First', hosts, 0));
  }
  const afterPaging = await heapAfterGc(page);

  const findHost: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const host = swarmHostname(SWARM_PREFIX, Math.floor(((i + 0.5) * hosts) / REPEATS));
    const t0 = await filterFleet(page, host);
    await waitForFleetPage(page, pagerText(0, 1, 1), [host]);
    findHost.push(performance.now() - t0);
  }
  await page.screenshot({ path: join(screens, `dashboard-${hosts}-fleet-one-host.png`), fullPage: true });

  const selector = Object.entries(LABEL_SELECTOR)
    .map(([key, value]) => `${key}:${value}`)
    .join(',');
  const matching = Array.from({ length: hosts }, (_, i) => i).filter((i) =>
    Object.entries(LABEL_SELECTOR).every(([key, value]) => swarmLabels(i)[key] === value),
  );
  const labelFilter: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    // From the unfiltered view each time, so every sample is a change of filter.
    await filterFleet(page, '');
    await waitForFleetPage(page, firstPager, firstHosts);
    const t0 = await filterFleet(page, selector);
    const shown = matching.slice(0, PAGE_SIZE).map((index) => swarmHostname(SWARM_PREFIX, index));
    await waitForFleetPage(page, pagerText(0, shown.length, matching.length), shown);
    labelFilter.push(performance.now() - t0);
  }
  await page.screenshot({ path: join(screens, `dashboard-${hosts}-fleet-label-filter.png`), fullPage: true });
  await filterFleet(page, '');
  return {
    firstPage: summarize(firstPage),
    nextClick: summarize(clicks),
    lastClick: summarize(lastClicks),
    firstClick: summarize(firstClicks),
    pages,
    findHost: summarize(findHost),
    labelFilter: { selector, matching: matching.length, ms: summarize(labelFilter) },
    heap: { firstPage: firstPageHeap, afterPaging },
  };
}

/** One `_all` job over `hosts` agents, its page open while the rows land. */
export async function measureMatrix(page: Page, url: string, adminKey: string, hosts: number, screens: string): Promise<MatrixMeasurement> {
  const auth = { authorization: `Bearer ${adminKey}` };
  await page.evaluate(PAGE_PROBE);
  const t0 = performance.now();
  const res = await fetch(`${url}/node/_all/container/docker/system/ping?async=true`, { headers: auth });
  if (!res.ok) throw new Error(`the _all call answered ${res.status}: ${await res.text()}`);
  const started = (await res.json()) as { job_id: string };
  await page.evaluate((hash) => (location.hash = hash), `#/job/${started.job_id}`);
  const settled = fetch(`${url}/job/${started.job_id}?wait=300`, { headers: auth }).then(() => performance.now() - t0);
  await page.waitForFunction((n) => document.querySelectorAll('[data-view=job] tbody tr').length >= n, hosts, MATRIX_POLL);
  const firstRenderMs = performance.now() - t0;
  const clicks = await clickWhileRowsLand(page, hosts);
  await page.waitForFunction(
    (n) => document.querySelectorAll('[data-view=job] tbody tr[data-status=ok], [data-view=job] tbody tr[data-status=failed]').length >= n,
    hosts,
    MATRIX_POLL,
  );
  const allFinalMs = performance.now() - t0;
  const gatewaySettledMs = await settled;
  const probe = await page.evaluate(() => (window as unknown as { benchProbe: { lags: number[]; longTasks: number[] } }).benchProbe);
  await page.screenshot({ path: join(screens, `dashboard-${hosts}-job-matrix.png`) });
  return {
    firstRenderMs: round(firstRenderMs),
    allFinalMs: round(allFinalMs),
    gatewaySettledMs: round(gatewaySettledMs),
    clickLatency: summarize(clicks),
    timerLag: summarize(probe.lags),
    longTasks: probe.longTasks.length,
    longTaskTotalMs: round(probe.longTasks.reduce((a, b) => a + b, 0)),
    heap: await heapAfterGc(page),
  };
}

/** Clicks on "Failed only" (check, then uncheck) while the rows land; at least three, so a fast fill still yields a figure. */
async function clickWhileRowsLand(page: Page, hosts: number): Promise<number[]> {
  const checkbox = page.getByLabel(/Failed only/);
  const allFinal = () =>
    page.evaluate((n) => {
      const badge = document.querySelector('[data-view=job] h2 .badge');
      return (
        !!badge && !/running|pending/.test(badge.textContent ?? '') && document.querySelectorAll('[data-view=job] tbody tr').length >= n
      );
    }, hosts);
  const clicks: number[] = [];
  for (let i = 0; i < 40 && (i < 3 || !(await allFinal())); i++) {
    const c0 = performance.now();
    await checkbox.click();
    await page.waitForFunction(
      (checked) => (document.querySelector('input[name=failed-only]') as HTMLInputElement).checked === checked,
      i % 2 === 0,
      { polling: 'raf' },
    );
    clicks.push(performance.now() - c0);
    if (i % 2 === 1) await sleep(100);
  }
  if (await checkbox.isChecked()) await checkbox.click();
  return clicks;
}
