import { DeliverPolicy, RetentionPolicy, type ConsumerConfig, type ConsumerInfo, type JetStreamManager } from '@nats-io/jetstream';
import { agentDeliverSubject } from '@fleet/contracts/nats-permissions';
import { agentDeliverGroup, jobSubject } from '@fleet/contracts/protocol';
import { ensureAgentConsumer } from './consumers';

/** The consumer calls of a JetStream manager, recorded, around one existing consumer. */
function managerWith(existing: Partial<ConsumerConfig> | undefined, retention: RetentionPolicy = RetentionPolicy.Workqueue) {
  const calls: string[] = [];
  const updates: Partial<ConsumerConfig>[] = [];
  const added: Partial<ConsumerConfig>[] = [];
  const jsm = {
    streams: { info: async () => ({ config: { retention } }) },
    consumers: {
      info: async () => {
        if (!existing) throw new Error('consumer not found');
        return { config: existing } as ConsumerInfo;
      },
      update: async (_stream: string, _name: string, config: Partial<ConsumerConfig>) => {
        calls.push('update');
        updates.push(config);
      },
      delete: async () => void calls.push('delete'),
      add: async (_stream: string, config: Partial<ConsumerConfig>) => {
        calls.push('add');
        added.push(config);
      },
    },
  } as unknown as JetStreamManager;
  return { jsm, calls, updates, added };
}

const ofWeb01 = {
  deliver_subject: agentDeliverSubject('web-01'),
  deliver_group: agentDeliverGroup('web-01'),
  filter_subject: jobSubject('web-01'),
  mem_storage: true,
};

describe('ensureAgentConsumer', () => {
  it("updates an existing host consumer's ack_wait in place, keeping the jobs it holds", async () => {
    const { jsm, calls, updates } = managerWith({ ...ofWeb01, ack_wait: 30_000_000_000 });
    await ensureAgentConsumer(jsm, 'web-01');
    expect(calls).toEqual(['update']);
    expect(updates).toEqual([{ ack_wait: 10_000_000_000 }]);
  });

  it('leaves a consumer that is already right alone', async () => {
    const { jsm, calls } = managerWith({ ...ofWeb01, ack_wait: 10_000_000_000 });
    await ensureAgentConsumer(jsm, 'web-01');
    expect(calls).toEqual([]);
  });

  it('replaces a work-queue consumer that keeps its state on file by one that keeps it in memory, from the jobs the queue holds', async () => {
    const { jsm, calls, added } = managerWith({ ...ofWeb01, mem_storage: undefined, ack_wait: 10_000_000_000 });
    await ensureAgentConsumer(jsm, 'web-01');
    expect(calls).toEqual(['delete', 'add']);
    expect(added).toEqual([expect.objectContaining({ ...ofWeb01, mem_storage: true, deliver_policy: DeliverPolicy.All })]);
  });

  it('keeps the state of a consumer on a limits stream on file: the stream alone cannot tell its acked jobs apart', async () => {
    const { jsm, added } = managerWith(undefined, RetentionPolicy.Limits);
    await ensureAgentConsumer(jsm, 'web-01');
    expect(added).toEqual([expect.objectContaining({ mem_storage: false, deliver_policy: DeliverPolicy.New })]);
  });

  it('replaces a consumer that delivers anywhere else, from the jobs its work queue still holds', async () => {
    const { jsm, calls, added } = managerWith({ ...ofWeb01, deliver_subject: agentDeliverSubject('web-02'), ack_wait: 10_000_000_000 });
    await ensureAgentConsumer(jsm, 'web-01');
    expect(calls).toEqual(['delete', 'add']);
    expect(added).toEqual([expect.objectContaining({ ...ofWeb01, deliver_policy: DeliverPolicy.All })]);
  });
});
