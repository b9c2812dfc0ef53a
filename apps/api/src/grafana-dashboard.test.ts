/**
 * deploy/grafana/fleet-dashboard.json queries only gateway metrics the gateway
 * exports: the names come from its own collectors, built as main.ts builds
 * them (process metrics, the NATS link and the roster gauges included).
 * The agents' panels are checked the same way in apps/agent.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { dashboardSeriesMissing, type GrafanaDashboard, scrapedSeriesNames, trackNats } from '@fleet/runtime/metrics';
import { GatewayMetrics } from './metrics';

const DASHBOARD = path.join(__dirname, '..', '..', '..', 'deploy', 'grafana', 'fleet-dashboard.json');
/** A connection that is up and never changes status: enough for the NATS gauges to register. */
const quietConnection = { isClosed: () => false, status: async function* () {} } as unknown as NatsConnection;

const dashboard = () => JSON.parse(readFileSync(DASHBOARD, 'utf8')) as GrafanaDashboard;

/** The gateway's collectors as main.ts builds them. */
async function collectors() {
  const gateway = new GatewayMetrics({ processMetrics: true });
  gateway.followAgents({ list: () => [] });
  trackNats(quietConnection, gateway.collectors, 'fleet_');
  return gateway.collectors;
}

describe('the Grafana dashboard, gateway panels', () => {
  it('query only metrics the gateway exports', async () => {
    const { queried, missing } = await dashboardSeriesMissing(
      dashboard(),
      await collectors(),
      (series) => !series.startsWith('fleet_agent_'),
    );
    expect(queried.length).toBeGreaterThan(5);
    expect(missing).toEqual([]);
  });

  it('the check tells a misspelt name from a real one', async () => {
    const exported = await scrapedSeriesNames(await collectors());
    expect(exported.has('fleet_job_duration_seconds_bucket')).toBe(true);
    expect(exported.has('fleet_job_duration_second_bucket')).toBe(false);
  });
});
