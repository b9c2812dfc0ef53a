import { RetentionPolicy, type ConsumerConfig, type JetStreamManager } from '@nats-io/jetstream';
import { agentConsumerName, JOB_SHARDS } from '@fleet/contracts/protocol';
import type { NatsConnection } from '@nats-io/transport-node';
import { ConsumerRepair } from './consumer-repair';

/**
 * A broker whose consumers are a map, as nats-server holds them: `restart()` loses them all (they keep their
 * state in memory), and while `recovering` every JetStream request fails, as a restarted server's does.
 */
function broker() {
  const consumers = new Map<string, Partial<ConsumerConfig>>();
  const state = { recovering: false, adds: 0, listings: 0 };
  const ready = async () => {
    if (state.recovering) throw new Error('JetStream not ready');
  };
  const jsm = {
    streams: { info: async () => (await ready(), { config: { retention: RetentionPolicy.Workqueue } }) },
    consumers: {
      list: (stream: string) => ({
        async *[Symbol.asyncIterator]() {
          await ready();
          state.listings++;
          for (const [key, config] of consumers) if (key.startsWith(`${stream}/`)) yield { name: key.split('/')[1], config };
        },
      }),
      info: async (stream: string, name: string) => {
        await ready();
        const config = consumers.get(`${stream}/${name}`);
        if (!config) throw new Error('consumer not found');
        return { config };
      },
      add: async (stream: string, config: Partial<ConsumerConfig>) => {
        await ready();
        state.adds++;
        consumers.set(`${stream}/${config.durable_name}`, config);
      },
      delete: async (stream: string, name: string) => void consumers.delete(`${stream}/${name}`),
      update: async () => undefined,
    },
  } as unknown as JetStreamManager;
  const names = () => [...consumers.values()].map((config) => config.durable_name).sort();
  return { jsm, state, names, restart: () => consumers.clear() };
}

/** A connection whose status events are pushed by the test. */
function connection() {
  const pending: Array<{ type: string }> = [];
  let wake: (() => void) | undefined;
  return {
    nc: {
      status: () => ({
        async *[Symbol.asyncIterator]() {
          for (;;) {
            while (pending.length > 0) yield pending.shift()!;
            await new Promise<void>((resolve) => (wake = resolve));
          }
        },
      }),
    } as unknown as Pick<NatsConnection, 'status'>,
    emit: (type: string) => {
      pending.push({ type });
      wake?.();
    },
  };
}

const hosts = ['web-01', 'web-02', 'db-01'];
const settled = () => new Promise((resolve) => setTimeout(resolve, 20));

/** Resolves once `done()` holds, checking every 5 ms for at most 2 s. */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done() && waited < 2000; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('ConsumerRepair', () => {
  it('makes every accepted host its consumer, in memory, at the start', async () => {
    const { jsm, names } = broker();
    await new ConsumerRepair(jsm, () => hosts, undefined, [1]).atStart(1000);
    expect(names()).toEqual(hosts.map(agentConsumerName).sort());
  });

  it('makes the consumers a restarted broker lost again after the reconnect, trying until JetStream has recovered', async () => {
    const { jsm, state, names, restart } = broker();
    const { nc, emit } = connection();
    const repair = new ConsumerRepair(jsm, () => hosts, undefined, [5]);
    await repair.atStart(1000);
    void repair.follow(nc);
    restart();
    state.recovering = true;
    emit('disconnect');
    emit('reconnect');
    await settled();
    expect(names()).toEqual([]);
    state.recovering = false;
    await until(() => names().length === hosts.length);
    expect(names()).toEqual(hosts.map(agentConsumerName).sort());
    repair.stop();
  });

  it('leaves consumers that are already right alone after a reconnect (a cluster node failed over)', async () => {
    const { jsm, state } = broker();
    const { nc, emit } = connection();
    const repair = new ConsumerRepair(jsm, () => hosts, undefined, [1]);
    await repair.atStart(1000);
    void repair.follow(nc);
    const listingsBefore = state.listings;
    emit('reconnect');
    await until(() => state.listings === listingsBefore + JOB_SHARDS);
    await settled();
    expect(state.listings).toBe(listingsBefore + JOB_SHARDS);
    expect(state.adds).toBe(hosts.length);
    repair.stop();
  });

  it('does not hold the start longer than it is given while the broker cannot answer, and repairs behind it', async () => {
    const { jsm, state, names } = broker();
    state.recovering = true;
    const repair = new ConsumerRepair(jsm, () => hosts, undefined, [5]);
    await repair.atStart(30);
    expect(names()).toEqual([]);
    state.recovering = false;
    await repair.request();
    expect(names()).toEqual(hosts.map(agentConsumerName).sort());
    repair.stop();
  });
});
