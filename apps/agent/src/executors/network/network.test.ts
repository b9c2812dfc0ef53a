import { contextOf, fakeEngine, runExecutor } from '../fake-engine';
import { networkConnect } from './connect';
import { networkCreate } from './create';
import { networkDisconnect } from './disconnect';
import { networkInspect } from './inspect';
import { networkList } from './list';
import { networkPrune } from './prune';
import { networkRemove } from './remove';

const aSignal = expect.any(AbortSignal);

describe('docker.network.list', () => {
  it('hands the filters on as JSON and reports the networks', async () => {
    const engine = fakeEngine({ listNetworks: () => [{ Id: 'n1', Name: 'bridge' }] });
    const outcome = await networkList({ filters: { driver: ['bridge'] } } as never, contextOf(engine.docker));
    expect(engine.calls).toEqual([{ call: 'listNetworks', args: [{ filters: '{"driver":["bridge"]}', abortSignal: aSignal }] }]);
    expect(outcome).toEqual({ changed: false, message: '1 networks', networks: [{ Id: 'n1', Name: 'bridge' }] });
  });
});

describe('docker.network.create', () => {
  it('asks the engine to refuse a duplicate name and reports the new network', async () => {
    const engine = fakeEngine({ createNetwork: () => ({ id: 'n1' }) });
    const outcome = await networkCreate(
      { body: { name: 'backend', driver: 'bridge', internal: true, labels: { app: 'web' } } },
      contextOf(engine.docker),
    );
    expect(engine.calls).toEqual([
      {
        call: 'createNetwork',
        args: [{ Name: 'backend', Driver: 'bridge', Internal: true, Labels: { app: 'web' }, CheckDuplicate: true }],
      },
    ]);
    expect(outcome).toEqual({ changed: true, id: 'n1', message: 'network created' });
  });
});

describe('docker.network.inspect', () => {
  it("reports the engine's inspect under the network's id", async () => {
    const { outcome, calls } = await runExecutor(
      networkInspect,
      { id: 'backend' },
      { 'network.inspect': () => ({ Id: 'n1', Name: 'backend' }) },
    );
    expect(outcome).toEqual({ changed: false, id: 'n1', network: { Id: 'n1', Name: 'backend' } });
    expect(calls).toEqual([{ call: 'network(backend).inspect', args: [] }]);
  });
});

describe('docker.network.remove', () => {
  it('removes the network', async () => {
    const { outcome, calls } = await runExecutor(networkRemove, { id: 'backend' }, { 'network.remove': () => undefined });
    expect(outcome).toEqual({ changed: true, id: 'backend', message: 'network removed' });
    expect(calls).toEqual([{ call: 'network(backend).remove', args: [] }]);
  });
});

describe('docker.network.connect', () => {
  it('connects the container named in the body', async () => {
    const { outcome, calls } = await runExecutor(
      networkConnect,
      { id: 'backend', body: { container: 'web' } },
      { 'network.connect': () => undefined },
    );
    expect(outcome).toEqual({ changed: true, id: 'backend', message: 'container web connected' });
    expect(calls).toEqual([{ call: 'network(backend).connect', args: [{ Container: 'web' }] }]);
  });
});

describe('docker.network.disconnect', () => {
  it('disconnects the container, passing force on', async () => {
    const { outcome, calls } = await runExecutor(
      networkDisconnect,
      { id: 'backend', body: { container: 'web', force: true } },
      { 'network.disconnect': () => undefined },
    );
    expect(outcome).toEqual({ changed: true, id: 'backend', message: 'container web disconnected' });
    expect(calls).toEqual([{ call: 'network(backend).disconnect', args: [{ Container: 'web', Force: true }] }]);
  });
});

describe('docker.network.prune', () => {
  it('hands the filters on as JSON and reports the deleted networks (no bytes to report)', async () => {
    const engine = fakeEngine({ pruneNetworks: () => ({ NetworksDeleted: ['backend'] }) });
    const outcome = await networkPrune({ filters: { until: ['1h'] } } as never, contextOf(engine.docker));
    expect(engine.calls).toEqual([{ call: 'pruneNetworks', args: [{ filters: '{"until":["1h"]}', abortSignal: aSignal }] }]);
    expect(outcome).toEqual({ changed: true, message: '1 networks deleted', networks_deleted: ['backend'] });
  });

  it("nothing to prune (the engine's null) is not changed", async () => {
    const engine = fakeEngine({ pruneNetworks: () => ({ NetworksDeleted: null }) });
    expect(await networkPrune({}, contextOf(engine.docker))).toEqual({
      changed: false,
      message: '0 networks deleted',
      networks_deleted: [],
    });
  });
});
