import { join } from 'node:path';
import { acceptAgents, hostGrantKeyFiles, listAgents } from '@fleet/deploy';
import { SwarmProcess } from '../harness/swarm-client';
import { swarmHostname, swarmLabels } from '../harness/swarm-protocol';
import { sleep, type Progress } from '../lib/context';
import { startScaleFleet } from '../lib/fleets';
import { HttpClient } from '../lib/http';
import { round, summarize, type Summary } from '../lib/stats';

/** What waves cost (README "Rollouts"): the same restart on every host at once, and in waves of 10%. */
export interface RolloutBenchResult {
  harness: string;
  hosts: number;
  waves: number;
  pairs: number;
  /** `POST /node/_all/container/docker/app-0/restart`: one wave of every host. */
  plainMs: Summary;
  /** The same with `batch=10%`: ten waves, one after the other. */
  rolloutMs: Summary;
  /** (rollout p50 − plain p50) / waves: what one more wave adds (its dispatch, collection and stored progress). */
  overheadPerWaveMs: number;
}

const PREFIX = 'wave-';

/** On the scale harness (simulated engines answer at once), so what is measured is the rollout's own cost. */
export async function runRolloutBench(opts: { quick: boolean }, progress: Progress): Promise<RolloutBenchResult> {
  const hosts = opts.quick ? 100 : 1000;
  const pairs = opts.quick ? 3 : 7;
  progress.say(`rollout: NATS + gateway + ${hosts} simulated agents`);
  const fleet = await startScaleFleet('warn', {});
  let swarm: SwarmProcess | undefined;
  try {
    await acceptAgents(
      fleet.state,
      Array.from({ length: hosts }, (_, i) => ({ hostname: swarmHostname(PREFIX, i), labels: swarmLabels(i) })),
    );
    swarm = new SwarmProcess(
      {
        natsUrl: fleet.nats.url,
        hostGrantPublicKeyFile: hostGrantKeyFiles(fleet.dir).publicKey,
        prefix: PREFIX,
        from: 0,
        count: hosts,
      },
      join(fleet.dir, 'logs', 'swarm-rollout.log'),
    );
    await swarm.ready(300_000);
    await waitForLive(fleet.state, hosts);
    const http = new HttpClient(fleet.state.url, { authorization: `Bearer ${fleet.state.adminKey}` });
    const restart = async (query: string) => {
      const res = await http.call('POST', `/node/_all/container/docker/app-0/restart?timeout=60${query}`, undefined, 120_000);
      if (res.status !== 202) throw new Error(`restart${query} answered ${res.status}: ${res.body.slice(0, 300)}`);
      return res.ms;
    };
    await restart('');
    const plain: number[] = [];
    const waves: number[] = [];
    // Interleaved, so the machine's load falls on both alike.
    for (let i = 0; i < pairs; i++) {
      plain.push(await restart(''));
      waves.push(await restart('&batch=10%25'));
    }
    const plainMs = summarize(plain);
    const rolloutMs = summarize(waves);
    const overheadPerWaveMs = round((rolloutMs.p50 - plainMs.p50) / 10);
    progress.say(
      `rollout: ${hosts} hosts, plain p50 ${plainMs.p50} ms, 10 waves p50 ${rolloutMs.p50} ms: ${overheadPerWaveMs} ms per wave`,
    );
    return {
      harness: 'bench/harness/swarm.ts (real agents) + simulated engines',
      hosts,
      waves: 10,
      pairs,
      plainMs,
      rolloutMs,
      overheadPerWaveMs,
    };
  } finally {
    await swarm?.stop().catch(() => undefined);
    await fleet.stop();
  }
}

async function waitForLive(state: Parameters<typeof listAgents>[0], count: number): Promise<void> {
  for (let attempt = 0; attempt < 120; attempt++) {
    if ((await listAgents(state)).filter((agent) => agent.live).length >= count) return;
    await sleep(1000);
  }
  throw new Error(`fewer than ${count} simulated agents became live`);
}
