import { TurnGate } from './turn-gate';

describe('TurnGate', () => {
  it('lets the calls of one turn through in one microtask run, before a microtask the first of them queues', async () => {
    const gate = new TurnGate();
    const order: string[] = [];
    // As the NATS client does: the first publish queues the socket write as a microtask.
    const call = async (name: string) => {
      await gate.next();
      order.push(name);
      if (name === 'first') queueMicrotask(() => order.push('write'));
    };
    await Promise.all([call('first'), call('second'), call('third')]);
    expect(order).toEqual(['first', 'second', 'third', 'write']);
  });

  it('opens after the microtasks queued meanwhile, not in the same microtask run', async () => {
    const gate = new TurnGate();
    const order: string[] = [];
    const passed = gate.next().then(() => order.push('gate'));
    void Promise.resolve().then(() => order.push('microtask queued after it'));
    await passed;
    expect(order).toEqual(['microtask queued after it', 'gate']);
  });

  it('holds a call made after it opened until the next turn', async () => {
    const gate = new TurnGate();
    const first = gate.next();
    await first;
    const second = gate.next();
    expect(second).not.toBe(first);
    await expect(second).resolves.toBeUndefined();
  });
});
