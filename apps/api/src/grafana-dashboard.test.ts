/**
 * deploy/grafana/fleet-dashboard.json queries only gateway metrics the gateway
 * exports: the names come from its own collectors, built as main.ts builds
 * them (process metrics, the NATS link and the roster gauges included).
 * The agents' panels are checked the same way in apps/agent.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { scrapedSeriesNames, trackNats } from '@fleet/runtime/metrics';
import { GatewayMetrics } from './metrics';

const DASHBOARD = path.join(__dirname, '..', '..', '..', 'deploy', 'grafana', 'fleet-dashboard.json');
/** A connection that is up and never changes status: enough for the NATS gauges to register. */
const quietConnection = { isClosed: () => false, status: async function* () {} } as unknown as NatsConnection;

async function exportedNames(): Promise<Set<string>> {
  const gateway = new GatewayMetrics({ processMetrics: true });
  gateway.followAgents({ list: () => [] });
  trackNats(quietConnection, gateway.collectors, 'fleet_');
  return scrapedSeriesNames(gateway.collectors);
}

/** Every `fleet_*` series the dashboard's queries name, except the agents' own (`fleet_agent_*`). */
function gatewayNamesQueried(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  const exprs = dashboard.panels.flatMap((panel) => panel.targets ?? []).map((target) => target.expr);
  return [...new Set(exprs.flatMap((expr) => expr.match(/\bfleet_[a-z0-9_]+/g) ?? []))].filter((name) => !name.startsWith('fleet_agent_'));
}

describe('the Grafana dashboard, gateway panels', () => {
  it('query only metrics the gateway exports', async () => {
    const queried = gatewayNamesQueried();
    expect(queried.length).toBeGreaterThan(5);
    const exported = await exportedNames();
    expect(queried.filter((name) => !exported.has(name))).toEqual([]);
  });

  it('the check tells a misspelt name from a real one', async () => {
    const exported = await exportedNames();
    expect(exported.has('fleet_job_duration_seconds_bucket')).toBe(true);
    expect(exported.has('fleet_job_duration_second_bucket')).toBe(false);
  });
});
