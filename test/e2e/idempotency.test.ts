/**
 * Issue 20, item 4 (README "Retries and idempotency"): a pipeline whose connection dropped after
 * sending retries blindly with the same Idempotency-Key, and the job runs once. Counted on the
 * engines (containers carrying the call's mark), through one gateway and across two replicas.
 */
import { request } from 'node:http';
import { extract, pack } from 'tar-stream';
import { countContainers } from '../support/docker';
import { eventually, markedContainer, MARK, newMark } from '../support/faults';
import { api, type ApiTarget, errorBody } from '../support/http';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet();
const HOSTS = ['db-01', 'web-01', 'web-02'];
const CREATE = '/node/_all/container/docker';

async function countsOf(mark: string): Promise<number[]> {
  return Promise.all(HOSTS.map((host) => countContainers(fleet.docker(host), `${MARK}=${mark}`)));
}

/** Sends the whole request, then closes the connection at once; resolves whether an answer had come first. */
function sendAndHangUp(path: string, key: string, body: unknown): Promise<{ answered: boolean }> {
  const url = new URL(fleet.url);
  const payload = JSON.stringify(body);
  return new Promise((resolve) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      method: 'POST',
      path,
      headers: {
        authorization: `Bearer ${fleet.adminKey}`,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(payload)),
        'idempotency-key': key,
      },
    });
    let answered = false;
    req.on('error', () => undefined);
    req.on('response', () => (answered = true));
    req.end(payload, () => {
      req.destroy();
      resolve({ answered });
    });
  });
}

describe('one gateway', () => {
  it('runs a create once when its connection was cut and it is sent again with the same key; both name the same job', async () => {
    const mark = newMark('idem-cut');
    const key = `deploy-${mark}`;
    const since = new Date().toISOString();
    // Cut as soon as the request is written: the gateway goes on with a call whose client left.
    expect(await sendAndHangUp(CREATE, key, markedContainer(mark))).toEqual({ answered: false });
    const createdEverywhere = async () => (await countsOf(mark)).every((count) => count === 1);
    await eventually('the cut call to create its container on every engine', createdEverywhere, 30_000, 100);
    const retry = await api(fleet, 'POST', CREATE, { body: markedContainer(mark), headers: { 'Idempotency-Key': key } });
    expect(retry.status).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    const outcomes = retry.body.results.map((row: { hostname: string; status: string }) => [row.hostname, row.status]);
    expect(outcomes).toEqual(HOSTS.map((host) => [host, 'ok']));
    // The cut call's job is the only create since: the retry answered with it.
    const creates = await api(fleet, 'GET', '/job?operation=docker.container.create&limit=200');
    const cutJobs = creates.body.jobs.filter((job: { created_at: string }) => job.created_at >= since);
    expect(cutJobs.map((job: { job_id: string }) => job.job_id)).toEqual([retry.body.job_id]);
    const third = await api(fleet, 'POST', CREATE, { body: markedContainer(mark), headers: { 'Idempotency-Key': key } });
    expect(third.body.job_id).toBe(retry.body.job_id);
    expect(await countsOf(mark)).toEqual([1, 1, 1]);
  });

  it('answers a retry sent while the first call still runs with the same job and rows, once they are in', async () => {
    const mark = newMark('idem-running');
    const key = `deploy-${mark}`;
    // Both at once: one claims the key and runs the job, the other waits for that job's rows.
    const send = () => api(fleet, 'POST', CREATE, { body: markedContainer(mark, { start: true }), headers: { 'Idempotency-Key': key } });
    const [first, second] = await Promise.all([send(), send()]);
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(second.body.job_id).toBe(first.body.job_id);
    expect(second.body.results).toEqual(first.body.results);
    expect([first.headers['idempotent-replayed'], second.headers['idempotent-replayed']].sort()).toEqual(['true', undefined]);
    expect(await countsOf(mark)).toEqual([1, 1, 1]);
  });

  it('answers 422 with its reason when the same key comes with a different request, and runs nothing', async () => {
    const mark = newMark('idem-other');
    const key = `deploy-${mark}`;
    const first = await api(fleet, 'POST', CREATE, { body: markedContainer(mark), headers: { 'Idempotency-Key': key } });
    expect(first.status).toBe(202);
    const otherMark = newMark('idem-other-b');
    for (const [path, body] of [
      [CREATE, markedContainer(otherMark)],
      ['/node/role:web/container/docker', markedContainer(mark)],
    ] as const) {
      const reused = await api(fleet, 'POST', path, { body, headers: { 'Idempotency-Key': key } });
      expect(reused.status).toBe(422);
      expect(reused.body).toEqual(
        errorBody({ code: 422, reason: 'idempotency_key_reused', error: 'idempotency key reused', details: 'different request' }),
      );
    }
    expect(await countsOf(mark)).toEqual([1, 1, 1]);
    expect(await countsOf(otherMark)).toEqual([0, 0, 0]);
  });

  it('frees the key of a call that could not start, so its retry runs', async () => {
    const mark = newMark('idem-refused');
    const key = `deploy-${mark}`;
    const headers = { 'Idempotency-Key': key };
    const nowhere = await api(fleet, 'POST', '/node/role:nope/container/docker', { body: markedContainer(mark), headers });
    expect(nowhere.status).toBe(404);
    const again = await api(fleet, 'POST', '/node/role:nope/container/docker', { body: markedContainer(mark), headers });
    expect(again.status).toBe(404);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    // A claim still held would make this a different request under the same key (422): the key is free.
    const elsewhere = await api(fleet, 'POST', CREATE, { body: markedContainer(mark), headers });
    expect(elsewhere.status).toBe(202);
    expect(await countsOf(mark)).toEqual([1, 1, 1]);
  });

  it('refuses a key the contract does not allow with a 400 naming the header', async () => {
    const headers = { 'Idempotency-Key': 'has space' };
    const res = await api(fleet, 'POST', CREATE, { body: markedContainer(newMark('idem-bad')), headers });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: expect.any(String),
      details: expect.stringMatching(/idempotency-key/i),
      code: 400,
      reason: 'validation_failed',
    });
  });
});

/** A tar holding one file `idem.txt` with `content`, the same bytes every time (a fixed mtime). */
async function tarOf(content: string): Promise<Buffer> {
  const tar = pack();
  tar.entry({ name: 'idem.txt', mtime: new Date(0) }, content);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The content of /tmp/idem.txt in `container` on `host`'s engine. */
async function fileOn(host: string, container: string): Promise<string> {
  const archive = (await fleet
    .docker(host)
    .getContainer(container)
    .getArchive({ path: '/tmp/idem.txt' })) as unknown as AsyncIterable<Buffer>;
  const unpacker = extract();
  const reading = (async () => {
    const chunks: Buffer[] = [];
    for await (const entry of unpacker) for await (const chunk of entry) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  })();
  for await (const chunk of archive) unpacker.write(chunk);
  unpacker.end(Buffer.alloc(0));
  return reading;
}

describe('a file body', () => {
  const CONTAINER = 'idem-cp';

  beforeAll(async () => {
    const created = await api(fleet, 'POST', CREATE, { body: { image: 'local/busybox:latest', name: CONTAINER, cmd: ['sleep', '3600'] } });
    expect(created.status).toBe(202);
  });

  const put = (key: string, tar: Buffer) =>
    fetch(`${fleet.url}/node/_all/container/docker/${CONTAINER}/archive?path=/tmp`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${fleet.adminKey}`, 'content-type': 'application/x-tar', 'idempotency-key': key },
      body: new Uint8Array(tar),
    });

  it('is sent once for a retry with the same file, and a retry with another file under the same key is 422', async () => {
    const key = `cp-${newMark('idem-cp')}`;
    const first = await put(key, await tarOf('first'));
    expect(first.status).toBe(202);
    const firstJob = ((await first.json()) as { job_id: string }).job_id;
    expect(await Promise.all(HOSTS.map((host) => fileOn(host, CONTAINER)))).toEqual(['first', 'first', 'first']);
    // Changed behind the gateway's back: a second run of the upload would write 'first' again.
    for (const host of HOSTS)
      await fleet
        .docker(host)
        .getContainer(CONTAINER)
        .putArchive(await tarOf('changed'), { path: '/tmp' });

    const retry = await put(key, await tarOf('first'));
    expect(retry.status).toBe(202);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(((await retry.json()) as { job_id: string }).job_id).toBe(firstJob);
    const other = await put(key, await tarOf('other'));
    expect(other.status).toBe(422);
    expect(await other.json()).toEqual(
      errorBody({ code: 422, reason: 'idempotency_key_reused', error: 'idempotency key reused', details: 'different request' }),
    );
    expect(await Promise.all(HOSTS.map((host) => fileOn(host, CONTAINER)))).toEqual(['changed', 'changed', 'changed']);
  });
});

describe('two gateway replicas', () => {
  let other: ApiTarget;

  beforeAll(async () => {
    const replica = await fleet.startGatewayReplica('b');
    other = { url: replica.url, adminKey: fleet.adminKey };
  }, 60_000);

  it('start one job for the same key sent to both at once, and both answer with it', async () => {
    for (let round = 0; round < 5; round++) {
      const mark = newMark(`idem-replicas-${round}`);
      const headers = { 'Idempotency-Key': `deploy-${mark}` };
      const send = (gateway: ApiTarget) => api(gateway, 'POST', CREATE, { body: markedContainer(mark), headers });
      const [viaA, viaB] = await Promise.all([send(fleet), send(other)]);
      expect([viaA.status, viaB.status]).toEqual([202, 202]);
      expect(viaB.body.job_id).toBe(viaA.body.job_id);
      expect(await countsOf(mark)).toEqual([1, 1, 1]);
    }
  });

  it('answers a retry through the other replica, after the first replica restarted, with the first job', async () => {
    const mark = newMark('idem-restart');
    const headers = { 'Idempotency-Key': `deploy-${mark}` };
    const first = await api(fleet, 'POST', CREATE, { body: markedContainer(mark), headers });
    await fleet.restartGateway();
    for (const target of [other, fleet]) {
      const retry = await api(target, 'POST', CREATE, { body: markedContainer(mark), headers });
      expect({ status: retry.status, job_id: retry.body.job_id }).toEqual({ status: 202, job_id: first.body.job_id });
    }
    expect(await countsOf(mark)).toEqual([1, 1, 1]);
  }, 60_000);
});
