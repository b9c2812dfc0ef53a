/**
 * deploy/grafana/fleet-dashboard.json queries only agent metrics an agent
 * exports: the names come from its own collectors, built as main.ts builds
 * them (process metrics and the NATS link included). The gateway's panels
 * are checked the same way in apps/api.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { dashboardSeriesMissing, type GrafanaDashboard, trackNats } from '@fleet/runtime/metrics';
import { AgentMetrics } from './metrics';

const DASHBOARD = path.join(__dirname, '..', '..', '..', 'deploy', 'grafana', 'fleet-dashboard.json');
/** A connection that is up and never changes status: enough for the NATS gauges to register. */
const quietConnection = { isClosed: () => false, status: async function* () {} } as unknown as NatsConnection;

const dashboard = () => JSON.parse(readFileSync(DASHBOARD, 'utf8')) as GrafanaDashboard;

/** An agent's collectors as main.ts builds them. */
async function collectors() {
  const agent = new AgentMetrics('web-01', { processMetrics: true });
  trackNats(quietConnection, agent.collectors, 'fleet_agent_');
  return agent.collectors;
}

describe('the Grafana dashboard, agent panels', () => {
  it('query only metrics an agent exports', async () => {
    const { queried, missing } = await dashboardSeriesMissing(dashboard(), await collectors(), (series) =>
      series.startsWith('fleet_agent_'),
    );
    expect(queried.length).toBeGreaterThan(3);
    expect(missing).toEqual([]);
  });
});
