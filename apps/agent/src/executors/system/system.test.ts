import { Readable } from 'node:stream';
import { contextOf, fakeEngine, runExecutor } from '../fake-engine';
import { systemDf } from './df';
import { systemEvents } from './events';
import { systemInfo } from './info';
import { systemPing } from './ping';
import { systemVersion } from './version';

describe('docker.system.info', () => {
  it("reports the engine's info", async () => {
    const { outcome, calls } = await runExecutor(systemInfo, {}, { info: () => ({ Name: 'web-01', Containers: 3 }) });
    expect(outcome).toEqual({ changed: false, info: { Name: 'web-01', Containers: 3 } });
    expect(calls).toEqual([{ call: 'info', args: [] }]);
  });
});

describe('docker.system.version', () => {
  it("reports the engine's version", async () => {
    const { outcome, calls } = await runExecutor(systemVersion, {}, { version: () => ({ Version: '20.10.24', ApiVersion: '1.41' }) });
    expect(outcome).toEqual({ changed: false, version: { Version: '20.10.24', ApiVersion: '1.41' } });
    expect(calls).toEqual([{ call: 'version', args: [] }]);
  });
});

describe('docker.system.ping', () => {
  it("reports the engine's answer as text", async () => {
    const { outcome, calls } = await runExecutor(systemPing, {}, { ping: () => Buffer.from('OK') });
    expect(outcome).toEqual({ changed: false, message: 'OK' });
    expect(calls).toEqual([{ call: 'ping', args: [] }]);
  });
});

describe('docker.system.df', () => {
  it("reports the engine's disk usage", async () => {
    const df = { LayersSize: 1024, Images: [], Containers: [], Volumes: [] };
    const { outcome, calls } = await runExecutor(systemDf, {}, { df: () => df });
    expect(outcome).toEqual({ changed: false, df });
    expect(calls).toEqual([{ call: 'df', args: [] }]);
  });
});

describe('docker.system.events', () => {
  it('hands since, until and the filters as JSON on, relays each event as a docker chunk and counts them', async () => {
    const lines = ['{"Type":"container","Action":"start"}\n', 'not json\n', '{"Type":"network","Action":"connect"}\n'];
    const engine = fakeEngine({ getEvents: () => Readable.from(lines) });
    const emitted: unknown[] = [];
    const ctx = contextOf(engine.docker, { emit: (event, data) => emitted.push([event, data]) });
    const outcome = await systemEvents({ since: '0', until: '10', filters: { type: ['container'] } } as never, ctx);
    expect(engine.calls).toEqual([
      { call: 'getEvents', args: [{ since: '0', until: '10', filters: '{"type":["container"]}', abortSignal: expect.any(AbortSignal) }] },
    ]);
    expect(emitted).toEqual([
      ['docker', { Type: 'container', Action: 'start' }],
      ['docker', { Type: 'network', Action: 'connect' }],
    ]);
    expect(outcome).toEqual({ changed: false, message: '2 events', events_sent: 2 });
  });
});
