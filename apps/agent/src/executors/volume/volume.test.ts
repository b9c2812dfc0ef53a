import { contextOf, engineError, fakeEngine, runExecutor } from '../fake-engine';
import { volumeCreate } from './create';
import { volumeInspect } from './inspect';
import { volumeList } from './list';
import { volumePrune } from './prune';
import { volumeRemove } from './remove';

const aSignal = expect.any(AbortSignal);
const absent = () => Promise.reject(engineError(404, 'no such volume'));

describe('docker.volume.list', () => {
  it("hands the filters on as JSON and reports the volumes and warnings; the engine's nulls are empty lists", async () => {
    const engine = fakeEngine({ listVolumes: () => ({ Volumes: [{ Name: 'data' }], Warnings: null }) });
    const outcome = await volumeList({ filters: { dangling: ['true'] } } as never, contextOf(engine.docker));
    expect(engine.calls).toEqual([{ call: 'listVolumes', args: [{ filters: '{"dangling":["true"]}', abortSignal: aSignal }] }]);
    expect(outcome).toEqual({ changed: false, message: '1 volumes', volumes: [{ Name: 'data' }], warnings: [] });
  });
});

describe('docker.volume.create', () => {
  it('creates a volume of a name that does not exist yet and reports its inspect', async () => {
    const volume = { Name: 'data', Driver: 'local', Labels: { app: 'db' } };
    let created = false;
    const engine = fakeEngine({
      'volume.inspect': () => (created ? volume : absent()),
      createVolume: () => ((created = true), engine.handle('volume', 'data')),
    });
    const outcome = await volumeCreate({ body: { name: 'data', driver: 'local', labels: { app: 'db' } } }, contextOf(engine.docker));
    expect(engine.calls).toEqual([
      { call: 'volume(data).inspect', args: [] },
      { call: 'createVolume', args: [{ Name: 'data', Driver: 'local', DriverOpts: undefined, Labels: { app: 'db' } }] },
      { call: 'volume(data).inspect', args: [] },
    ]);
    expect(outcome).toEqual({ changed: true, id: 'data', message: 'volume created', volume });
  });

  it('a volume of that name already there is reported unchanged, and none is created', async () => {
    const engine = fakeEngine({ 'volume.inspect': () => ({ Name: 'data', Driver: 'local' }) });
    expect(await volumeCreate({ body: { name: 'data' } }, contextOf(engine.docker))).toEqual({
      changed: false,
      id: 'data',
      message: 'volume already exists',
      volume: { Name: 'data', Driver: 'local' },
    });
    expect(engine.calls.map((c) => c.call)).toEqual(['volume(data).inspect']);
  });

  it('without a name the engine names it, and nothing is looked up first', async () => {
    const engine = fakeEngine({ createVolume: () => engine.handle('volume', 'f00'), 'volume.inspect': () => ({ Name: 'f00' }) });
    expect(await volumeCreate({ body: {} }, contextOf(engine.docker))).toEqual({
      changed: true,
      id: 'f00',
      message: 'volume created',
      volume: { Name: 'f00' },
    });
    expect(engine.calls.map((c) => c.call)).toEqual(['createVolume', 'volume(f00).inspect']);
  });
});

describe('docker.volume.inspect', () => {
  it("reports the engine's inspect under the volume's name", async () => {
    const engine = fakeEngine({ 'volume.inspect': () => ({ Name: 'data', Mountpoint: '/var/lib/docker/volumes/data/_data' }) });
    expect(await volumeInspect({ name: 'data' }, contextOf(engine.docker))).toEqual({
      changed: false,
      id: 'data',
      volume: { Name: 'data', Mountpoint: '/var/lib/docker/volumes/data/_data' },
    });
    expect(engine.calls).toEqual([{ call: 'volume(data).inspect', args: [] }]);
  });
});

describe('docker.volume.remove', () => {
  it("without force: deletes at once, and the engine's 404 for an absent volume fails the row", async () => {
    const { outcome, calls } = await runExecutor(volumeRemove, { name: 'data' }, { 'modem.dial': () => '' });
    expect(outcome).toEqual({ changed: true, id: 'data', message: 'volume removed' });
    expect(calls).toEqual([{ call: 'modem.dial', args: [{ path: '/volumes/data?', method: 'DELETE', options: { force: false } }] }]);
    const gone = fakeEngine({ 'modem.dial': absent });
    await expect(volumeRemove({ name: 'data' }, contextOf(gone.docker))).rejects.toMatchObject({ statusCode: 404 });
  });

  it('with force: an absent volume (404 on inspect) is reported unchanged, and force reaches the engine', async () => {
    const { outcome, calls } = await runExecutor(
      volumeRemove,
      { name: 'data', force: true },
      { 'volume.inspect': absent, 'modem.dial': () => '' },
    );
    expect(outcome).toEqual({ changed: false, id: 'data', message: 'volume already absent' });
    expect(calls).toEqual([
      { call: 'volume(data).inspect', args: [] },
      { call: 'modem.dial', args: [{ path: '/volumes/data?', method: 'DELETE', options: { force: true } }] },
    ]);
  });

  it('a name is escaped into the Engine path', async () => {
    const engine = fakeEngine({ 'modem.dial': () => '' });
    await volumeRemove({ name: 'a/../b' }, contextOf(engine.docker));
    expect(engine.calls[0].args).toEqual([expect.objectContaining({ path: '/volumes/a%2F..%2Fb?' })]);
  });
});

describe('docker.volume.prune', () => {
  it('hands the filters on as JSON and reports what was deleted and freed', async () => {
    const engine = fakeEngine({ pruneVolumes: () => ({ VolumesDeleted: ['data'], SpaceReclaimed: 4096 }) });
    const outcome = await volumePrune({ filters: { label: ['tmp'] } } as never, contextOf(engine.docker));
    expect(engine.calls).toEqual([{ call: 'pruneVolumes', args: [{ filters: '{"label":["tmp"]}', abortSignal: aSignal }] }]);
    expect(outcome).toEqual({ changed: true, message: '1 volumes deleted', volumes_deleted: ['data'], space_reclaimed: 4096 });
  });
});
