/**
 * The `/stack` resource through the real gateway on three real engines (README "Stacks"): a deploy to `role:web`
 * lands on web-01 and web-02 only (checked on the engines by the compose labels), GET shows the revisions and each
 * host in sync, a diff names what a new image would recreate without touching the engines, a redeploy in waves, a
 * rollback as a new revision with the earlier compose text, and a delete that empties the hosts.
 */
import { api } from '../support/http';
import { eventually } from '../support/eventually';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet();
const HOSTS = ['db-01', 'web-01', 'web-02'];
const NAME = 'smoke';
/** A process that ends on SIGTERM: a recreate need not wait out the engine's stop timeout. */
const STOPS_AT_ONCE = `["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]`;

const compose = (image: string) =>
  [
    'services:',
    '  app:',
    `    image: ${image}`,
    `    command: ${STOPS_AT_ONCE}`,
    '  side:',
    `    image: ${image}`,
    `    command: ${STOPS_AT_ONCE}`,
    '    depends_on: [app]',
    '',
  ].join('\n');

/** The stack's containers on a host's engine, as `docker ps -a --filter label=com.docker.compose.project=<name>` lists them. */
async function stackContainers(host: string): Promise<Array<{ service: string; image: string; state: string }>> {
  const listed = await fleet.docker(host).listContainers({ all: true, filters: { label: [`com.docker.compose.project=${NAME}`] } });
  return listed
    .map((container) => ({ service: container.Labels['com.docker.compose.service'], image: container.Image, state: container.State }))
    .sort((a, b) => a.service.localeCompare(b.service));
}

async function jobEnded(jobId: string): Promise<{ status: string; results: Array<{ hostname: string; status: string }> }> {
  let job = (await api(fleet, 'GET', `/job/${jobId}?wait=60`)).body;
  while (job.status === 'pending' || job.status === 'running') job = (await api(fleet, 'GET', `/job/${jobId}?wait=60`)).body;
  return job;
}

beforeAll(async () => {
  // A second tag of the local image: a new "version" to deploy without any registry.
  await Promise.all(HOSTS.map((host) => fleet.docker(host).getImage('local/busybox:latest').tag({ repo: 'local/busybox', tag: 'v2' })));
});

describe('a stack through the gateway', () => {
  it('deploys to role:web only, on the engines, and GET shows the revision and each host in sync', async () => {
    const put = await api(fleet, 'PUT', `/stack/${NAME}`, { body: { compose: compose('local/busybox:latest'), target: 'role:web' } });
    expect(put.status).toBe(202);
    expect(put.body).toMatchObject({ name: NAME, revision: 1 });
    const job = await jobEnded(put.body.job_id);
    expect(job.results.map((row) => [row.hostname, row.status])).toEqual([
      ['web-01', 'ok'],
      ['web-02', 'ok'],
    ]);
    for (const host of ['web-01', 'web-02']) {
      expect(await stackContainers(host)).toEqual([
        { service: 'app', image: 'local/busybox:latest', state: 'running' },
        { service: 'side', image: 'local/busybox:latest', state: 'running' },
      ]);
    }
    expect(await stackContainers('db-01')).toEqual([]);
    await eventually(
      () => api(fleet, 'GET', `/stack/${NAME}`),
      (res) => {
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ name: NAME, target: 'role:web', revision: 1, on_drift: 'report' });
        expect(res.body.revisions).toEqual([
          expect.objectContaining({ revision: 1, images: ['local/busybox:latest'], job_id: put.body.job_id }),
        ]);
        expect(res.body.hosts.map((host: { hostname: string; state: string }) => [host.hostname, host.state])).toEqual([
          ['web-01', 'in_sync'],
          ['web-02', 'in_sync'],
        ]);
      },
    );
    const list = await api(fleet, 'GET', '/stack');
    expect(list.body.stacks).toContainEqual({
      name: NAME,
      target: 'role:web',
      revision: 1,
      hosts: { in_sync: 2, drifted: 0, pending: 0, failed: 0, offline: 0 },
    });
  });

  it('diffs a new image per host without changing the engines', async () => {
    const before = await stackContainers('web-01');
    const diff = await api(fleet, 'POST', `/stack/${NAME}/diff`, { body: { compose: compose('local/busybox:v2'), target: 'role:web' } });
    expect(diff.status).toBe(200);
    expect(diff.body.results.map((row: { hostname: string }) => row.hostname)).toEqual(['web-01', 'web-02']);
    for (const row of diff.body.results) {
      expect(row.changes).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ service: 'app', action: 'recreate' }),
          expect.objectContaining({ service: 'side', action: 'recreate' }),
        ]),
      );
    }
    expect(await stackContainers('web-01')).toEqual(before);
    expect((await api(fleet, 'GET', `/stack/${NAME}`)).body.revision).toBe(1);
  });

  it('redeploys in waves of one host, then rolls back as a new revision carrying the earlier compose text', async () => {
    const put = await api(fleet, 'PUT', `/stack/${NAME}`, {
      body: { compose: compose('local/busybox:v2'), target: 'role:web', rollout: { batch: '1' } },
    });
    expect(put.body.revision).toBe(2);
    const job = (await api(fleet, 'GET', `/job/${put.body.job_id}`)).body;
    expect(job.rollout.waves.map((wave: { hosts: string[] }) => wave.hosts)).toEqual([['web-01'], ['web-02']]);
    expect((await jobEnded(put.body.job_id)).status).toBe('ok');
    for (const host of ['web-01', 'web-02'])
      expect((await stackContainers(host)).map((c) => c.image)).toEqual(['local/busybox:v2', 'local/busybox:v2']);

    const back = await api(fleet, 'POST', `/stack/${NAME}/rollback?to=1`);
    expect(back.status).toBe(202);
    expect(back.body.revision).toBe(3);
    expect((await jobEnded(back.body.job_id)).status).toBe('ok');
    for (const host of ['web-01', 'web-02'])
      expect((await stackContainers(host)).map((c) => c.image)).toEqual(['local/busybox:latest', 'local/busybox:latest']);
    const stack = (await api(fleet, 'GET', `/stack/${NAME}`)).body;
    expect(
      stack.revisions.map((revision: { revision: number; rolled_back_from?: number }) => [revision.revision, revision.rolled_back_from]),
    ).toEqual([
      [3, 1],
      [2, undefined],
      [1, undefined],
    ]);
    expect(stack.rollout).toEqual({ batch: '1' });
    const text = await api(fleet, 'GET', `/stack/${NAME}/revisions/3`);
    expect(text.body.compose).toBe(compose('local/busybox:latest'));
    expect(text.body.digest).toBe(stack.revisions[2].digest);
    expect((await api(fleet, 'GET', `/stack/${NAME}/revisions/9`)).status).toBe(404);
  });

  it('keeps the stack true: db-01 relabelled role:web gets it from the controller, and loses it when relabelled back', async () => {
    const labels = (role: string) => ({ body: { labels: { role, zone: 'eu.west' } } });
    expect((await api(fleet, 'PUT', '/agent/db-01/labels', labels('web'))).status).toBe(200);
    try {
      await eventually(
        () => stackContainers('db-01'),
        (containers) =>
          expect(containers.map((c) => [c.service, c.state])).toEqual([
            ['app', 'running'],
            ['side', 'running'],
          ]),
        90_000,
      );
      const jobs = (await api(fleet, 'GET', '/job?caller=fleet-stack-controller&limit=10')).body.jobs;
      expect(jobs.map((job: { operation: string; target: string }) => `${job.operation} ${job.target}`)).toContain(
        'stack.host.apply db-01',
      );
      await eventually(
        () => api(fleet, 'GET', `/stack/${NAME}`),
        (res) =>
          expect(res.body.hosts.find((host: { hostname: string }) => host.hostname === 'db-01')).toMatchObject({
            state: 'in_sync',
            revision: 3,
          }),
        60_000,
      );
    } finally {
      await api(fleet, 'PUT', '/agent/db-01/labels', labels('db'));
    }
    await eventually(
      () => stackContainers('db-01'),
      (containers) => expect(containers).toEqual([]),
      90_000,
    );
  }, 240_000);

  it('deletes: the hosts are emptied, the stack is gone from GET, and the audit has each revision, the rollback and the delete', async () => {
    const removed = await api(fleet, 'DELETE', `/stack/${NAME}`);
    expect(removed.status).toBe(202);
    expect(removed.body).toMatchObject({ name: NAME, revision: 3 });
    await jobEnded(removed.body.job_id);
    for (const host of HOSTS) expect(await stackContainers(host)).toEqual([]);
    expect((await api(fleet, 'GET', `/stack/${NAME}`)).status).toBe(404);
    expect((await api(fleet, 'GET', '/stack')).body.stacks.map((stack: { name: string }) => stack.name)).not.toContain(NAME);
    expect((await api(fleet, 'DELETE', `/stack/${NAME}`)).status).toBe(404);
    const audit = (await api(fleet, 'GET', '/audit?limit=200')).body.entries as Array<{
      operation?: string;
      status: number;
      job_id?: string;
    }>;
    const operations = audit
      .filter((entry) => entry.operation?.startsWith('stack.') && entry.status === 202)
      .map((entry) => entry.operation);
    expect(operations.filter((operation) => operation === 'stack.put')).toHaveLength(2);
    expect(operations).toContain('stack.rollback');
    expect(operations).toContain('stack.remove');
    expect(audit.find((entry) => entry.operation === 'stack.remove' && entry.status === 202)?.job_id).toBe(removed.body.job_id);
  });
});
