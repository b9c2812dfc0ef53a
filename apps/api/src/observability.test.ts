/**
 * The gateway's public surface for operators — /openapi.json, /docs, /metrics, /health/ready — with the real
 * express app and stub back ends, and the job metrics on their own. The same endpoints against a live fleet:
 * test/e2e/observability.test.ts.
 */
import { mintToken } from '@fleet/api-keys';
import { loadContract } from '@fleet/contracts/operations';
import type { HostRow } from '@fleet/contracts/protocol';
import { metricValue, parseMetrics, scrape } from '../../../test/support/metrics';
import { GatewayMetrics } from './metrics';
import type { Readiness } from './routes/health';
import { jobRecordOf, serveTestApp } from './test-app';

const SECRET = 'observability-secret-0123456789abcdef';

function row(hostname: string, status: HostRow['status']): HostRow {
  return { hostname, status, changed: false };
}

describe('the gateway app', () => {
  let url: string;
  let close: () => void;
  let readiness: Readiness;
  const metrics = new GatewayMetrics({ processMetrics: false });
  const agents = [
    { hostname: 'web-01', labels: {}, live: true, drained: false, engine: { healthy: true } },
    { hostname: 'web-02', labels: {}, live: true, drained: true, engine: { healthy: false, error: 'docker engine unavailable' } },
  ];
  metrics.followAgents({ list: () => agents as never });

  beforeAll(async () => {
    const { url: served, server } = await serveTestApp({
      jwtSecret: SECRET,
      roster: {
        list: () => agents,
        get: () => undefined,
        page: () => ({ agents, total: agents.length, pending: 0, counts: { online: 1, drained: 1, offline: 0 } }),
      } as never,
      metrics,
      metricsPublic: true,
      readiness: async () => readiness,
    });
    url = served;
    close = () => server.close();
  });

  afterAll(() => close());

  it('serves the contract at /openapi.json without a key', async () => {
    const res = await fetch(`${url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual(loadContract());
  });

  it('serves the Redoc page and Redoc itself from the gateway, with relative URLs', async () => {
    const page = await fetch(`${url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('<redoc spec-url="openapi.json"');
    expect(html).toContain('<script src="docs/redoc.standalone.js"></script>');
    expect(html).not.toMatch(/https?:\/\//);
    const bundle = await fetch(`${url}/docs/redoc.standalone.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toMatch(/javascript/);
    expect((await bundle.text()).length).toBeGreaterThan(500_000);
  });

  it('sends /docs/ to /docs, where the relative URLs resolve', async () => {
    const res = await fetch(`${url}/docs/`, { redirect: 'manual' });
    expect(res.status).toBe(301);
    expect(new URL(res.headers.get('location') as string, `${url}/docs/`).pathname).toBe('/docs');
  });

  it('answers /health/ready 200 when NATS and the agents bucket are up, 503 naming what is down', async () => {
    readiness = { nats: 'connected', registry: 'ok' };
    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', nats: 'connected', registry: 'ok' });

    readiness = { nats: 'connected', registry: 'unreachable: stream not found' };
    const registryDown = await fetch(`${url}/health/ready`);
    expect(registryDown.status).toBe(503);
    expect(await registryDown.json()).toEqual({
      error: 'not ready',
      details: 'registry: unreachable: stream not found',
      code: 503,
      reason: 'not_ready',
      nats: 'connected',
      registry: 'unreachable: stream not found',
    });

    readiness = { nats: 'disconnected', registry: 'unreachable: no NATS connection' };
    const natsDown = await (await fetch(`${url}/health/ready`)).json();
    expect(natsDown.details).toBe('nats: disconnected; registry: unreachable: no NATS connection');
  });

  it('exposes the agents and their engines at /metrics without a key when it is made public', async () => {
    const samples = await scrape(`${url}/metrics`);
    expect(metricValue(samples, 'fleet_agents', { state: 'live' })).toBe(1);
    expect(metricValue(samples, 'fleet_agents', { state: 'drained' })).toBe(1);
    expect(metricValue(samples, 'fleet_engine_healthy', { hostname: 'web-01' })).toBe(1);
    expect(samples.find((sample) => sample.name === 'fleet_engine_healthy' && sample.labels.hostname === 'web-02')?.value).toBe(0);
  });

  it('counts requests by route template, never by concrete path', async () => {
    const key = mintToken({ secret: SECRET, role: 'admin', ttlSeconds: 60 });
    const before = await scrape(`${url}/metrics`);
    await fetch(`${url}/agent`, { headers: { authorization: `Bearer ${key}` } });
    await fetch(`${url}/agent/web-77`, { headers: { authorization: `Bearer ${key}` } });
    await fetch(`${url}/no/such/path/${Date.now()}`, { headers: { authorization: `Bearer ${key}` } });
    const after = await scrape(`${url}/metrics`);
    const moved = (labels: Record<string, string>) =>
      metricValue(after, 'fleet_http_requests_total', labels) - metricValue(before, 'fleet_http_requests_total', labels);
    expect(moved({ method: 'GET', route: '/agent', status: '200' })).toBe(1);
    expect(moved({ method: 'GET', route: '/agent/:hostname', status: '404' })).toBe(1);
    expect(moved({ method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(after.some((sample) => (sample.labels.route ?? '').includes('web-77'))).toBe(false);
  });
});

describe('job metrics', () => {
  it('count jobs by outcome, host rows by status, duration and fan-out', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false });
    metrics.jobSettled(jobRecordOf('docker.container.list', ['a', 'b', 'c'], 1500), [row('a', 'ok'), row('b', 'ok'), row('c', 'ok')]);
    metrics.jobSettled(jobRecordOf('docker.container.list', ['a', 'b'], 10), [row('a', 'ok'), row('b', 'failed')]);
    metrics.jobSettled(jobRecordOf('docker.image.remove', ['a'], 10), [row('a', 'failed')]);
    const samples = parseMetrics(await metrics.collectors.metrics());
    expect(metricValue(samples, 'fleet_jobs_total', { operation: 'docker.container.list', status: 'ok' })).toBe(1);
    expect(metricValue(samples, 'fleet_jobs_total', { operation: 'docker.container.list', status: 'partial' })).toBe(1);
    expect(metricValue(samples, 'fleet_jobs_total', { operation: 'docker.image.remove', status: 'failed' })).toBe(1);
    expect(metricValue(samples, 'fleet_job_host_results_total', { operation: 'docker.container.list', status: 'ok' })).toBe(4);
    expect(metricValue(samples, 'fleet_job_host_results_total', { operation: 'docker.container.list', status: 'failed' })).toBe(1);
    expect(metricValue(samples, 'fleet_job_duration_seconds_count', { operation: 'docker.container.list' })).toBe(2);
    expect(metricValue(samples, 'fleet_job_duration_seconds_sum', { operation: 'docker.container.list' })).toBeGreaterThanOrEqual(1.5);
    expect(metricValue(samples, 'fleet_job_duration_seconds_bucket', { operation: 'docker.container.list', le: '1' })).toBe(1);
    expect(metricValue(samples, 'fleet_job_hosts_count')).toBe(3);
    expect(metricValue(samples, 'fleet_job_hosts_sum')).toBe(6);
    expect(metricValue(samples, 'fleet_job_hosts_bucket', { le: '2' })).toBe(2);
  });
});
