/**
 * Issue 20: what reruns and idempotency keys open. A rerun is checked as the caller's own call
 * (README "Rerunning a job"): a viewer, a key without `docker:host` or a key scoped away from the
 * failed host reruns nothing there. An Idempotency-Key is per API key (README "Retries and
 * idempotency"): another key's same value starts its own job and never reads the first one's rows.
 * The keys' bucket is the gateway's alone: an agent's NATS login can neither read nor write it.
 * Every refusal is checked on the engines (or the broker), with the admin's positive control where
 * the same call is allowed.
 */
import { Kvm } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import { AGENT_JETSTREAM_API_PREFIX } from '@fleet/contracts/nats-permissions';
import { IDEMPOTENCY_BUCKET, kvStreamName, kvSubject } from '@fleet/contracts/protocol';
import { GATEWAY_LOGIN, useNatsLogins } from '../support/agent-login';
import { attack } from '../support/attacks';
import { countContainers } from '../support/docker';
import { markedContainer, MARK, newMark } from '../support/faults';
import { api, errorBody, forbiddenBody } from '../support/http';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet();
const logins = useNatsLogins(fleet, { web01: 'web-01', gateway: GATEWAY_LOGIN });
const IMAGE = 'local/busybox:latest';
const HOSTS = ['db-01', 'web-01', 'web-02'];
const CREATE = '/node/_all/container/docker';

async function isRunning(hostname: string, container: string): Promise<boolean> {
  return (await fleet.docker(hostname).getContainer(container).inspect()).State.Running;
}

async function countsOf(mark: string): Promise<number[]> {
  return Promise.all(HOSTS.map((host) => countContainers(fleet.docker(host), `${MARK}=${mark}`)));
}

/** A start on _all that failed on db-01 only (no container there yet), after which db-01 gets the container, stopped. */
async function startFailedOnDb(name: string): Promise<string> {
  await api(fleet, 'POST', '/node/role:web/container/docker', { body: { image: IMAGE, name, cmd: ['sleep', '3600'] } });
  const start = await api(fleet, 'POST', `/node/_all/container/docker/${name}/start`);
  expect(start.body.results.map((row: { hostname: string; status: string }) => [row.hostname, row.status])).toEqual([
    ['db-01', 'failed'],
    ['web-01', 'ok'],
    ['web-02', 'ok'],
  ]);
  const onDb = await api(fleet, 'POST', '/node/db-01/container/docker', { body: { image: IMAGE, name, cmd: ['sleep', '3600'] } });
  expect(onDb.status).toBe(202);
  return start.body.job_id;
}

describe('rerunning another caller’s job', () => {
  attack('a viewer reruns an admin’s start: 403 naming docker:write, and the container stays stopped on the engine', async () => {
    const job = await startFailedOnDb('sr-viewer');
    const viewer = fleet.mintKey('viewer', { subject: 'sr-viewer' });
    const rerun = await api(fleet, 'POST', `/job/${job}/rerun?hosts=failed`, { key: viewer });
    expect(rerun.status).toBe(403);
    expect(rerun.body).toEqual(forbiddenBody('docker:write'));
    expect(await isRunning('db-01', 'sr-viewer')).toBe(false);
    // The admin may: the same rerun starts it.
    expect((await api(fleet, 'POST', `/job/${job}/rerun?hosts=failed`)).status).toBe(202);
    expect(await isRunning('db-01', 'sr-viewer')).toBe(true);
  });

  attack('an operator scoped to role:web reruns an admin’s job whose failed host is db-01: nothing runs on db-01', async () => {
    const job = await startFailedOnDb('sr-scoped');
    const scoped = fleet.mintKey('operator', { subject: 'sr-scoped', scope: 'role:web' });
    const failed = await api(fleet, 'POST', `/job/${job}/rerun?hosts=failed`, { key: scoped });
    expect(failed.status).toBe(409);
    expect(failed.body).toEqual(errorBody({ code: 409, reason: 'nothing_to_rerun', error: 'nothing to rerun', details: 'may see' }));
    // Every host it may see: the web hosts only, never db-01.
    const all = await api(fleet, 'POST', `/job/${job}/rerun?hosts=all`, { key: scoped });
    expect(all.status).toBe(202);
    expect(all.body.results.map((row: { hostname: string }) => row.hostname)).toEqual(['web-01', 'web-02']);
    expect(await isRunning('db-01', 'sr-scoped')).toBe(false);
    // A job on db-01 alone does not exist for it.
    const dbOnly = await api(fleet, 'POST', '/node/db-01/container/docker/sr-scoped/start?timeout=10');
    expect(dbOnly.status).toBe(202);
    await api(fleet, 'POST', '/node/db-01/container/docker/sr-scoped/stop?t=0');
    const hidden = await api(fleet, 'POST', `/job/${dbOnly.body.job_id}/rerun?hosts=all`, { key: scoped });
    expect(hidden.status).toBe(404);
    expect(hidden.body).toEqual({ error: 'job not found', details: expect.any(String), code: 404, reason: 'not_found' });
    expect(await isRunning('db-01', 'sr-scoped')).toBe(false);
  });

  attack('an operator (no docker:host) reruns an admin’s create on the host network: 403, nothing created', async () => {
    const name = 'sr-hostnet';
    // web-02 has one already: the admin's create fails there only.
    await api(fleet, 'POST', '/node/web-02/container/docker', { body: { image: IMAGE, name, cmd: ['sleep', '3600'] } });
    const created = await api(fleet, 'POST', CREATE, { body: { image: IMAGE, name, network: 'host', cmd: ['sleep', '3600'] } });
    expect(created.body.results.map((row: { status: string }) => row.status)).toEqual(['ok', 'ok', 'failed']);
    await fleet.docker('web-02').getContainer(name).remove({ force: true });
    const operator = fleet.mintKey('operator', { subject: 'sr-operator' });
    const rerun = await api(fleet, 'POST', `/job/${created.body.job_id}/rerun?hosts=failed`, { key: operator });
    expect(rerun.status).toBe(403);
    expect(rerun.body).toEqual(forbiddenBody('docker:host'));
    await expect(fleet.docker('web-02').getContainer(name).inspect()).rejects.toMatchObject({ statusCode: 404 });
    // The admin may, and the container it makes is on the host network.
    expect((await api(fleet, 'POST', `/job/${created.body.job_id}/rerun?hosts=failed`)).status).toBe(202);
    expect((await fleet.docker('web-02').getContainer(name).inspect()).HostConfig.NetworkMode).toBe('host');
  });
});

describe('another caller’s Idempotency-Key', () => {
  /** An operator's create under an Idempotency-Key of its own: the request another caller then sends again. */
  async function operatorCreate(markPrefix: string, subject: string) {
    const mark = newMark(markPrefix);
    const headers = { 'Idempotency-Key': `deploy-${mark}` };
    const operator = fleet.mintKey('operator', { subject });
    const first = await api(fleet, 'POST', CREATE, { key: operator, body: markedContainer(mark), headers });
    expect(first.status).toBe(202);
    return { mark, headers, first };
  }

  attack('a second API key sends an operator’s key with the same request: a job of its own, never the first one’s', async () => {
    const { mark, headers, first } = await operatorCreate('sr-idem', 'sr-pipe-a');
    // Another subject, and another key of the same subject: each is another caller.
    for (const key of [fleet.mintKey('operator', { subject: 'sr-pipe-b' }), fleet.mintKey('operator', { subject: 'sr-pipe-a' })]) {
      const other = await api(fleet, 'POST', CREATE, { key, body: markedContainer(mark), headers });
      expect(other.status).toBe(202);
      expect(other.body.job_id).not.toBe(first.body.job_id);
      expect(other.headers['idempotent-replayed']).toBeUndefined();
    }
    expect(await countsOf(mark)).toEqual([3, 3, 3]);
  });

  attack('a viewer sends an operator’s key with the operator’s request: 403, not the operator’s job', async () => {
    const { mark, headers, first } = await operatorCreate('sr-idem-viewer', 'sr-pipe-c');
    const viewerKey = fleet.mintKey('viewer', { subject: 'sr-pipe-c' });
    const viewer = await api(fleet, 'POST', CREATE, { key: viewerKey, body: markedContainer(mark), headers });
    expect(viewer.status).toBe(403);
    expect(JSON.stringify(viewer.body)).not.toContain(first.body.job_id);
    expect(await countsOf(mark)).toEqual([1, 1, 1]);
  });
});

describe('the idempotency bucket and an agent’s NATS login', () => {
  attack('web-01’s login reads, follows and overwrites an idempotency key: the broker refuses each, the key is unchanged', async () => {
    const mark = newMark('sr-bucket');
    const first = await api(fleet, 'POST', CREATE, { body: markedContainer(mark), headers: { 'Idempotency-Key': `deploy-${mark}` } });
    expect(first.status).toBe(202);
    const bucket = await new Kvm(logins.gateway.nc).open(IDEMPOTENCY_BUCKET);
    // The slot of this call's key: the one naming its job (slots are digests, no key is stored as is).
    let slot = '';
    for await (const candidate of await bucket.keys()) {
      if ((await bucket.get(candidate))?.json<{ job_id: string }>().job_id === first.body.job_id) slot = candidate;
    }
    expect(slot).toMatch(/^[0-9a-f]{64}$/);
    const before = await bucket.get(slot);
    const jsm = await jetstreamManager(logins.gateway.nc);
    const messagesBefore = (await jsm.streams.info(kvStreamName(IDEMPOTENCY_BUCKET))).state.messages;

    const agent = logins.web01.nc;
    const forgedJob = '00000000-0000-4000-8000-000000000000';
    const forged = JSON.stringify({ job_id: forgedJob, request_sha256: '0'.repeat(64), claimed_at: new Date().toISOString() });
    agent.publish(kvSubject(IDEMPOTENCY_BUCKET, slot), forged);
    await logins.web01.violationFor(kvSubject(IDEMPOTENCY_BUCKET, slot));
    agent.subscribe(kvSubject(IDEMPOTENCY_BUCKET, '>'));
    await logins.web01.violationFor(kvSubject(IDEMPOTENCY_BUCKET, '>'));
    for (const prefix of ['$JS.API', AGENT_JETSTREAM_API_PREFIX]) {
      const stream = kvStreamName(IDEMPOTENCY_BUCKET);
      const directGet = `${prefix}.DIRECT.GET.${stream}.${kvSubject(IDEMPOTENCY_BUCKET, slot)}`;
      const reads = [directGet, `${prefix}.STREAM.MSG.GET.${stream}`, `${prefix}.STREAM.INFO.${stream}`];
      for (const subject of reads) {
        const asked = JSON.stringify({ last_by_subj: kvSubject(IDEMPOTENCY_BUCKET, slot) });
        await expect(agent.request(subject, asked, { timeout: 1_000 })).rejects.toThrow();
      }
    }

    const after = await bucket.get(slot);
    expect({ value: after?.string(), revision: after?.revision }).toEqual({ value: before?.string(), revision: before?.revision });
    expect((await jsm.streams.info(kvStreamName(IDEMPOTENCY_BUCKET))).state.messages).toBe(messagesBefore);
    // The first call's retry still answers with its own job.
    const retry = await api(fleet, 'POST', CREATE, { body: markedContainer(mark), headers: { 'Idempotency-Key': `deploy-${mark}` } });
    expect(retry.body.job_id).toBe(first.body.job_id);
  });
});
