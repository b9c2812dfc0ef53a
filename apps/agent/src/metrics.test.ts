/** The agent's metrics server: executed jobs and engine health per host, /health, and a clear error for a taken port. */
import type { HostRow } from '@fleet/contracts/protocol';
import { metricValue, scrape } from '../../../test/support/metrics';
import { AgentMetrics, serveMetrics, type MetricsServer } from './metrics';

function row(hostname: string, status: HostRow['status']): HostRow {
  return { hostname, status, changed: false };
}

describe('the agent metrics server', () => {
  let server: MetricsServer;
  const metrics = new AgentMetrics('web-01', { processMetrics: false });

  beforeAll(async () => {
    server = await serveMetrics(metrics.collectors, { host: '127.0.0.1', port: 0 });
  });

  afterAll(() => server.close());

  it('listens on a free port when given port 0 and says where', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9][0-9]*\/metrics$/);
  });

  it('serves executed jobs and engine health, every series labelled with the hostname', async () => {
    metrics.jobExecuted(
      { job_id: 'j1', operation: 'docker.container.list', target: '_all', params: {}, deadline: 0 },
      { ...row('web-01', 'ok'), duration_ms: 20 },
    );
    metrics.jobExecuted(
      { job_id: 'j2', operation: 'docker.container.list', target: '_all', params: {}, deadline: 0 },
      { ...row('web-01', 'failed'), duration_ms: 5 },
    );
    metrics.engine(false);
    const samples = await scrape(server.url);
    expect(metricValue(samples, 'fleet_agent_jobs_total', { hostname: 'web-01', operation: 'docker.container.list', status: 'ok' })).toBe(
      1,
    );
    expect(
      metricValue(samples, 'fleet_agent_jobs_total', { hostname: 'web-01', operation: 'docker.container.list', status: 'failed' }),
    ).toBe(1);
    expect(metricValue(samples, 'fleet_agent_job_duration_seconds_count', { operation: 'docker.container.list' })).toBe(2);
    expect(metricValue(samples, 'fleet_agent_job_duration_seconds_sum', { operation: 'docker.container.list' })).toBeCloseTo(0.025);
    expect(samples.find((sample) => sample.name === 'fleet_agent_engine_healthy')).toMatchObject({
      labels: { hostname: 'web-01' },
      value: 0,
    });
  });

  it('answers /health, 404 elsewhere and 405 to anything but GET', async () => {
    const base = server.url.replace(/\/metrics$/, '');
    const health = await fetch(`${base}/health`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
    const missing = await fetch(`${base}/jobs`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'not found', code: 404 });
    expect((await fetch(server.url, { method: 'POST' })).status).toBe(405);
  });

  it('fails to start with a message naming the address when the port is taken', async () => {
    const port = Number(new URL(server.url).port);
    await expect(serveMetrics(metrics.collectors, { host: '127.0.0.1', port })).rejects.toThrow(
      `FLEET_AGENT_METRICS_ADDR=127.0.0.1:${port}: cannot listen`,
    );
  });
});
