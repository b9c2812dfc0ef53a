import type { JetStreamManager } from '@nats-io/jetstream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { AuditCapacity } from './capacity';

function streamAt(state: { messages: number; bytes: number }, config = { max_msgs: 1000, max_bytes: 1024 * 1024 }) {
  const stream = { state, config };
  const jsm = { streams: { info: async () => stream } } as unknown as JetStreamManager;
  return { stream, jsm };
}

async function fillRatio(collectors: Registry): Promise<number | undefined> {
  return (await collectors.getSingleMetric('fleet_audit_fill_ratio')?.get())?.values[0]?.value;
}

describe('AuditCapacity', () => {
  it('reports the fill, is full once no entry fits, and has room again when the stream does', async () => {
    const { stream, jsm } = streamAt({ messages: 250, bytes: 1024 });
    const collectors = new Registry();
    const capacity = new AuditCapacity(jsm, pino({ level: 'silent' }), collectors);
    await capacity.check();
    expect(capacity.full).toBe(false);
    expect(await fillRatio(collectors)).toBe(0.25);
    stream.state = { messages: 1000, bytes: 2048 };
    await capacity.check();
    expect(capacity.full).toBe(true);
    expect(await fillRatio(collectors)).toBe(1);
    stream.state = { messages: 10, bytes: 1024 * 1024 - 100 };
    await capacity.check();
    expect(capacity.full).toBe(true);
    stream.state = { messages: 10, bytes: 100 };
    await capacity.check();
    expect(capacity.full).toBe(false);
  });

  it('is full from the first entry the broker refused for room, until the stream shows room', async () => {
    const { jsm } = streamAt({ messages: 10, bytes: 100 });
    const capacity = new AuditCapacity(jsm, pino({ level: 'silent' }), new Registry());
    capacity.refused(false);
    expect(capacity.full).toBe(false);
    capacity.refused(true);
    expect(capacity.full).toBe(true);
    await capacity.check();
    expect(capacity.full).toBe(false);
  });
});
