/**
 * What stacks open (README "Stacks"), tried as an attacker: a viewer deploying, rolling back or removing one; a scoped
 * key deploying outside its scope, or reading a stack whose target lies outside it; an operator bind-mounting a host
 * path without `docker:host`; `privileged` through a cased key, a merge key, a duplicated service or a form body; an
 * oversized compose file and a YAML alias bomb sent at the gateway. Each is checked in the store (GET by an admin) and on
 * the engines (no container of the stack anywhere), not only by its status.
 */
import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { JOB_RECORDS_STREAM } from '@fleet/contracts/protocol';
import { api } from '../support/http';
import { attack } from '../support/attacks';
import { connectToFleetNats } from '../support/nats';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet();
const HOSTS = ['db-01', 'web-01', 'web-02'];
const IMAGE = 'local/busybox:latest';

const compose = (extra = '') => `services:\n  app:\n    image: ${IMAGE}\n    command: ["sleep", "600"]\n${extra}`;
const mentions = (body: unknown, text: string) => JSON.stringify(body).includes(text);

/** Every container of the stack on every engine, by its compose project label. */
async function containersOf(name: string): Promise<string[]> {
  const listed = await Promise.all(
    HOSTS.map(async (host) =>
      (await fleet.docker(host).listContainers({ all: true, filters: { label: [`com.docker.compose.project=${name}`] } })).map(
        (container) => `${host}/${container.Names[0]}`,
      ),
    ),
  );
  return listed.flat();
}

async function settled(jobId: string): Promise<void> {
  let job = (await api(fleet, 'GET', `/job/${jobId}?wait=60`)).body;
  while (job.status === 'pending' || job.status === 'running') job = (await api(fleet, 'GET', `/job/${jobId}?wait=60`)).body;
}

/** A stack an admin deployed to role:db, for the attacks on an existing one. */
beforeAll(async () => {
  const put = await api(fleet, 'PUT', '/stack/sec-db', { body: { compose: compose(), target: 'role:db' } });
  expect(put.status).toBe(202);
  await settled(put.body.job_id);
  expect(await containersOf('sec-db')).toEqual(['db-01//sec-db-app-1']);
});

describe('permissions', () => {
  attack('a viewer deploys, rolls back and removes stacks', async () => {
    const viewer = fleet.mintKey('viewer');
    const put = await api(fleet, 'PUT', '/stack/sec-viewer', { key: viewer, body: { compose: compose(), target: 'role:web' } });
    expect(put.status).toBe(403);
    expect(put.body).toMatchObject({ reason: 'permission_denied' });
    expect(put.body.details).toContain("requires permission 'stack:write'");
    expect((await api(fleet, 'POST', '/stack/sec-db/rollback?to=1', { key: viewer })).status).toBe(403);
    expect((await api(fleet, 'DELETE', '/stack/sec-db', { key: viewer })).status).toBe(403);

    expect((await api(fleet, 'GET', '/stack/sec-viewer')).status).toBe(404);
    expect(await containersOf('sec-viewer')).toEqual([]);
    const kept = (await api(fleet, 'GET', '/stack/sec-db')).body;
    expect(kept.revision).toBe(1);
    expect(await containersOf('sec-db')).toEqual(['db-01//sec-db-app-1']);
    // Reading is what a viewer may do.
    expect((await api(fleet, 'GET', '/stack/sec-db', { key: viewer })).status).toBe(200);
  });

  attack('an operator bind-mounts a host path into a stack without docker:host', async () => {
    const operator = fleet.mintKey('operator');
    const body = { compose: compose('    volumes: ["/etc:/host-etc:ro"]\n'), target: 'role:web' };
    const put = await api(fleet, 'PUT', '/stack/sec-bind', { key: operator, body });
    expect(put.status).toBe(403);
    expect(put.body).toMatchObject({ reason: 'permission_denied' });
    expect(put.body.details).toContain("requires permission 'docker:host'");
    const diff = await api(fleet, 'POST', '/stack/sec-bind/diff', { key: operator, body });
    expect(diff.status).toBe(403);
    expect((await api(fleet, 'GET', '/stack/sec-bind')).status).toBe(404);
    expect(await containersOf('sec-bind')).toEqual([]);
  });
});

describe('scope', () => {
  attack('an operator scoped to role:web deploys to role:db, _all and db-01', async () => {
    const scoped = fleet.mintKey('operator', { scope: 'role:web' });
    for (const target of ['role:db', '_all', 'db-01', 'zone:eu']) {
      const put = await api(fleet, 'PUT', '/stack/sec-scope', { key: scoped, body: { compose: compose(), target } });
      expect({ target, status: put.status, reason: put.body.reason }).toEqual({ target, status: 404, reason: 'target_empty' });
      expect(put.body.details).toBe("no host of this key's scope 'role:web' matches this target");
    }
    expect((await api(fleet, 'GET', '/stack/sec-scope')).status).toBe(404);
    expect(await containersOf('sec-scope')).toEqual([]);
  });

  attack('an operator scoped to role:web reads, lists, rolls back, removes and overwrites a role:db stack', async () => {
    const scoped = fleet.mintKey('operator', { scope: 'role:web' });
    const get = await api(fleet, 'GET', '/stack/sec-db', { key: scoped });
    const unknown = await api(fleet, 'GET', '/stack/sec-nothing', { key: scoped });
    expect(get.status).toBe(404);
    // The one answer for a stack outside the scope and for none at all: only the name asked for differs.
    expect(JSON.stringify(get.body).replaceAll('sec-db', 'NAME')).toBe(JSON.stringify(unknown.body).replaceAll('sec-nothing', 'NAME'));
    expect((await api(fleet, 'GET', '/stack/sec-db/revisions/1', { key: scoped })).status).toBe(404);
    const list = await api(fleet, 'GET', '/stack', { key: scoped });
    expect(mentions(list.body, 'sec-db')).toBe(false);
    expect((await api(fleet, 'POST', '/stack/sec-db/rollback?to=1', { key: scoped })).status).toBe(404);
    expect((await api(fleet, 'DELETE', '/stack/sec-db', { key: scoped })).status).toBe(404);
    // Retargeting the stack into its scope would take it over: refused as outside too.
    const overwrite = await api(fleet, 'PUT', '/stack/sec-db', { key: scoped, body: { compose: compose(), target: 'role:web' } });
    expect(overwrite.status).toBe(404);
    expect((await api(fleet, 'GET', '/stack/sec-db')).body).toMatchObject({ revision: 1, target: 'role:db' });
    expect(await containersOf('sec-db')).toEqual(['db-01//sec-db-app-1']);
  });
});

describe('the compose file', () => {
  attack('an unsupported key (privileged) in a compose file', async () => {
    const put = await api(fleet, 'PUT', '/stack/sec-priv', { body: { compose: compose('    privileged: true\n'), target: 'role:web' } });
    expect(put.status).toBe(400);
    expect(put.body).toMatchObject({ reason: 'invalid_compose', key: 'privileged', path: 'services.app.privileged' });
    expect((await api(fleet, 'GET', '/stack/sec-priv')).status).toBe(404);
    expect(await containersOf('sec-priv')).toEqual([]);
  });

  attack('privileged said another way: a cased key, a YAML merge key, a duplicated service, a form body', async () => {
    const tries: Array<[string, string]> = [
      ['sec-cased', compose('    Privileged: true\n')],
      ['sec-merge', compose('    <<: { privileged: true }\n')],
      ['sec-dup', `${compose('    privileged: false\n')}  app:\n    image: ${IMAGE}\n    privileged: true\n`],
    ];
    for (const [name, text] of tries) {
      const put = await api(fleet, 'PUT', `/stack/${name}`, { body: { compose: text, target: 'role:web' } });
      expect({ name, status: put.status, reason: put.body.reason }).toEqual({ name, status: 400, reason: 'invalid_compose' });
    }
    // The same body as a form: the gateway reads JSON only, so nothing of it is judged or stored.
    const form = new URLSearchParams({ compose: compose('    privileged: true\n'), target: 'role:web' });
    const res = await fetch(`${fleet.url}/stack/sec-form`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${fleet.adminKey}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
      signal: AbortSignal.timeout(10_000),
    });
    const refused = (await res.json()) as { reason?: string; details?: string };
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(refused.reason).toEqual(expect.any(String));
    expect(refused.details).toEqual(expect.any(String));
    for (const name of ['sec-cased', 'sec-merge', 'sec-dup', 'sec-form']) {
      expect({ name, status: (await api(fleet, 'GET', `/stack/${name}`)).status }).toEqual({ name, status: 404 });
      expect(await containersOf(name)).toEqual([]);
    }
  });

  attack("a viewer reads a stack's environment values in its revision, or finds them in the job record on the broker", async () => {
    const secret = `hunter2-${randomUUID()}`;
    const text = `${compose(`    environment:\n      DB_PASSWORD: ${secret}\n      MODE: fast\n`)}`;
    const put = await api(fleet, 'PUT', '/stack/sec-env', { body: { compose: text, target: 'role:db' } });
    expect(put.status).toBe(202);
    await settled(put.body.job_id);
    // The value did reach the container: what is withheld below is a real secret, not a dropped one.
    const [container] = await fleet
      .docker('db-01')
      .listContainers({ all: true, filters: { label: ['com.docker.compose.project=sec-env'] } });
    expect((await fleet.docker('db-01').getContainer(container.Id).inspect()).Config.Env).toContain(`DB_PASSWORD=${secret}`);

    const viewer = fleet.mintKey('viewer');
    const seen = await api(fleet, 'GET', '/stack/sec-env/revisions/1', { key: viewer });
    expect(seen.status).toBe(200);
    expect(seen.body.compose).toContain('DB_PASSWORD: <redacted>');
    expect(seen.body.compose).toContain('MODE: <redacted>');
    expect(JSON.stringify(seen.body)).not.toContain(secret);
    for (const path of ['/stack/sec-env', '/stack'])
      expect(JSON.stringify((await api(fleet, 'GET', path, { key: viewer })).body)).not.toContain(secret);
    // A key with docker:read-data reads the file as it was sent.
    expect((await api(fleet, 'GET', '/stack/sec-env/revisions/1')).body.compose).toBe(text);

    // Every job record the broker holds, read from the stream itself: the apply's parameters were not kept.
    const nats = await connectToFleetNats(fleet.state);
    try {
      const jsm = await jetstreamManager(nats);
      const { state } = await jsm.streams.info(JOB_RECORDS_STREAM);
      let records = 0;
      for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
        const message = await jsm.streams.getMessage(JOB_RECORDS_STREAM, { seq }).catch(() => null);
        if (!message) continue;
        records += message.string().includes(put.body.job_id) ? 1 : 0;
        expect(message.string()).not.toContain(secret);
      }
      expect(records).toBeGreaterThan(0);
    } finally {
      await nats.close();
    }
  });

  attack('a YAML alias bomb and an oversized compose file sent to the gateway', async () => {
    const layers = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let level = 1; level < 9; level++) {
      const previous = String.fromCharCode(96 + level);
      const name = String.fromCharCode(97 + level);
      layers.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]`);
    }
    const bomb = `${layers.join('\n')}\n${compose()}`;
    const put = await api(fleet, 'PUT', '/stack/sec-bomb', { body: { compose: bomb, target: 'role:web' } });
    expect(put.status).toBe(400);
    expect(put.body.reason).toBe('invalid_compose');
    const oversized = `${compose()}# ${'x'.repeat(140 * 1024)}\n`;
    const big = await api(fleet, 'PUT', '/stack/sec-big', { body: { compose: oversized, target: 'role:web' } });
    expect([400, 413]).toContain(big.status);
    expect(big.body.reason).toMatch(/^(validation_failed|payload_too_large)$/);
    expect((await api(fleet, 'GET', '/health', { key: null })).status).toBe(200);
    for (const name of ['sec-bomb', 'sec-big']) expect((await api(fleet, 'GET', `/stack/${name}`)).status).toBe(404);
    expect([...(await containersOf('sec-bomb')), ...(await containersOf('sec-big'))]).toEqual([]);
  });
});
