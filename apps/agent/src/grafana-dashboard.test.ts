/**
 * deploy/grafana/fleet-dashboard.json queries only agent metrics an agent
 * exports: the names come from its own collectors, built as main.ts builds
 * them (process metrics and the NATS link included). The gateway's panels
 * are checked the same way in apps/api.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { scrapedSeriesNames, trackNats } from '@fleet/runtime/metrics';
import { AgentMetrics } from './metrics';

const DASHBOARD = path.join(__dirname, '..', '..', '..', 'deploy', 'grafana', 'fleet-dashboard.json');
/** A connection that is up and never changes status: enough for the NATS gauges to register. */
const quietConnection = { isClosed: () => false, status: async function* () {} } as unknown as NatsConnection;

async function exportedNames(): Promise<Set<string>> {
  const agent = new AgentMetrics('web-01', { processMetrics: true });
  trackNats(quietConnection, agent.collectors, 'fleet_agent_');
  return scrapedSeriesNames(agent.collectors);
}

function agentNamesQueried(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  const exprs = dashboard.panels.flatMap((panel) => panel.targets ?? []).map((target) => target.expr);
  return [...new Set(exprs.flatMap((expr) => expr.match(/\bfleet_agent_[a-z0-9_]+/g) ?? []))];
}

describe('the Grafana dashboard, agent panels', () => {
  it('query only metrics an agent exports', async () => {
    const queried = agentNamesQueried();
    expect(queried.length).toBeGreaterThan(3);
    const exported = await exportedNames();
    expect(queried.filter((name) => !exported.has(name))).toEqual([]);
  });
});
