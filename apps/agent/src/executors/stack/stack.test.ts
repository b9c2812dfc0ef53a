import { Readable } from 'node:stream';
import pino from 'pino';
import { parseCompose, serviceConfigHash, type StackSpec } from '@fleet/contracts/compose';
import { HostStacks } from '../../stacks/host-stacks';
import { contextOf, engineError, fakeEngine, type EngineAnswers, type FakeEngine } from '../fake-engine';
import { stackApply } from './apply';
import { stackDiff } from './diff';
import { stackList } from './list';
import { stackRemove } from './remove';

const specOf = (text: string): StackSpec => {
  const result = parseCompose(text);
  if (!result.ok) throw new Error(result.message);
  return result.spec;
};

const SPEC = specOf(`
services:
  web: { image: local/web:1, depends_on: [app], ports: ["8080:80"] }
  app: { image: local/app:1, depends_on: [db], networks: [default, back] }
  db: { image: local/db:1, volumes: ["data:/var/lib/db"], networks: [back] }
volumes: { data: }
networks: { back: }
`);

/** An engine holding the stack `web` as an apply of SPEC leaves it: every container running with its config hash. */
function convergedEngine(spec: StackSpec, overrides: EngineAnswers = {}): FakeEngine {
  const container = (service: string) => ({
    Id: `id-${service}`,
    Names: [`/web-${service}-1`],
    Image: spec.services[service].image,
    State: 'running',
    Labels: {
      'com.docker.compose.project': 'web',
      'com.docker.compose.service': service,
      'com.docker.compose.config-hash': serviceConfigHash(spec, service),
    },
  });
  const network = (name: string) => ({ Name: `web_${name}`, Id: `net-${name}`, Labels: { 'com.docker.compose.project': 'web' } });
  return fakeEngine({
    listContainers: () => Object.keys(spec.services).map(container),
    listNetworks: () => Object.keys(spec.networks).map(network),
    listVolumes: () => ({
      Volumes: Object.keys(spec.volumes).map((name) => ({ Name: `web_${name}`, Labels: { 'com.docker.compose.project': 'web' } })),
    }),
    ...overrides,
  });
}

function emptyEngine(overrides: EngineAnswers = {}): FakeEngine {
  const engine: FakeEngine = fakeEngine({
    listContainers: () => [],
    listNetworks: () => [],
    listVolumes: () => ({ Volumes: [] }),
    'image.inspect': () => ({ Id: 'sha256:1' }),
    createNetwork: () => ({}),
    createVolume: () => ({}),
    createContainer: (body: { name: string }) => engine.handle('container', body.name, { id: body.name }),
    'network.connect': () => undefined,
    'container.start': () => undefined,
    ...overrides,
  });
  return engine;
}

const stacksOn = (engine: FakeEngine) => new HostStacks({ docker: engine.docker, log: pino({ level: 'silent' }) });
const contextFor = (engine: FakeEngine, stacks = stacksOn(engine)) => contextOf(engine.docker, { stacks });
const request = (spec: StackSpec, revision = 1) => ({ name: 'web', body: { revision, spec, on_drift: 'report' as const } });
/** Calls that only read: what a converged host may see and nothing more. */
const READS = /^(list(Containers|Networks|Volumes)|(container|image|network|volume)\([^)]*\)\.inspect)$/;

describe('stack.host.apply', () => {
  it('creates networks and volumes, then each container in dependency order, named and labelled as compose does', async () => {
    const engine = emptyEngine();
    const outcome = await stackApply(request(SPEC, 4), contextFor(engine));
    const mutating = engine.calls.filter(({ call }) => !READS.test(call)).map(({ call }) => call);
    expect(mutating).toEqual([
      'createNetwork',
      'createNetwork',
      'createVolume',
      'createContainer',
      'container(web-db-1).start',
      'createContainer',
      'network(web_default).connect',
      'container(web-app-1).start',
      'createContainer',
      'container(web-web-1).start',
    ]);
    const created = engine.calls.filter(({ call }) => call === 'createContainer').map(({ args }) => args[0] as Record<string, never>);
    expect(created.map((body) => body.name)).toEqual(['web-db-1', 'web-app-1', 'web-web-1']);
    expect(created[0]).toMatchObject({
      Labels: { 'com.docker.compose.project': 'web', 'com.docker.compose.service': 'db', 'fleet.stack.revision': '4' },
      HostConfig: { NetworkMode: 'web_back', Mounts: [{ Type: 'volume', Source: 'web_data', Target: '/var/lib/db' }] },
    });
    expect(engine.calls.find(({ call }) => call === 'createVolume')?.args[0]).toMatchObject({
      Name: 'web_data',
      Labels: { 'com.docker.compose.project': 'web', 'com.docker.compose.volume': 'data' },
    });
    expect(outcome).toMatchObject({ changed: true, revision: 4, containers: ['web-db-1', 'web-app-1', 'web-web-1'] });
    expect(outcome.changes?.map((change) => `${change.service}:${change.action}`)).toEqual(['db:create', 'app:create', 'web:create']);
  });

  it('a second apply of the same revision makes no mutating Engine call', async () => {
    const engine = convergedEngine(SPEC);
    const outcome = await stackApply(request(SPEC), contextFor(engine));
    expect(engine.calls.map(({ call }) => call).filter((call) => !READS.test(call))).toEqual([]);
    expect(outcome).toMatchObject({ changed: false, containers: ['web-db-1', 'web-app-1', 'web-web-1'] });
    expect(outcome.changes?.every((change) => change.action === 'none')).toBe(true);
  });

  it('recreates only the service whose config changed (stop, remove, create, start) and pulls its missing image', async () => {
    const next = specOf(`
services:
  web: { image: local/web:2, depends_on: [app], ports: ["8080:80"] }
  app: { image: local/app:1, depends_on: [db], networks: [default, back] }
  db: { image: local/db:1, volumes: ["data:/var/lib/db"], networks: [back] }
volumes: { data: }
networks: { back: }
`);
    const converged = convergedEngine(SPEC);
    const engine = emptyEngine({
      listContainers: () => (converged.docker.listContainers as () => unknown)(),
      listNetworks: () => (converged.docker.listNetworks as () => unknown)(),
      listVolumes: () => (converged.docker.listVolumes as () => unknown)(),
      'image(local/web:2).inspect': () => Promise.reject(engineError(404, 'no such image')),
      createImage: () => Readable.from(['{"status":"Status: Downloaded newer image"}\n']),
      'container.stop': () => undefined,
      'container.remove': () => undefined,
    });
    const outcome = await stackApply(request(next, 2), contextFor(engine));
    expect(engine.calls.map(({ call }) => call).filter((call) => !READS.test(call))).toEqual([
      'createImage',
      'container(id-web).stop',
      'container(id-web).remove',
      'createContainer',
      'container(web-web-1).start',
    ]);
    expect(outcome.changes).toContainEqual({ service: 'web', action: 'recreate', reason: 'image local/web:1 → local/web:2' });
  });

  it('removes the containers and networks of what the revision no longer has, and keeps volumes', async () => {
    const smaller = specOf('services:\n  web: { image: local/web:1, ports: ["8080:80"] }\n');
    const engine = convergedEngine(SPEC, {
      'container.stop': () => undefined,
      'container.remove': () => undefined,
      'network.remove': () => undefined,
      'image.inspect': () => ({ Id: 'sha256:1' }),
      createContainer: (body: { name: string }) => engine.handle('container', body.name, { id: body.name }),
      'container.start': () => undefined,
    });
    const outcome = await stackApply(request(smaller, 3), contextFor(engine));
    const mutating = engine.calls.map(({ call }) => call).filter((call) => !READS.test(call));
    expect(mutating).toEqual(expect.arrayContaining(['container(id-app).remove', 'container(id-db).remove', 'network(web_back).remove']));
    expect(mutating.some((call) => call.startsWith('volume'))).toBe(false);
    expect(outcome.changes?.filter((change) => change.action === 'remove').map((change) => change.service)).toEqual(['app', 'db']);
  });

  it('never takes over a network of its names that the stack did not create (409, nothing created)', async () => {
    const engine = emptyEngine({ listNetworks: () => [{ Name: 'web_back', Id: 'n1', Labels: {} }] });
    await expect(stackApply(request(SPEC), contextFor(engine))).rejects.toMatchObject({ statusCode: 409 });
    expect(engine.calls.map(({ call }) => call).filter((call) => !READS.test(call))).toEqual([]);
  });

  it('refuses a spec whose values cannot be applied, before any Engine call', async () => {
    const engine = emptyEngine();
    const broken = { ...SPEC, volumes: {} };
    await expect(stackApply(request(broken), contextFor(engine))).rejects.toMatchObject({ statusCode: 400 });
    expect(engine.calls).toEqual([]);
  });
});

describe('stack.host.diff', () => {
  it('reports what an apply would change and calls nothing that changes the engine', async () => {
    const engine = convergedEngine(SPEC, { listContainers: () => [] });
    const outcome = await stackDiff(request(SPEC), contextFor(engine));
    expect(engine.calls.map(({ call }) => call).filter((call) => !READS.test(call))).toEqual([]);
    expect(outcome).toMatchObject({ changed: false, message: 'stack web would change' });
    expect(outcome.changes?.map((change) => change.action)).toEqual(['create', 'create', 'create']);
  });
});

describe('stack.host.remove', () => {
  it('removes containers and networks, keeps volumes, and forgets the stack', async () => {
    const engine = convergedEngine(SPEC, {
      'container.stop': () => undefined,
      'container.remove': () => undefined,
      'network.remove': () => undefined,
    });
    const stacks = stacksOn(engine);
    await stackApply(request(SPEC, 5), contextFor(engine, stacks));
    engine.calls.length = 0;
    const outcome = await stackRemove({ name: 'web' }, contextFor(engine, stacks));
    const mutating = engine.calls.map(({ call }) => call).filter((call) => !READS.test(call));
    expect(mutating.filter((call) => call.endsWith('.remove')).sort()).toEqual([
      'container(id-app).remove',
      'container(id-db).remove',
      'container(id-web).remove',
      'network(web_back).remove',
      'network(web_default).remove',
    ]);
    expect(mutating.some((call) => call.startsWith('volume'))).toBe(false);
    expect(outcome).toMatchObject({ changed: true, message: 'stack web removed' });
    expect((await stackList({}, contextFor(engine, stacks))).stacks).toEqual([]);
  });

  it('a host without the stack answers unchanged', async () => {
    const engine = emptyEngine();
    expect(await stackRemove({ name: 'web' }, contextFor(engine))).toMatchObject({ changed: false, message: 'no stack web here' });
    expect(engine.calls.map(({ call }) => call).filter((call) => !READS.test(call))).toEqual([]);
  });
});

describe('stack.host.list', () => {
  it('lists each kept stack with its revision and state, reading nothing from the engine', async () => {
    const engine = convergedEngine(SPEC);
    const stacks = stacksOn(engine);
    await stackApply(request(SPEC, 5), contextFor(engine, stacks));
    engine.calls.length = 0;
    expect((await stackList({}, contextFor(engine, stacks))).stacks).toMatchObject([
      { name: 'web', revision: 5, on_drift: 'report', state: 'in_sync' },
    ]);
    expect(engine.calls).toEqual([]);
  });
});
