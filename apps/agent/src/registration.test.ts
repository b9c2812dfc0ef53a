import type { KV } from '@nats-io/kv';
import type Docker from 'dockerode';
import pino from 'pino';
import type { AgentRecord } from '@fleet/contracts/protocol';
import { ENGINE_PROBE_TIMEOUT_MS, Registration } from './registration';

const IDENTITY = { hostname: 'web-01', labels: { role: 'web' }, agentVersion: '0.1.0', build: 'b1' };
const TIMING = { checkMs: 5_000, refreshMs: 30_000 };

/** A registration on a recording bucket and an engine that is up until `engine.down` is set. */
function registration() {
  const writes: AgentRecord[] = [];
  const deletes: string[] = [];
  const agents = {
    put: async (_key: string, value: string) => void writes.push(JSON.parse(value) as AgentRecord),
    delete: async (key: string) => void deletes.push(key),
  } as unknown as KV;
  const engine = { down: false };
  const docker = {
    version: async () => {
      if (engine.down) throw Object.assign(new Error('connect ENOENT /var/run/docker.sock'), { code: 'ENOENT' });
      return { Version: '20.10.24' };
    },
  } as unknown as Docker;
  const registered = new Registration(agents, docker, IDENTITY, TIMING, pino({ level: 'silent' }));
  return { registered, writes, deletes, engine };
}

let now = Date.parse('2026-12-07T12:00:00.000Z');
beforeEach(() => jest.spyOn(Date, 'now').mockImplementation(() => now));
afterEach(() => jest.restoreAllMocks());

describe('Registration', () => {
  it('writes the record when it starts, then not again while nothing changed and no refresh is due', async () => {
    const { registered, writes } = registration();
    await registered.start();
    for (let check = 0; check < 4; check++) {
      now += TIMING.checkMs;
      await registered.checkNow();
    }
    await registered.stop();
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatchObject({ hostname: 'web-01', agent_version: '0.1.0', build: 'b1', engine: { healthy: true } });
  });

  it('writes a changed record at the next check: the engine going down and coming back', async () => {
    const { registered, writes, engine } = registration();
    await registered.start();
    engine.down = true;
    await registered.checkNow();
    engine.down = false;
    await registered.checkNow();
    await registered.stop();
    expect(writes.map((record) => record.engine.healthy)).toEqual([true, false, true]);
  });

  it('refreshes an unchanged record between 80% and 100% of the refresh interval after the last write', async () => {
    jest.spyOn(Math, 'random').mockReturnValue(0.999);
    const { registered, writes } = registration();
    await registered.start();
    now += TIMING.refreshMs * 0.8 - 100;
    await registered.checkNow();
    expect(writes).toHaveLength(1);
    now += 200;
    await registered.checkNow();
    expect(writes).toHaveLength(2);
    now += TIMING.refreshMs;
    await registered.checkNow();
    await registered.stop();
    expect(writes).toHaveLength(3);
  });

  it("carries a provider's fields and writes them when they change; never lets them replace its own", async () => {
    const { registered, writes } = registration();
    const provided: Partial<AgentRecord> & Record<string, unknown> = { probe: ['web'], hostname: 'db-01' };
    registered.provide(() => provided);
    await registered.start();
    await registered.checkNow();
    provided.probe = ['web', 'cache'];
    await registered.checkNow();
    await registered.stop();
    expect(writes).toEqual([
      expect.objectContaining({ hostname: 'web-01', probe: ['web'] }),
      expect.objectContaining({ hostname: 'web-01', probe: ['web', 'cache'] }),
    ]);
  });

  it('reports an engine that does not answer as unhealthy after the probe timeout, and keeps heartbeating', async () => {
    jest.useFakeTimers({ doNotFake: ['Date'] });
    try {
      const writes: AgentRecord[] = [];
      const agents = { put: async (_key: string, value: string) => void writes.push(JSON.parse(value) as AgentRecord) } as unknown as KV;
      const hung = { version: () => new Promise(() => undefined) } as unknown as Docker;
      const started = new Registration(agents, hung, IDENTITY, TIMING, pino({ level: 'silent' })).start();
      await jest.advanceTimersByTimeAsync(ENGINE_PROBE_TIMEOUT_MS);
      await started;
      expect(writes).toEqual([expect.objectContaining({ engine: { healthy: false, error: 'docker engine did not answer within 10s' } })]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('writes again at once through a new login (rotation), and deletes its record on a clean stop', async () => {
    const { registered, writes, deletes } = registration();
    await registered.start();
    registered.useBucket({
      put: async (_key: string, value: string) => void writes.push(JSON.parse(value) as AgentRecord),
      delete: async (key: string) => void deletes.push(`new login: ${key}`),
    } as unknown as KV);
    await registered.checkNow();
    await registered.stop();
    expect(writes).toHaveLength(2);
    expect(deletes).toEqual(['new login: web-01']);
  });
});
