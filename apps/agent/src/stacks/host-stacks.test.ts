import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { parseCompose, serviceConfigHash, type StackSpec } from '@fleet/contracts/compose';
import { fakeEngine, type FakeEngine } from '../executors/fake-engine';
import { HostStacks } from './host-stacks';

const specOf = (text: string): StackSpec => {
  const result = parseCompose(text);
  if (!result.ok) throw new Error(result.message);
  return result.spec;
};
const SPEC = specOf('services:\n  app: { image: local/app:1 }\n  db: { image: local/db:1 }\n');

/** An engine where `app` and `db` of stack `shop` run, until a test removes one; engine events come from `events`. */
function engineWithStack(events: PassThrough) {
  const running = new Set(['app', 'db']);
  const container = (service: string) => ({
    Id: `id-${service}`,
    Names: [`/shop-${service}-1`],
    Image: SPEC.services[service].image,
    State: 'running',
    Labels: {
      'com.docker.compose.project': 'shop',
      'com.docker.compose.service': service,
      'com.docker.compose.config-hash': serviceConfigHash(SPEC, service),
    },
  });
  const engine: FakeEngine = fakeEngine({
    listContainers: () => [...running].map(container),
    listNetworks: () => [{ Name: 'shop_default', Id: 'n', Labels: { 'com.docker.compose.project': 'shop' } }],
    listVolumes: () => ({ Volumes: [] }),
    getEvents: () => events,
    'image.inspect': () => ({ Id: 'sha256:1' }),
    createContainer: (body: { name: string; Labels: Record<string, string> }) => {
      running.add(body.Labels['com.docker.compose.service']);
      return engine.handle('container', body.name, { id: body.name });
    },
    'container.start': () => undefined,
  });
  return { engine, running };
}

const bounds = () => ({ signal: new AbortController().signal, deadline: Date.now() + 5_000 });

async function until<T>(read: () => T, done: (value: T) => boolean): Promise<T> {
  for (let tries = 0; tries < 100; tries++) {
    const value = read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never reached: ${JSON.stringify(read())}`);
}

describe('HostStacks: the revision kept, drift found by engine events, repair', () => {
  let stacks: HostStacks | undefined;
  afterEach(() => stacks?.stop());

  it('keeps the revision on disk (0600) for the next run of the agent', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'stacks-'));
    const { engine } = engineWithStack(new PassThrough());
    stacks = new HostStacks({ docker: engine.docker, dir, log: pino({ level: 'silent' }) });
    await stacks.apply('shop', { revision: 3, spec: SPEC, on_drift: 'repair' }, bounds());
    expect(JSON.parse(await readFile(path.join(dir, 'shop.json'), 'utf8'))).toEqual({ revision: 3, spec: SPEC, on_drift: 'repair' });
    expect((await stat(path.join(dir, 'shop.json'))).mode & 0o777).toBe(0o600);
    const restarted = new HostStacks({ docker: engine.docker, dir, log: pino({ level: 'silent' }) });
    await restarted.start();
    expect(restarted.list()).toMatchObject([{ name: 'shop', revision: 3, on_drift: 'repair' }]);
    restarted.stop();
  });

  it("reports a container removed by hand as drift, from the engine's event, and does not touch it when told to report", async () => {
    const events = new PassThrough();
    const { engine, running } = engineWithStack(events);
    stacks = new HostStacks({ docker: engine.docker, log: pino({ level: 'silent' }) });
    await stacks.apply('shop', { revision: 1, spec: SPEC, on_drift: 'report' }, bounds());
    await stacks.start();
    running.delete('db');
    events.write(
      `${JSON.stringify({ Type: 'container', Action: 'destroy', Actor: { Attributes: { 'com.docker.compose.project': 'shop' } } })}\n`,
    );
    const [state] = await until(
      () => stacks?.report() ?? [],
      ([first]) => first?.state === 'drifted',
    );
    expect(state).toMatchObject({
      name: 'shop',
      revision: 1,
      state: 'drifted',
      drift: [{ service: 'db', what: 'missing (no container)' }],
    });
    expect(engine.calls.some(({ call }) => call === 'createContainer')).toBe(false);
  });

  it('recreates it when the stack says on_drift: repair, and is in sync again', async () => {
    const events = new PassThrough();
    const { engine, running } = engineWithStack(events);
    stacks = new HostStacks({ docker: engine.docker, log: pino({ level: 'silent' }) });
    await stacks.apply('shop', { revision: 2, spec: SPEC, on_drift: 'repair' }, bounds());
    await stacks.start();
    running.delete('db');
    events.write(
      `${JSON.stringify({ Type: 'container', Action: 'destroy', Actor: { Attributes: { 'com.docker.compose.project': 'shop' } } })}\n`,
    );
    await until(
      () => engine.calls.filter(({ call }) => call === 'createContainer'),
      (creates) => creates.length > 0,
    );
    expect(running.has('db')).toBe(true);
    const [state] = await until(
      () => stacks?.report() ?? [],
      ([first]) => first?.state === 'in_sync',
    );
    expect(state).toMatchObject({ name: 'shop', revision: 2, state: 'in_sync' });
  });

  it('refuses a revision older than the one it keeps, leaving the engine and the kept revision alone', async () => {
    const engine = fakeEngine({ listContainers: () => [], listNetworks: () => [], listVolumes: () => ({ Volumes: [] }) });
    stacks = new HostStacks({ docker: engine.docker, log: pino({ level: 'silent' }) });
    await stacks.apply('shop', { revision: 3, spec: SPEC }, bounds()).catch(() => undefined);
    const callsBefore = engine.calls.length;
    await expect(stacks.apply('shop', { revision: 2, spec: SPEC }, bounds())).rejects.toMatchObject({
      statusCode: 409,
      message: 'stack shop is at revision 3 on this host: revision 2 is older, not applied',
    });
    expect(engine.calls.length).toBe(callsBefore);
    expect(stacks.report()).toMatchObject([{ name: 'shop', revision: 3 }]);
  });

  it('keeps a revision whose apply failed as the one to reach, and reports it failed with the reason', async () => {
    const failing = fakeEngine({
      listContainers: () => [],
      listNetworks: () => [{ Name: 'shop_default', Id: 'n', Labels: {} }],
      listVolumes: () => ({ Volumes: [] }),
    });
    stacks = new HostStacks({ docker: failing.docker, log: pino({ level: 'silent' }) });
    await expect(stacks.apply('shop', { revision: 7, spec: SPEC }, bounds())).rejects.toMatchObject({ statusCode: 409 });
    expect(stacks.report()).toMatchObject([{ name: 'shop', revision: 7, on_drift: 'report', state: 'failed' }]);
    expect(stacks.report()[0].error).toContain('shop_default exists and does not belong to stack shop');
    expect(failing.calls.map(({ call }) => call)).toEqual(['listContainers', 'listNetworks', 'listVolumes']);
  });
});
