/**
 * Stand-alone comparison of job-stream layouts on nats-server 2.9.10 (ARCHITECTURE.md "Dispatch at scale"),
 * no fleet code involved: N durable push consumers, each filtered to its own subject (`d.s<shard>.h<i>`),
 * spread over S streams; each round publishes one message per consumer (with a msgID, as dispatch does)
 * and every consumer acks its own. Prints the broker's CPU per message delivered and acked.
 *
 *   node --import tsx bench/dispatch-layouts.ts <layout> [consumers=1000] [rounds=5]
 *   layout: limits-16 | limits-256 | workqueue-16 | workqueue-16-memstate
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNats, stopNats } from '@fleet/deploy';
import { sampleProc } from './lib/proc';

interface Layout {
  shards: number;
  retention: RetentionPolicy;
  memState: boolean;
}

const LAYOUTS: Record<string, Layout> = {
  'limits-16': { shards: 16, retention: RetentionPolicy.Limits, memState: false },
  'limits-256': { shards: 256, retention: RetentionPolicy.Limits, memState: false },
  'workqueue-16': { shards: 16, retention: RetentionPolicy.Workqueue, memState: false },
  'workqueue-16-memstate': { shards: 16, retention: RetentionPolicy.Workqueue, memState: true },
};

/** Consumers' subscriptions share this many connections (the bench measures the broker, not the clients). */
const RECEIVER_CONNECTIONS = 8;

async function main(): Promise<void> {
  const name = process.argv[2] ?? 'limits-16';
  const layout = LAYOUTS[name];
  if (!layout) throw new Error(`layout is one of ${Object.keys(LAYOUTS).join(', ')}`);
  const [consumers = 1000, rounds = 5] = process.argv.slice(3, 5).map(Number);
  const dir = mkdtempSync('/tmp/flb-layouts-');
  const nats = await startNats({ dir: join(dir, 'nats'), logFile: join(dir, 'nats.log'), detached: false });
  const conns: NatsConnection[] = [];
  try {
    const admin = await connect({ servers: nats.url });
    conns.push(admin);
    const jsm = await jetstreamManager(admin);
    for (let shard = 0; shard < layout.shards; shard++) {
      await jsm.streams.add({ name: `D_${shard}`, subjects: [`d.s${shard}.*`], retention: layout.retention, duplicate_window: 120e9 });
    }
    const receivers = await Promise.all(Array.from({ length: RECEIVER_CONNECTIONS }, () => connect({ servers: nats.url })));
    conns.push(...receivers);
    let acked = 0;
    for (let i = 0; i < consumers; i++) {
      const shard = i % layout.shards;
      await jsm.consumers.add(`D_${shard}`, {
        durable_name: `c${i}`,
        filter_subject: `d.s${shard}.h${i}`,
        deliver_subject: `deliver.c${i}`,
        deliver_group: `deliver.c${i}`,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: layout.retention === RetentionPolicy.Workqueue ? DeliverPolicy.All : DeliverPolicy.New,
        max_ack_pending: 1024,
        mem_storage: layout.memState,
      });
      const nc = receivers[i % RECEIVER_CONNECTIONS];
      // The reply subject is the ack subject; an empty reply is an ack.
      nc.subscribe(`deliver.c${i}`, {
        queue: `deliver.c${i}`,
        callback: (_err, msg) => {
          msg.respond();
          acked++;
        },
      });
    }
    const js = jetstream(admin);
    const perMessageUs: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const before = sampleProc(nats.pid)?.cpuSeconds ?? NaN;
      const t0 = performance.now();
      const target = acked + consumers;
      await Promise.all(
        Array.from({ length: consumers }, (_, i) => js.publish(`d.s${i % layout.shards}.h${i}`, `${round}`, { msgID: `${round}.${i}` })),
      );
      while (acked < target) await new Promise((resolve) => setTimeout(resolve, 5));
      const ms = performance.now() - t0;
      // Acks are processed after delivery: let them land before reading the broker's clock.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const us = (((sampleProc(nats.pid)?.cpuSeconds ?? NaN) - before) * 1e6) / consumers;
      perMessageUs.push(us);
      process.stdout.write(`${name} ${consumers} round ${round}: all acked in ${Math.round(ms)} ms, broker ${Math.round(us)} µs/message\n`);
    }
    const steady = perMessageUs.slice(1).sort((a, b) => a - b);
    process.stdout.write(`RESULT ${name} consumers=${consumers} broker_us_per_message_median=${Math.round(steady[steady.length >> 1])}\n`);
  } finally {
    for (const nc of conns) await nc.close().catch(() => undefined);
    await stopNats(nats);
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
