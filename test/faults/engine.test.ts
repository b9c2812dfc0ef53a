/**
 * One host's Docker engine stops (dockerd gone, its socket dead) and comes back: the host's rows
 * say `docker engine unavailable`, a single-host call answers 502, the agent stays registered and
 * reports its engine unhealthy; once the engine is back the rows are ok again.
 */
import { eventually, executionsOf, markedContainer, newMark, SLACK_MS, useFaultFleet } from '../support/faults';
import { api } from '../support/http';
import { report } from '../support/report';

const { fleet, tally } = useFaultFleet('faults/engine', { agentEnv: { FLEET_AGENT_HEARTBEAT_MS: '500' } });

describe('a host whose Docker engine is stopped', () => {
  it("fails only that host's rows with `docker engine unavailable`, by the deadline", async () => {
    await fleet.stopEngine('web-02');

    const started = Date.now();
    const mark = newMark('engine-down');
    const res = await api(fleet, 'POST', '/node/_all/container/docker?timeout=10', { body: markedContainer(mark) });
    expect(Date.now() - started).toBeLessThan(10_000 + SLACK_MS);
    expect(res.status).toBe(202);
    expect(res.body.results).toEqual([
      expect.objectContaining({ hostname: 'db-01', status: 'ok', changed: true }),
      expect.objectContaining({ hostname: 'web-01', status: 'ok', changed: true }),
      expect.objectContaining({
        hostname: 'web-02',
        status: 'failed',
        changed: false,
        error_code: 502,
        error: expect.stringMatching(/^docker engine unavailable/),
      }),
    ]);
    expect(await executionsOf(fleet, mark, ['db-01', 'web-01'])).toEqual({ 'db-01': 1, 'web-01': 1 });

    const single = await api(fleet, 'GET', '/node/web-02/container/docker?timeout=10');
    expect(single.status).toBe(502);
    expect(single.body).toMatchObject({ code: 502, error: expect.stringMatching(/^docker engine unavailable/) });
  });

  it('keeps the agent registered and reporting its engine unhealthy', async () => {
    await eventually(
      'web-02 to report its engine unhealthy',
      async () => {
        const agent = await api(fleet, 'GET', '/agent/web-02');
        return agent.status === 200 && agent.body.engine?.healthy === false;
      },
      15_000,
    );
    const agent = await api(fleet, 'GET', '/agent/web-02');
    expect(agent.body).toMatchObject({
      hostname: 'web-02',
      live: true,
      engine: { healthy: false, error: expect.stringMatching(/^docker engine unavailable/) },
    });
    const all = await api(fleet, 'GET', '/agent');
    expect(all.body.agents.map((a: { hostname: string }) => a.hostname)).toEqual(['db-01', 'web-01', 'web-02']);
    tally.fault(true);
  });

  it('answers ok again once the engine is back, and the agent reports it healthy', async () => {
    await fleet.startEngine('web-02');
    const backAt = Date.now();
    await eventually(
      'web-02 to report its engine healthy',
      async () => (await api(fleet, 'GET', '/agent/web-02')).body.engine?.healthy === true,
      15_000,
    );
    const mark = newMark('engine-back');
    const res = await api(fleet, 'POST', '/node/_all/container/docker', { body: markedContainer(mark) });
    expect(res.status).toBe(202);
    expect(res.body.results.map((row: { status: string }) => row.status)).toEqual(['ok', 'ok', 'ok']);
    const counts = await executionsOf(fleet, mark);
    expect(tally.exactlyOnce(Object.entries(counts).map(([hostname, count]) => ({ mark, hostname, count })))).toEqual([]);
    report('faults/engine', 'engine restart', { healthy_again_ms: Date.now() - backAt });
    tally.fault(true);
  });
});
