/**
 * Docs, health and metrics on a live fleet (real NATS, three dockerd
 * engines, the real gateway and agents with FLEET_AGENT_METRICS_ADDR): /docs
 * renders in headless Chromium (Debian `chromium` driven by playwright-core)
 * with every operation of the contract, using nothing but the gateway; and
 * the job metrics of the gateway and of each agent move by exactly the jobs
 * this suite runs.
 */
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadContract, OPERATIONS } from '@fleet/contracts/operations';
import { launchChromium, type HeadlessChromium } from '../support/chromium';
import { startTestFleet, type TestFleet } from '../support/fleet';
import { api } from '../support/http';
import { metricValue, scrape, type Sample } from '../support/metrics';

const IMAGE = 'local/busybox:latest';
const HOSTS = ['db-01', 'web-01', 'web-02'];
const ARTIFACTS = path.join(__dirname, '..', 'artifacts');

let fleet: TestFleet;

beforeAll(async () => {
  fleet = await startTestFleet({ agentEnv: { FLEET_AGENT_METRICS_ADDR: '127.0.0.1:0' } });
});

afterAll(async () => {
  await fleet?.stop();
});

describe('health and the contract, without a key', () => {
  it('/health/ready answers 200: NATS connected, registry answering', async () => {
    const res = await fetch(`${fleet.url}/health/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', nats: 'connected', registry: 'ok' });
  });

  it('/openapi.json is the contract', async () => {
    const res = await fetch(`${fleet.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(loadContract());
  });
});

describe('/docs in headless Chromium', () => {
  let browser: HeadlessChromium | undefined;

  afterAll(async () => {
    await browser?.close();
  });

  it('renders every operation of the contract from the gateway alone, and a screenshot shows it', async () => {
    browser = await launchChromium();
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    const requested: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    // The page's Content-Security-Policy stops a request inside the browser: Playwright reports it failed with 'csp'.
    const blocked: string[] = [];
    page.on('requestfailed', (request) => {
      if (request.failure()?.errorText === 'csp') blocked.push(request.url());
    });

    const res = await page.goto(`${fleet.url}/docs`, { waitUntil: 'load', timeout: 60_000 });
    expect(res?.status()).toBe(200);
    // Redoc has rendered once every operation has its section.
    await page.waitForFunction((count) => document.querySelectorAll('[data-section-id^="operation/"]').length >= count, OPERATIONS.length, {
      timeout: 90_000,
    });

    const sections = await page.$$eval('[data-section-id^="operation/"]', (nodes) =>
      nodes.map((node) => node.getAttribute('data-section-id')),
    );
    const text = await page.evaluate(() => document.body.innerText);
    const contract = loadContract() as { paths: Record<string, Record<string, { summary: string }>> };
    const missing = OPERATIONS.flatMap((op) => {
      // Redoc shows a summary as written, backticks and all.
      const summary = contract.paths[op.path][op.method].summary;
      return [
        ...(sections.includes(`operation/${op.name}`) ? [] : [`section operation/${op.name}`]),
        ...(text.includes(summary) ? [] : [`summary of ${op.name}: ${summary}`]),
      ];
    });
    expect(missing).toEqual([]);
    expect(pageErrors).toEqual([]);
    // No CDN, no fonts: everything comes from the gateway (or is built in memory). Redoc's footer asks
    // cdn.redoc.ly for its logo; the policy stops that inside the browser, and nothing else is stopped.
    const offsite = requested.filter((url) => !url.startsWith(`${fleet.url}/`) && !/^(data|blob):/.test(url));
    expect(offsite.filter((url) => !blocked.includes(url))).toEqual([]);
    expect(blocked.filter((url) => url !== 'https://cdn.redoc.ly/redoc/logo-mini.svg')).toEqual([]);
    expect(requested).toEqual(
      expect.arrayContaining([`${fleet.url}/docs`, `${fleet.url}/docs/redoc.standalone.js`, `${fleet.url}/openapi.json`]),
    );

    mkdirSync(ARTIFACTS, { recursive: true });
    const overview = path.join(ARTIFACTS, 'docs.png');
    await page.screenshot({ path: overview });
    // One operation in full: Redoc scrolls to the section named in the hash.
    await page.goto(`${fleet.url}/docs#operation/docker.image.remove`, { waitUntil: 'load' });
    await page.waitForSelector('[data-section-id="operation/docker.image.remove"]', { timeout: 60_000 });
    await page.waitForFunction(() => window.scrollY > 0, undefined, { timeout: 30_000 });
    const operation = path.join(ARTIFACTS, 'docs-operation.png');
    await page.screenshot({ path: operation });
    for (const file of [overview, operation]) expect(statSync(file).size).toBeGreaterThan(20_000);
    process.stderr.write(`observability.test: screenshots ${overview} and ${operation}\n`);
  });
});

describe('metrics', () => {
  const create = (run: string, name: string) => ({ image: IMAGE, name, cmd: ['sleep', '300'], labels: { 'fleet.test': run } });

  async function agentMetricsUrls(): Promise<Record<string, string>> {
    const res = await api(fleet, 'GET', '/agent');
    expect(res.status).toBe(200);
    return Object.fromEntries(
      res.body.agents.map((agent: { hostname: string; metrics_url: string }) => [agent.hostname, agent.metrics_url]),
    );
  }

  it('every agent registers its own metrics_url, listed by GET /agent', async () => {
    const urls = await agentMetricsUrls();
    expect(Object.keys(urls)).toEqual(HOSTS);
    for (const url of Object.values(urls)) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9][0-9]*\/metrics$/);
    expect(new Set(Object.values(urls)).size).toBe(3);
    for (const [hostname, url] of Object.entries(urls)) {
      const samples = await scrape(url);
      expect(metricValue(samples, 'fleet_agent_engine_healthy', { hostname })).toBe(1);
      expect(metricValue(samples, 'fleet_agent_nats_connected', { hostname })).toBe(1);
    }
  });

  it('job counters, durations and fan-out move by exactly the jobs run, on the gateway and on each agent', async () => {
    const urls = await agentMetricsUrls();
    const gatewayBefore = await scrape(`${fleet.url}/metrics`, fleet.metricsToken);
    const agentsBefore = await scrapeAgents(urls);
    const run = `metrics-${Date.now()}`;
    const name = `m-${Date.now()}`;

    // 2 × list on _all: ok jobs, 3 ok rows each.
    for (let i = 0; i < 2; i++) expect((await api(fleet, 'GET', '/node/_all/container/docker')).status).toBe(200);
    // inspect of a missing container on role:web: one failed job, 2 failed rows.
    const inspect = await api(fleet, 'GET', `/node/role:web/container/docker/no-such-${run}`);
    expect(inspect.body.results.map((row: { status: string }) => row.status)).toEqual(['failed', 'failed']);
    // create on web-01, then the same name on role:web: ok, then partial (web-01 conflicts, web-02 creates).
    expect((await api(fleet, 'POST', '/node/web-01/container/docker', { body: create(run, name) })).status).toBe(202);
    const partial = await api(fleet, 'POST', '/node/role:web/container/docker', { body: create(run, name) });
    expect(partial.body.results.map((row: { status: string }) => row.status)).toEqual(['failed', 'ok']);
    // clean up: an ok remove on role:web.
    expect((await api(fleet, 'DELETE', `/node/role:web/container/docker/${name}?force=true`)).status).toBe(202);

    const gatewayAfter = await scrape(`${fleet.url}/metrics`, fleet.metricsToken);
    const moved = (metric: string, labels: Record<string, string> = {}) =>
      metricValue(gatewayAfter, metric, labels) - metricValue(gatewayBefore, metric, labels);
    expect({
      listOk: moved('fleet_jobs_total', { operation: 'docker.container.list', status: 'ok' }),
      listRowsOk: moved('fleet_job_host_results_total', { operation: 'docker.container.list', status: 'ok' }),
      inspectFailed: moved('fleet_jobs_total', { operation: 'docker.container.inspect', status: 'failed' }),
      inspectRowsFailed: moved('fleet_job_host_results_total', { operation: 'docker.container.inspect', status: 'failed' }),
      createOk: moved('fleet_jobs_total', { operation: 'docker.container.create', status: 'ok' }),
      createPartial: moved('fleet_jobs_total', { operation: 'docker.container.create', status: 'partial' }),
      createRowsOk: moved('fleet_job_host_results_total', { operation: 'docker.container.create', status: 'ok' }),
      createRowsFailed: moved('fleet_job_host_results_total', { operation: 'docker.container.create', status: 'failed' }),
      removeOk: moved('fleet_jobs_total', { operation: 'docker.container.remove', status: 'ok' }),
      allJobs: moved('fleet_jobs_total'),
      listDurations: moved('fleet_job_duration_seconds_count', { operation: 'docker.container.list' }),
      fanOutJobs: moved('fleet_job_hosts_count'),
      fanOutHosts: moved('fleet_job_hosts_sum'),
      singleHostJobs: moved('fleet_job_hosts_bucket', { le: '1' }),
      listRequests: moved('fleet_http_requests_total', { method: 'GET', route: '/node/:target/container/docker', status: '200' }),
      createRequests: moved('fleet_http_requests_total', { method: 'POST', route: '/node/:target/container/docker', status: '202' }),
    }).toEqual({
      listOk: 2,
      listRowsOk: 6,
      inspectFailed: 1,
      inspectRowsFailed: 2,
      createOk: 1,
      createPartial: 1,
      createRowsOk: 2,
      createRowsFailed: 1,
      removeOk: 1,
      allJobs: 6,
      listDurations: 2,
      fanOutJobs: 6,
      fanOutHosts: 3 + 3 + 2 + 1 + 2 + 2,
      singleHostJobs: 1,
      listRequests: 2,
      createRequests: 2,
    });
    expect(moved('fleet_job_duration_seconds_sum')).toBeGreaterThan(0);

    const agentsAfter = await scrapeAgents(urls);
    const executed = (hostname: string, operation: string, status: string) =>
      metricValue(agentsAfter[hostname], 'fleet_agent_jobs_total', { hostname, operation, status }) -
      metricValue(agentsBefore[hostname], 'fleet_agent_jobs_total', { hostname, operation, status });
    const table = Object.fromEntries(
      HOSTS.map((hostname) => [
        hostname,
        {
          list: executed(hostname, 'docker.container.list', 'ok'),
          inspectFailed: executed(hostname, 'docker.container.inspect', 'failed'),
          createOk: executed(hostname, 'docker.container.create', 'ok'),
          createFailed: executed(hostname, 'docker.container.create', 'failed'),
          removeOk: executed(hostname, 'docker.container.remove', 'ok'),
          all: metricValue(agentsAfter[hostname], 'fleet_agent_jobs_total') - metricValue(agentsBefore[hostname], 'fleet_agent_jobs_total'),
          timed:
            metricValue(agentsAfter[hostname], 'fleet_agent_job_duration_seconds_count') -
            metricValue(agentsBefore[hostname], 'fleet_agent_job_duration_seconds_count'),
        },
      ]),
    );
    expect(table).toEqual({
      'db-01': { list: 2, inspectFailed: 0, createOk: 0, createFailed: 0, removeOk: 0, all: 2, timed: 2 },
      'web-01': { list: 2, inspectFailed: 1, createOk: 1, createFailed: 1, removeOk: 1, all: 6, timed: 6 },
      'web-02': { list: 2, inspectFailed: 1, createOk: 1, createFailed: 0, removeOk: 1, all: 5, timed: 5 },
    });
  });

  it('agents online and drained follow drain and undrain; engine health per host', async () => {
    const agents = async () => {
      const samples = await scrape(`${fleet.url}/metrics`, fleet.metricsToken);
      return {
        live: metricValue(samples, 'fleet_agents', { state: 'live' }),
        drained: metricValue(samples, 'fleet_agents', { state: 'drained' }),
      };
    };
    expect(await agents()).toEqual({ live: 3, drained: 0 });
    expect((await api(fleet, 'POST', '/agent/web-02/drain')).status).toBe(200);
    try {
      expect(await agents()).toEqual({ live: 2, drained: 1 });
    } finally {
      expect((await api(fleet, 'POST', '/agent/web-02/undrain')).status).toBe(200);
    }
    expect(await agents()).toEqual({ live: 3, drained: 0 });
    const samples = await scrape(`${fleet.url}/metrics`, fleet.metricsToken);
    for (const hostname of HOSTS)
      expect({ hostname, healthy: metricValue(samples, 'fleet_engine_healthy', { hostname }) }).toEqual({ hostname, healthy: 1 });
  });
});

async function scrapeAgents(urls: Record<string, string>): Promise<Record<string, Sample[]>> {
  return Object.fromEntries(await Promise.all(Object.entries(urls).map(async ([hostname, url]) => [hostname, await scrape(url)] as const)));
}
