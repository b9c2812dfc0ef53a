/**
 * Partial failure and persistence on real processes: a SIGKILLed agent costs
 * its own row only, and job records outlive the gateway process.
 */
import { useTestFleet } from '../support/suite';
import { api } from '../support/http';

const fleet = useTestFleet();

async function waitForLog(name: string, text: string): Promise<void> {
  for (let i = 0; i < 100 && !fleet.log(name).includes(text); i++) await new Promise((resolve) => setTimeout(resolve, 100));
}

describe('an agent killed with SIGKILL', () => {
  it('costs only its own row: the _all call ends by its timeout, the dead host timed out, the others ok', async () => {
    await fleet.killAgent('web-02', 'SIGKILL');
    const started = Date.now();
    const res = await api(fleet, 'GET', '/node/_all/container/docker?timeout=3');
    const elapsedMs = Date.now() - started;

    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([
      expect.objectContaining({ hostname: 'db-01', status: 'ok' }),
      expect.objectContaining({ hostname: 'web-01', status: 'ok' }),
      { hostname: 'web-02', status: 'failed', changed: false, error: 'timeout: agent did not respond within 3s', error_code: 504 },
    ]);
    // The request is bounded by its deadline (3 s), not by the dead agent.
    expect(elapsedMs).toBeLessThan(6000);

    const job = await api(fleet, 'GET', `/job/${res.body.job_id}`);
    expect(job.body).toMatchObject({ status: 'partial' });
    expect(job.body.results[2]).toMatchObject({ hostname: 'web-02', status: 'failed', error_code: 504 });
  });

  it('answers 504 when the single targeted host is dead', async () => {
    const res = await api(fleet, 'GET', '/node/web-02/container/docker?timeout=2');
    expect(res.status).toBe(504);
    expect(res.body).toMatchObject({ error: 'timeout: agent did not respond within 2s', code: 504 });
  });

  it('rejoins when restarted, without re-running the jobs it missed', async () => {
    const missed = await api(fleet, 'POST', '/node/web-02/container/docker?timeout=2', {
      body: { image: 'local/busybox:latest', name: 'missed', cmd: ['sleep', '300'] },
    });
    expect(missed.status).toBe(504);
    const jobId: string = missed.body.job_id;

    await fleet.startAgent('web-02');
    const agents = await api(fleet, 'GET', '/agent');
    expect(agents.body.agents.filter((a: { hostname: string }) => a.hostname === 'web-02')).toHaveLength(1);

    const res = await api(fleet, 'GET', '/node/_all/container/docker');
    expect(res.body.results.map((r: { status: string }) => r.status)).toEqual(['ok', 'ok', 'ok']);
    // The agent received the create addressed to it while it was dead, and did not run it.
    await waitForLog(`agent-web-02`, jobId);
    expect(fleet.log('agent-web-02')).toMatch(new RegExp(`${jobId}.*not executed`));
    await expect(fleet.docker('web-02').getContainer('missed').inspect()).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('a restarted gateway', () => {
  it('serves GET /job/:id with the same rows after its process is replaced', async () => {
    const created = await api(fleet, 'POST', '/node/_all/container/docker', {
      body: { image: 'local/busybox:latest', cmd: ['sleep', '300'], labels: { 'fleet.test': 'persist' } },
    });
    expect(created.status).toBe(202);
    const before = await api(fleet, 'GET', `/job/${created.body.job_id}`);
    expect(before.body.results).toEqual(created.body.results);

    await fleet.restartGateway();

    const after = await api(fleet, 'GET', `/job/${created.body.job_id}`);
    expect(after.status).toBe(200);
    expect(after.body).toEqual(before.body);
    expect(after.body.results.map((r: { status: string }) => r.status)).toEqual(['ok', 'ok', 'ok']);
  });

  it('finishes an async job started before the gateway died and keeps it readable', async () => {
    const accepted = await api(fleet, 'POST', '/node/_all/container/docker?async=true', {
      body: { image: 'local/busybox:latest', cmd: ['sleep', '300'], labels: { 'fleet.test': 'inflight' } },
    });
    expect(accepted.status).toBe(202);
    await fleet.restartGateway();
    const job = await api(fleet, 'GET', `/job/${accepted.body.job_id}?wait=20`);
    expect(job.body.status).toBe('ok');
    for (const host of ['db-01', 'web-01', 'web-02']) {
      const found = await fleet.docker(host).listContainers({ all: true, filters: JSON.stringify({ label: ['fleet.test=inflight'] }) });
      expect(found).toHaveLength(1);
    }
  });
});
