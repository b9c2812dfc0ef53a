/**
 * The Images family on three real engines behind the real gateway and agents:
 * list, inspect, history, tag, prune and batch delete checked on the engines
 * themselves; push and pull against Debian's docker-registry on loopback, open
 * and behind htpasswd, with the credential checked to be nowhere it must not be.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, type Registry, startRegistry, stopRegistry } from '@fleet/deploy';
import type { OperationName } from '@fleet/contracts/operations';
import { assertMatchesContract } from '../support/contract';
import { imageIdOn } from '../support/docker';
import { useScratchDir, useTestFleet } from '../support/suite';
import { api, type ApiResponse } from '../support/http';
import { registryAuthHeader } from '../support/registry-auth';
import type { SseEvent } from '../support/sse';

const IMAGE = 'local/busybox:latest';
const HOSTS = ['db-01', 'web-01', 'web-02'];
const ALL = '/node/_all/container/docker/image';
const WEB1 = '/node/web-01/container/docker/image';

const fleet = useTestFleet();
const scratch = useScratchDir('/tmp/flt-reg-');

interface Row {
  hostname: string;
  status: string;
  changed: boolean;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [field: string]: any;
}

function rows(res: ApiResponse): Row[] {
  return res.body.results as Row[];
}

/** The HTTP status, and the body as the contract says `name` answers with it. */
function expectAnswer(res: ApiResponse, name: OperationName, status: number): void {
  expect(res.status).toBe(status);
  assertMatchesContract(name, status, res.body);
}

/** `[hostname, status, changed]` per row: the shape most assertions care about. */
function outcomes(res: ApiResponse): Array<[string, string, boolean]> {
  return rows(res).map((row) => [row.hostname, row.status, row.changed]);
}

/** The image's id on that host's engine, read behind the gateway's back. */
function engineImageId(host: string, reference: string): Promise<string | undefined> {
  return imageIdOn(fleet.docker(host), reference);
}

function query(params: Record<string, unknown>): string {
  const entries = Object.entries(params).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]);
  return `?${new URLSearchParams(entries).toString()}`;
}

describe('reads: list, inspect, history', () => {
  it("lists each engine's images on _all, filtered by reference, with the engine's own ids", async () => {
    const res = await api(fleet, 'GET', `${ALL}${query({ filters: { reference: ['local/busybox'] }, digests: 'true' })}`);
    expectAnswer(res, 'docker.image.list', 200);
    expect(outcomes(res)).toEqual(HOSTS.map((host) => [host, 'ok', false]));
    for (const row of rows(res)) {
      expect(row.images).toHaveLength(1);
      expect(row.images[0].RepoTags).toContain(IMAGE);
      expect(row.images[0].Id).toBe(await engineImageId(row.hostname, IMAGE));
    }
  });

  it('inspects and shows the history of a URL-encoded image name; a missing image is 404 on one host', async () => {
    const inspect = await api(fleet, 'GET', `${WEB1}/${encodeURIComponent(IMAGE)}`);
    expectAnswer(inspect, 'docker.image.inspect', 200);
    expect(rows(inspect)[0]).toMatchObject({ hostname: 'web-01', status: 'ok', id: await engineImageId('web-01', IMAGE) });
    expect(rows(inspect)[0].image.RepoTags).toContain(IMAGE);

    const history = await api(fleet, 'GET', `${ALL}/${encodeURIComponent(IMAGE)}/history`);
    expectAnswer(history, 'docker.image.history', 200);
    for (const row of rows(history)) {
      expect(row.history.length).toBeGreaterThan(0);
      expect(row.history[0].Id).toBe(await engineImageId(row.hostname, IMAGE));
    }

    const missing = await api(fleet, 'GET', `${WEB1}/local%2Fnope:1`);
    expectAnswer(missing, 'docker.image.inspect', 404);
    expect(missing.body.error).toMatch(/No such image: local\/nope:1/);
  });

  it('answers 400 naming the field for an image name, a tag, a prune filter or a credential header outside the contract', async () => {
    const badName = await api(fleet, 'GET', `${WEB1}/${encodeURIComponent('bad?name')}`);
    expect(badName.status).toBe(400);
    expect(badName.body.details).toContain('image');

    const badTag = await api(fleet, 'POST', `${WEB1}/${encodeURIComponent(IMAGE)}/tag${query({ repo: 'local/x', tag: 'no spaces' })}`);
    expect(badTag.status).toBe(400);
    expect(badTag.body.details).toContain('tag');

    const badFilter = await api(fleet, 'POST', `${ALL}/prune${query({ filters: { dangling: ['maybe'] } })}`);
    expectAnswer(badFilter, 'docker.image.prune', 400);
    expect(badFilter.body.details).toContain('filters');

    const badAuth = await api(fleet, 'POST', `${ALL}/pull${query({ fromImage: IMAGE })}`, {
      headers: { 'x-registry-auth': 'not base64!' },
    });
    expect(badAuth.status).toBe(400);
    expect(badAuth.body.details).toContain('x-registry-auth');
    expect(JSON.stringify(badAuth.body)).not.toContain('not base64!');
  });
});

describe('tag and prune', () => {
  it('tags on every host: changed:true, then changed:false once the tag names the image', async () => {
    // `repo` may name a repository unencoded, as typed at a terminal.
    const path = `${ALL}/${encodeURIComponent(IMAGE)}/tag?repo=local/tagged&tag=v1`;
    const first = await api(fleet, 'POST', path);
    expectAnswer(first, 'docker.image.tag', 202);
    expect(outcomes(first)).toEqual(HOSTS.map((host) => [host, 'ok', true]));
    for (const host of HOSTS) expect(await engineImageId(host, 'local/tagged:v1')).toBe(await engineImageId(host, IMAGE));

    const again = await api(fleet, 'POST', path);
    expect(outcomes(again)).toEqual(HOSTS.map((host) => [host, 'ok', false]));
  });

  it('prunes exactly the dangling images the label names, with ImagesDeleted and SpaceReclaimed per host', async () => {
    const dangling: Record<string, string> = {};
    for (const host of HOSTS) dangling[host] = await danglingImage(host, 'LABEL fleet.test=prune');
    const unlabelled = await danglingImage('web-01');

    const filters = { dangling: ['true'], label: ['fleet.test=prune'] };
    const res = await api(fleet, 'POST', `${ALL}/prune${query({ filters })}`);
    expectAnswer(res, 'docker.image.prune', 202);
    expect(outcomes(res)).toEqual(HOSTS.map((host) => [host, 'ok', true]));
    for (const row of rows(res)) {
      expect(row.ImagesDeleted).toContainEqual({ Deleted: dangling[row.hostname] });
      expect(typeof row.SpaceReclaimed).toBe('number');
      expect(await engineImageId(row.hostname, dangling[row.hostname])).toBeUndefined();
    }
    // Outside the label filter: still there.
    expect(await engineImageId('web-01', unlabelled)).toBe(unlabelled);

    const again = await api(fleet, 'POST', `${ALL}/prune${query({ filters })}`);
    expect(rows(again).map((row) => [row.changed, row.ImagesDeleted, row.SpaceReclaimed])).toEqual(HOSTS.map(() => [false, [], 0]));
  });
});

/** An untagged image no container uses: a commit of a throwaway container, then the container goes. */
async function danglingImage(host: string, change?: string): Promise<string> {
  const docker = fleet.docker(host);
  const container = await docker.createContainer({ Image: IMAGE, Cmd: ['true'] });
  const { Id } = (await container.commit(change ? { changes: change } : {})) as { Id: string };
  await container.remove();
  return Id;
}

describe('POST /node/{target}/container/docker/image/batch-delete', () => {
  it('deletes a tag of repositoryName on each host and reports ImageNotFound and InvalidImageDigest', async () => {
    for (const host of HOSTS) await fleet.docker(host).getImage(IMAGE).tag({ repo: 'local/busybox', tag: 't1' });
    const res = await api(fleet, 'POST', `${ALL}/batch-delete`, {
      body: { repositoryName: 'local/busybox', imageIds: [{ imageTag: 't1' }, { imageTag: 'missing' }, { imageDigest: 'sha256:bad' }] },
    });
    expectAnswer(res, 'docker.image.batch-delete', 202);
    expect(outcomes(res)).toEqual(HOSTS.map((host) => [host, 'ok', true]));
    for (const row of rows(res)) {
      expect(row.imageIds).toEqual([{ imageTag: 't1', imageDigest: await engineImageId(row.hostname, IMAGE) }]);
      expect(row.failures).toEqual([
        { imageId: { imageTag: 'missing' }, failureCode: 'ImageNotFound', failureReason: 'No such image: local/busybox:missing' },
        { imageId: { imageDigest: 'sha256:bad' }, failureCode: 'InvalidImageDigest', failureReason: expect.stringContaining('sha256') },
      ]);
      expect(await engineImageId(row.hostname, 'local/busybox:t1')).toBeUndefined();
      // Only the tag went: the image keeps its other name.
      expect(await engineImageId(row.hostname, IMAGE)).toBeDefined();
    }
  });

  it('deletes by digest every reference of the repository, and names each other failure code', async () => {
    const docker = fleet.docker('web-01');
    const id = (await engineImageId('web-01', IMAGE)) as string;
    await docker.getImage(IMAGE).tag({ repo: 'local/batch', tag: 'a' });
    await docker.getImage(IMAGE).tag({ repo: 'local/batch', tag: 'b' });
    // An image whose only name is local/inuse:1, used by a container.
    const inUse = await danglingImage('web-01');
    await docker.getImage(inUse).tag({ repo: 'local/inuse', tag: '1' });
    await docker.createContainer({ Image: 'local/inuse:1', Cmd: ['true'] });

    const byDigest = await api(fleet, 'POST', `${WEB1}/batch-delete`, {
      body: {
        repositoryName: 'local/batch',
        imageIds: [{ imageTag: 'a', imageDigest: `sha256:${'0'.repeat(64)}` }, { imageDigest: id }, {}, { imageTag: 'no good' }],
      },
    });
    expect(byDigest.status).toBe(202);
    const row = rows(byDigest)[0];
    expect(row).toMatchObject({ status: 'ok', changed: true, imageIds: [{ imageDigest: id }] });
    expect(row.failures.map((f: { failureCode: string }) => f.failureCode)).toEqual([
      'ImageTagDoesNotMatchDigest',
      'MissingDigestAndTag',
      'InvalidImageTag',
    ]);
    expect(await engineImageId('web-01', 'local/batch:a')).toBeUndefined();
    expect(await engineImageId('web-01', 'local/batch:b')).toBeUndefined();
    expect(await engineImageId('web-01', IMAGE)).toBe(id);

    const used = await api(fleet, 'POST', `${WEB1}/batch-delete`, {
      body: { repositoryName: 'local/inuse', imageIds: [{ imageTag: '1' }] },
    });
    expect(rows(used)[0]).toMatchObject({
      status: 'ok',
      changed: false,
      imageIds: [],
      failures: [expect.objectContaining({ failureCode: 'ImageInUse' })],
    });
    expect(await engineImageId('web-01', 'local/inuse:1')).toBe(inUse);
  });

  it('refuses an empty list, more than 100 ids, a missing repositoryName or unknown fields with 400', async () => {
    const bodies = [
      { repositoryName: 'local/busybox', imageIds: [] },
      { repositoryName: 'local/busybox', imageIds: Array.from({ length: 101 }, (_, i) => ({ imageTag: `t${i}` })) },
      { imageIds: [{ imageTag: 't1' }] },
      { repositoryName: 'local/busybox', imageIds: [{ imageTag: 't1', force: true }] },
    ];
    for (const body of bodies) {
      const res = await api(fleet, 'POST', `${ALL}/batch-delete`, { body });
      expectAnswer(res, 'docker.image.batch-delete', 400);
    }
  });
});

/** A POST answered as server-sent events, read to the end (the server ends the stream with `end`). */
async function postForEvents(path: string): Promise<{ status: number; contentType: string; events: SseEvent[] }> {
  const res = await fetch(`${fleet.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${fleet.adminKey}` },
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  const events = text
    .split('\n\n')
    .filter((block) => block.trim())
    .map((block) => ({
      event: /^event: (.*)$/m.exec(block)?.[1] ?? 'message',
      data: JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null'),
    }));
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', events };
}

async function registryTags(registry: Registry, repository: string, headers: Record<string, string> = {}): Promise<string[]> {
  const res = await fetch(`${registry.url}/v2/${repository}/tags/list`, { headers });
  return ((await res.json()) as { tags?: string[] }).tags ?? [];
}

/** Removes `reference` from every engine that has it. */
async function removeEverywhere(reference: string): Promise<void> {
  for (const host of HOSTS) if (await engineImageId(host, reference)) await fleet.docker(host).getImage(reference).remove();
}

describe('push and pull against an open registry', () => {
  let registry: Registry;
  let remote: string;

  beforeAll(async () => {
    registry = await startRegistry({ dir: join(scratch(), 'open'), port: await freePort() });
    remote = `${registry.address}/busybox`;
  });

  afterAll(async () => {
    if (registry) await stopRegistry(registry);
  });

  it('tags and pushes from one host; a second push uploads nothing', async () => {
    const tagged = await api(fleet, 'POST', `${WEB1}/${encodeURIComponent(IMAGE)}/tag${query({ repo: remote, tag: 't1' })}`);
    expect(outcomes(tagged)).toEqual([['web-01', 'ok', true]]);

    const pushed = await api(fleet, 'POST', `${WEB1}/${encodeURIComponent(remote)}/push?tag=t1`);
    expectAnswer(pushed, 'docker.image.push', 202);
    expect(rows(pushed)[0]).toMatchObject({
      status: 'ok',
      changed: true,
      reference: `${remote}:t1`,
      digest: expect.stringMatching(/^sha256:[a-f0-9]{64}$/),
    });
    expect(await registryTags(registry, 'busybox')).toEqual(['t1']);

    const again = await api(fleet, 'POST', `${WEB1}/${encodeURIComponent(remote)}/push?tag=t1`);
    expect(rows(again)[0]).toMatchObject({ status: 'ok', changed: false, layers_transferred: 0, digest: rows(pushed)[0].digest });
  });

  it('pulls on _all with progress as server-sent events tagged with each host, ending with the rows', async () => {
    const pushedId = await engineImageId('web-01', `${remote}:t1`);
    await removeEverywhere(`${remote}:t1`);

    const { status, contentType, events } = await postForEvents(`${ALL}/pull${query({ fromImage: remote, tag: 't1', progress: 'true' })}`);
    expect(status).toBe(200);
    expect(contentType).toContain('text/event-stream');
    expect(events[0]).toMatchObject({ event: 'job', data: { hosts: HOSTS } });
    for (const host of HOSTS) {
      const progress = events.filter((e) => e.event === 'progress' && e.data.hostname === host);
      expect(progress.map((e) => e.data.status)).toContain(`Status: Downloaded newer image for ${remote}:t1`);
    }
    const end = events.at(-1);
    expect(end?.event).toBe('end');
    expect(end?.data.results.map((row: Row) => [row.hostname, row.status, row.changed, row.id])).toEqual(
      HOSTS.map((host) => [host, 'ok', true, pushedId]),
    );
    for (const host of HOSTS) expect(await engineImageId(host, `${remote}:t1`)).toBe(pushedId);

    const upToDate = await api(fleet, 'POST', `${ALL}/pull?fromImage=${remote}&tag=t1`);
    expectAnswer(upToDate, 'docker.image.pull', 202);
    expect(outcomes(upToDate)).toEqual(HOSTS.map((host) => [host, 'ok', false]));
    expect(rows(upToDate)[0].message).toBe(`Status: Image is up to date for ${remote}:t1`);
  });

  it("reports a pull the registry cannot serve as a failed row with the engine's message", async () => {
    const res = await api(fleet, 'POST', `${ALL}/pull${query({ fromImage: remote, tag: 'nosuchtag' })}`);
    expect(res.status).toBe(202);
    for (const row of rows(res))
      expect(row).toMatchObject({ status: 'failed', changed: false, error: expect.stringMatching(/manifest unknown|not found/i) });
  });
});

describe('push and pull against a registry behind htpasswd', () => {
  let password = `pw-${Math.random().toString(36).slice(2)}-secret`;
  let registry: Registry;
  let remote: string;
  let good: string;
  let bad: string;
  const jobIds: string[] = [];
  const bodies: string[] = [];

  /** A gateway call whose body and job are kept for the credential check at the end. */
  async function call(method: string, path: string, auth?: string): Promise<ApiResponse> {
    const res = await api(fleet, method, path, { headers: auth ? { 'x-registry-auth': auth } : {} });
    bodies.push(JSON.stringify(res.body));
    if (res.body.job_id) jobIds.push(res.body.job_id);
    return res;
  }

  beforeAll(async () => {
    const port = await freePort();
    const serveraddress = `127.0.0.1:${port}`;
    // A JSON length of 3n+1 gives the header `==` padding, which some clients drop; the pull below sends it without.
    while (JSON.stringify({ username: 'fleet', password, serveraddress }).length % 3 !== 1) password += 'x';
    registry = await startRegistry({ dir: join(scratch(), 'auth'), port, htpasswd: { user: 'fleet', password } });
    remote = `${registry.address}/busybox`;
    good = registryAuthHeader({ username: 'fleet', password, serveraddress });
    bad = registryAuthHeader({ username: 'fleet', password: `${password}-wrong`, serveraddress });
    await fleet.docker('web-01').getImage(IMAGE).tag({ repo: remote, tag: 't1' });
  });

  afterAll(async () => {
    if (registry) await stopRegistry(registry);
  });

  it("fails a push without or with wrong credentials (reported inside the engine's stream), pushes with the right ones", async () => {
    for (const auth of [undefined, bad]) {
      const refused = await call('POST', `${WEB1}/${encodeURIComponent(remote)}/push?tag=t1`, auth);
      expectAnswer(refused, 'docker.image.push', 500);
      expect(refused.body.error).toMatch(/auth|unauthorized/i);
    }
    const pushed = await call('POST', `${WEB1}/${encodeURIComponent(remote)}/push?tag=t1`, good);
    expect(pushed.status).toBe(202);
    expect(rows(pushed)[0]).toMatchObject({ status: 'ok', changed: true });
    const basic = `Basic ${Buffer.from(`fleet:${password}`).toString('base64')}`;
    expect(await registryTags(registry, 'busybox', { authorization: basic })).toEqual(['t1']);
  });

  it('pulls on _all with X-Registry-Auth; wrong credentials fail the row on every host', async () => {
    const pushedId = await engineImageId('web-01', `${remote}:t1`);
    await removeEverywhere(`${remote}:t1`);

    expect(good).toMatch(/[^=]==$/);
    const pulled = await call('POST', `${ALL}/pull${query({ fromImage: remote, tag: 't1' })}`, good.replace(/=+$/, ''));
    expectAnswer(pulled, 'docker.image.pull', 202);
    expect(outcomes(pulled)).toEqual(HOSTS.map((host) => [host, 'ok', true]));
    for (const host of HOSTS) expect(await engineImageId(host, `${remote}:t1`)).toBe(pushedId);

    await removeEverywhere(`${remote}:t1`);
    const refused = await call('POST', `${ALL}/pull${query({ fromImage: remote, tag: 't1' })}`, bad);
    expect(refused.status).toBe(202);
    for (const row of rows(refused))
      expect(row).toMatchObject({ status: 'failed', changed: false, error: expect.stringMatching(/auth|unauthorized/i) });
    for (const host of HOSTS) expect(await engineImageId(host, `${remote}:t1`)).toBeUndefined();
  });

  it('asks the registry from every host which digest and platforms an image names; wrong credentials fail each row', async () => {
    const asked = await call('GET', `${ALL}/${encodeURIComponent(`${remote}:t1`)}/distribution`, good);
    expectAnswer(asked, 'docker.image.distribution', 200);
    expect(outcomes(asked)).toEqual(HOSTS.map((host) => [host, 'ok', false]));
    // The digest of the manifest the registry itself serves for busybox:t1.
    const manifest = await fetch(`${registry.url}/v2/busybox/manifests/t1`, {
      method: 'HEAD',
      headers: {
        authorization: `Basic ${Buffer.from(`fleet:${password}`).toString('base64')}`,
        accept: 'application/vnd.docker.distribution.manifest.v2+json',
      },
    });
    const pushedDigest = manifest.headers.get('docker-content-digest');
    expect(pushedDigest).toMatch(/^sha256:[a-f0-9]{64}$/);
    for (const row of rows(asked)) {
      expect(row.descriptor.digest).toBe(pushedDigest);
      expect(row.platforms).toEqual(expect.arrayContaining([expect.objectContaining({ os: 'linux' })]));
    }

    const refused = await call('GET', `${ALL}/${encodeURIComponent(`${remote}:t1`)}/distribution`, bad);
    expect(refused.status).toBe(200);
    for (const row of rows(refused))
      expect(row).toMatchObject({ status: 'failed', changed: false, error: expect.stringMatching(/auth|unauthorized|denied/i) });
  });

  it('leaves the credential in no log, no job, no stored message and no response', async () => {
    expect(jobIds.length).toBeGreaterThanOrEqual(5);
    for (const jobId of jobIds) bodies.push(JSON.stringify((await api(fleet, 'GET', `/job/${jobId}`)).body));
    const logs = ['gateway', 'nats', ...HOSTS.map((host) => `agent-${host}`)].map((name) => fleet.log(name));
    // Everything the fleet wrote outside the engines' data: every log and the JetStream store (jobs, records, results).
    const stored = [join(fleet.dir, 'logs'), join(fleet.dir, 'nats')].flatMap(filesUnder).map((file) => readFileSync(file, 'latin1'));
    // The store is read as written: the jobs themselves are in it, so a credential would be too.
    expect(stored.some((text) => text.includes(jobIds[0]))).toBe(true);
    for (const secret of [password, good, bad]) {
      for (const text of [...bodies, ...logs, ...stored]) expect(text.includes(secret)).toBe(false);
    }
  });
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}
