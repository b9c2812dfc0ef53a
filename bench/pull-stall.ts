/**
 * Stand-alone reproduction of the fan-out tail found by `npm run bench`
 * (BENCHMARKS.md, "Findings"): N durable consumers, each filtered to its own
 * subject on one stream (the FLEET_JOBS layout), consumed with the
 * @nats-io/jetstream client's consume(), one message per subject per round.
 * With pull consumers (what the agent used first), against nats-server 2.9.10
 * some deliveries wait exactly one pull expiry (or one idle heartbeat); with
 * push consumers (what the agent uses now) they do not. No fleet code involved.
 *
 *   node --import tsx bench/pull-stall.ts [consumers=200] [rounds=30] [expiresMs=5000] [pull|push]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNats, stopNats } from '@fleet/deploy';

async function main(): Promise<void> {
  const [consumers = 200, rounds = 30, expires = 5000] = process.argv.slice(2, 5).map(Number);
  const push = process.argv[5] === 'push';
  const dir = mkdtempSync('/tmp/flb-stall-');
  const nats = await startNats({ dir: join(dir, 'nats'), logFile: join(dir, 'nats.log'), detached: false });
  const conns: NatsConnection[] = [];
  let stalled = 0;
  try {
    const admin = await connect({ servers: nats.url });
    conns.push(admin);
    const jsm = await jetstreamManager(admin);
    await jsm.streams.add({ name: 'STALL', subjects: ['stall.*'] });
    const received = new Map<string, number>();
    for (let i = 0; i < consumers; i++) {
      const nc = await connect({ servers: nats.url });
      conns.push(nc);
      const config = {
        durable_name: `c${i}`,
        filter_subject: `stall.h${i}`,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.New,
        max_ack_pending: 1024,
      };
      await jsm.consumers.add(
        'STALL',
        push ? { ...config, deliver_subject: `deliver.c${i}`, idle_heartbeat: (expires / 2) * 1_000_000 } : config,
      );
      const api = jetstream(nc).consumers;
      const messages = push
        ? await (await api.getPushConsumer('STALL', `c${i}`)).consume()
        : await (await api.get('STALL', `c${i}`)).consume({ max_messages: 64, expires });
      void (async () => {
        for await (const msg of messages) {
          received.set(msg.string(), performance.now());
          msg.ack();
        }
      })();
    }
    const js = jetstream(admin);
    for (let round = 0; round < rounds; round++) {
      const t0 = performance.now();
      await Promise.all(Array.from({ length: consumers }, (_, i) => js.publish(`stall.h${i}`, `${round}.${i}`)));
      const giveUp = t0 + 3 * expires + 5000;
      while (performance.now() < giveUp && !Array.from({ length: consumers }, (_, i) => received.has(`${round}.${i}`)).every(Boolean)) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const times = Array.from({ length: consumers }, (_, i) => (received.get(`${round}.${i}`) ?? Infinity) - t0);
      const late = times.filter((ms) => ms > 1000).length;
      if (late) stalled++;
      process.stdout.write(
        `round ${round}: slowest delivery ${Math.round(Math.max(...times))} ms${late ? `, ${late} consumer(s) over 1 s` : ''}\n`,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    process.stdout.write(
      `${stalled} of ${rounds} rounds had a delivery over 1 s (${push ? 'push' : `pull, expiry ${expires} ms`}, idle heartbeat ` +
        `${expires / 2} ms)\n`,
    );
  } finally {
    for (const nc of conns) await nc.close().catch(() => undefined);
    await stopNats(nats);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
