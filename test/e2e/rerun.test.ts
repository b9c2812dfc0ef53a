/**
 * Issue 20, item 3 (README "Rerunning a job"): POST /job/{id}/rerun runs a job's operation and
 * parameters again on the hosts where it failed, linked both ways. Checked on the engines: the
 * failed host now has what the call asked for, the hosts that had succeeded were not touched.
 */
import { resolve } from 'node:path';
import { MARK, newMark } from '../support/faults';
import { api, errorBody } from '../support/http';
import { countContainers } from '../support/docker';
import { runProcess } from '../support/proc';
import { registryAuthHeader } from '../support/registry-auth';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet();
const IMAGE = 'local/busybox:latest';
const HOSTS = ['db-01', 'web-01', 'web-02'];
const REPO = resolve(__dirname, '../..');

/** A stopped container named `name` on `target`. */
function createOn(target: string, name: string) {
  return api(fleet, 'POST', `/node/${target}/container/docker`, { body: { image: IMAGE, name, cmd: ['sleep', '3600'] } });
}

async function startedAt(hostname: string, container: string): Promise<string> {
  return (await fleet.docker(hostname).getContainer(container).inspect()).State.StartedAt;
}

describe('rerun of the failed hosts', () => {
  const NAME = 'rr-app';
  let original: string;
  let before: Record<string, string>;

  beforeAll(async () => {
    // web-01 and db-01 (zone eu.west) have the container, web-02 not yet: a start on _all fails there only.
    const created = await createOn('zone:eu.west', NAME);
    expect(created.body.results.map((row: { status: string }) => row.status)).toEqual(['ok', 'ok']);
    const start = await api(fleet, 'POST', `/node/_all/container/docker/${NAME}/start`);
    expect(start.status).toBe(202);
    expect(start.body.results).toEqual([
      expect.objectContaining({ hostname: 'db-01', status: 'ok', changed: true }),
      expect.objectContaining({ hostname: 'web-01', status: 'ok', changed: true }),
      expect.objectContaining({ hostname: 'web-02', status: 'failed', error_code: 404 }),
    ]);
    original = start.body.job_id;
    before = { 'db-01': await startedAt('db-01', NAME), 'web-01': await startedAt('web-01', NAME) };
    expect(await createOn('web-02', NAME)).toMatchObject({ status: 202 });
  });

  it('starts the container on the failed host only, and leaves the others as they were on their engines', async () => {
    const rerun = await api(fleet, 'POST', `/job/${original}/rerun?hosts=failed`);
    expect(rerun.status).toBe(202);
    expect(rerun.body.job_id).not.toBe(original);
    expect(rerun.body.results).toEqual([expect.objectContaining({ hostname: 'web-02', status: 'ok', changed: true })]);
    expect((await fleet.docker('web-02').getContainer(NAME).inspect()).State.Running).toBe(true);
    expect({ 'db-01': await startedAt('db-01', NAME), 'web-01': await startedAt('web-01', NAME) }).toEqual(before);

    const rerunJob = await api(fleet, 'GET', `/job/${rerun.body.job_id}`);
    expect(rerunJob.body).toMatchObject({ operation: 'docker.container.start', target: '_all', hosts: ['web-02'], rerun_of: original });
    expect(rerunJob.body.status).toBe('ok');
    const originalJob = await api(fleet, 'GET', `/job/${original}`);
    expect(originalJob.body.reruns).toEqual([rerun.body.job_id]);
    // The rows of the original stay what they were: the rerun is a job of its own.
    expect(originalJob.body.status).toBe('partial');
    // What a rerun replays is never shown.
    for (const body of [rerunJob.body, originalJob.body]) expect(body).not.toHaveProperty('replay');
  });

  it('links every rerun, oldest first, and a rerun of a rerun names its own original', async () => {
    const again = await api(fleet, 'POST', `/job/${original}/rerun?hosts=all&async=true`);
    expect(again.status).toBe(202);
    expect(again.body).toEqual({ job_id: expect.any(String), status: 'pending' });
    const done = await api(fleet, 'GET', `/job/${again.body.job_id}?wait=30`);
    // Starting running containers changes nothing, on every host.
    type Row = { hostname: string; status: string; changed: boolean };
    const outcomes = done.body.results.map((row: Row) => [row.hostname, row.status, row.changed]);
    expect(outcomes).toEqual(HOSTS.map((host) => [host, 'ok', false]));
    const ofRerun = await api(fleet, 'POST', `/job/${again.body.job_id}/rerun?hosts=all`);
    expect(ofRerun.status).toBe(202);
    expect((await api(fleet, 'GET', `/job/${ofRerun.body.job_id}`)).body.rerun_of).toBe(again.body.job_id);
    expect((await api(fleet, 'GET', `/job/${original}`)).body.reruns).toEqual([expect.any(String), again.body.job_id]);
    expect((await api(fleet, 'GET', `/job/${again.body.job_id}`)).body.reruns).toEqual([ofRerun.body.job_id]);
  });

  it('answers 409 with its reason when no host is in the state asked for, and runs nothing', async () => {
    const rerun = await api(fleet, 'POST', `/job/${original}/rerun?hosts=timeout`);
    expect(rerun.status).toBe(409);
    expect(rerun.body).toEqual(errorBody({ code: 409, reason: 'nothing_to_rerun', error: 'nothing to rerun', details: 'is timeout' }));
    expect((await api(fleet, 'GET', `/job/${original}`)).body.reruns).toHaveLength(2);
  });
});

describe('fleet job rerun', () => {
  it('reruns the failed hosts of a job and exits non-zero while a host still fails', async () => {
    const NAME = 'rr-cli';
    await createOn('web-01', NAME);
    const start = await api(fleet, 'POST', `/node/_all/container/docker/${NAME}/start`);
    expect(start.body.results.map((row: { status: string }) => row.status)).toEqual(['failed', 'ok', 'failed']);
    await createOn('db-01', NAME);
    const env = { ...process.env, FLEET_URL: fleet.url, FLEET_API_KEY: fleet.adminKey };
    const args = ['apps/cli/bin/fleet.js', 'job', 'rerun', start.body.job_id, '--json'];
    const cli = await runProcess(process.execPath, args, { cwd: REPO, env, timeoutMs: 60_000, onTimeout: 'kill' });
    const printed = JSON.parse(cli.stdout);
    // db-01 now has the container; web-02 still has none.
    expect(printed.results.map((row: { hostname: string; status: string }) => [row.hostname, row.status])).toEqual([
      ['db-01', 'ok'],
      ['web-02', 'failed'],
    ]);
    expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 1, stderr: '' });
    expect((await fleet.docker('db-01').getContainer(NAME).inspect()).State.Running).toBe(true);
    expect((await api(fleet, 'GET', `/job/${printed.job_id}`)).body.rerun_of).toBe(start.body.job_id);
  });
});

describe('a job that cannot be replayed', () => {
  it('refuses a create that carried environment values (never stored) with 409 and its reason; nothing is created', async () => {
    const mark = newMark('rr-env');
    const body = { image: IMAGE, cmd: ['sleep', '3600'], env: { TOKEN: 's3cret' }, labels: { [MARK]: mark } };
    const created = await api(fleet, 'POST', '/node/web-01/container/docker', { body });
    expect(created.status).toBe(202);
    const rerun = await api(fleet, 'POST', `/job/${created.body.job_id}/rerun?hosts=all`);
    expect(rerun.status).toBe(409);
    expect(rerun.body).toEqual(
      errorBody({ code: 409, reason: 'not_rerunnable', error: 'job cannot be rerun', details: 'environment values' }),
    );
    expect(await countContainers(fleet.docker('web-01'), `${MARK}=${mark}`)).toBe(1);
  });

  it('refuses a pull that carried registry credentials with 409 and its reason', async () => {
    const auth = registryAuthHeader({ username: 'ci', password: 'hunter2-rerun', serveraddress: '127.0.0.1:9' });
    const path = '/node/web-01/container/docker/image/pull?fromImage=127.0.0.1:9/none&tag=latest&timeout=10';
    const pull = await api(fleet, 'POST', path, { headers: { 'X-Registry-Auth': auth } });
    expect(pull.body.job_id).toEqual(expect.any(String));
    const rerun = await api(fleet, 'POST', `/job/${pull.body.job_id}/rerun?hosts=all`);
    expect(rerun.status).toBe(409);
    expect(rerun.body.details).toContain('credential');
    expect(JSON.stringify(rerun.body)).not.toContain('hunter2');
  });
});

describe('bad input', () => {
  it('answers 400 for an unknown host choice or a malformed id, 404 for a job that does not exist', async () => {
    const job = (await api(fleet, 'GET', '/node/_all/container/docker')).body.job_id;
    const badChoice = await api(fleet, 'POST', `/job/${job}/rerun?hosts=broken`);
    expect(badChoice.status).toBe(400);
    expect(badChoice.body).toEqual({
      error: expect.any(String),
      details: expect.stringContaining('hosts'),
      code: 400,
      reason: 'validation_failed',
    });
    expect((await api(fleet, 'POST', '/job/not-a-uuid/rerun')).status).toBe(400);
    const missing = await api(fleet, 'POST', '/job/00000000-0000-4000-8000-000000000000/rerun');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: 'job not found', details: expect.any(String), code: 404, reason: 'not_found' });
  });
});
