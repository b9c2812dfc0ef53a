import { join } from 'node:path';
import { acceptAgents, hostGrantKeyFiles, listAgents } from '@fleet/deploy';
import { SwarmProcess } from '../harness/swarm-client';
import { swarmHostname, swarmLabels } from '../harness/swarm-protocol';
import { sleep, type Progress } from '../lib/context';
import { startScaleFleet } from '../lib/fleets';
import { HttpClient } from '../lib/http';
import { summarize, type Summary } from '../lib/stats';

/** A stack deploy (README "Stacks") over the scale harness: every host at once, and in waves of 10%. */
export interface StackBenchResult {
  harness: string;
  hosts: number;
  services: number;
  pairs: number;
  /** `PUT /stack/bench` with a new image tag to the end of its job: every host recreates one service, all at once. */
  atOnceMs: Summary;
  /** The same with `rollout: {batch: '10%'}`: ten waves, one after the other. */
  wavesMs: Summary;
  /** From the last deploy's end until every host's heartbeat reported the stack in sync (GET /stack/bench), in ms. */
  reportedInSyncMs: number;
}

const PREFIX = 'stk-';
const STACK = 'bench';

/** Two services; only web's tag changes from one deploy to the next, so each deploy recreates one container per host. */
function compose(tag: number): string {
  return [
    'services:',
    '  web:',
    `    image: bench/web:${tag}`,
    '    command: ["sleep", "3600"]',
    '  worker:',
    '    image: bench/worker:1',
    '    command: ["sleep", "3600"]',
    '    depends_on: [web]',
    '',
  ].join('\n');
}

interface JobState {
  status: string;
  rollout?: { state: string };
}

/** On the scale harness (simulated engines answer at once): what is measured is the stack's own path, gateway to agents. */
export async function runStackBench(opts: { quick: boolean }, progress: Progress): Promise<StackBenchResult> {
  const hosts = opts.quick ? 100 : 1000;
  const pairs = opts.quick ? 2 : 5;
  progress.say(`stacks: NATS + gateway + ${hosts} simulated agents`);
  const fleet = await startScaleFleet('warn', {});
  let swarm: SwarmProcess | undefined;
  try {
    await acceptAgents(
      fleet.state,
      Array.from({ length: hosts }, (_, i) => ({ hostname: swarmHostname(PREFIX, i), labels: swarmLabels(i) })),
    );
    swarm = new SwarmProcess(
      { natsUrl: fleet.nats.url, hostGrantPublicKeyFile: hostGrantKeyFiles(fleet.dir).publicKey, prefix: PREFIX, from: 0, count: hosts },
      join(fleet.dir, 'logs', 'swarm-stacks.log'),
    );
    await swarm.ready(300_000);
    await waitForLive(fleet.state, hosts);
    const http = new HttpClient(fleet.state.url, { authorization: `Bearer ${fleet.state.adminKey}` });
    let tag = 0;
    const deploy = async (rollout?: Record<string, unknown>) => {
      const started = performance.now();
      const body = { compose: compose(++tag), target: 'swarm:sim', ...(rollout ? { rollout } : {}) };
      const res = await http.call('PUT', `/stack/${STACK}`, body, 120_000);
      if (res.status >= 300) throw new Error(`PUT /stack/${STACK} answered ${res.status}: ${res.body.slice(0, 300)}`);
      const job = await jobEnd(http, (JSON.parse(res.body) as { job_id: string }).job_id);
      if (job.status !== 'ok') throw new Error(`deploy ${tag} ended ${job.status}`);
      return performance.now() - started;
    };
    // The first deploy creates both services everywhere; the measured ones recreate one.
    await deploy();
    const atOnce: number[] = [];
    const waves: number[] = [];
    // Interleaved, so the machine's load falls on both alike.
    for (let i = 0; i < pairs; i++) {
      atOnce.push(await deploy());
      waves.push(await deploy({ batch: '10%' }));
    }
    const reportedInSyncMs = await untilAllInSync(http, hosts);
    const atOnceMs = summarize(atOnce);
    const wavesMs = summarize(waves);
    progress.say(
      `stacks: ${hosts} hosts, at once p50 ${atOnceMs.p50} ms, 10 waves p50 ${wavesMs.p50} ms, ` +
        `all reported in sync ${Math.round(reportedInSyncMs)} ms after the last deploy`,
    );
    return {
      harness: 'bench/harness/swarm.ts (real agents) + simulated engines',
      hosts,
      services: 2,
      pairs,
      atOnceMs,
      wavesMs,
      reportedInSyncMs: Math.round(reportedInSyncMs),
    };
  } finally {
    await swarm?.stop().catch(() => undefined);
    await fleet.stop();
  }
}

/** The job once it and its rollout ended (its last progress is stored just after its last row). */
async function jobEnd(http: HttpClient, jobId: string): Promise<JobState> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const res = await http.call('GET', `/job/${jobId}?wait=60`, undefined, 90_000);
    const job = JSON.parse(res.body) as JobState;
    if (!['pending', 'running'].includes(job.status) && job.rollout?.state !== 'running') return job;
    await sleep(20);
  }
  throw new Error(`job ${jobId} did not end`);
}

/** Polls GET /stack/bench until every host reports the current revision in sync (its agents' heartbeats carry it). */
async function untilAllInSync(http: HttpClient, hosts: number): Promise<number> {
  const started = performance.now();
  for (let attempt = 0; attempt < 600; attempt++) {
    const res = await http.call('GET', `/stack/${STACK}`);
    const states = (JSON.parse(res.body) as { hosts: Array<{ state: string }> }).hosts;
    if (states.filter((host) => host.state === 'in_sync').length >= hosts) return performance.now() - started;
    await sleep(250);
  }
  throw new Error(`not every one of ${hosts} hosts reported the stack in sync`);
}

async function waitForLive(state: Parameters<typeof listAgents>[0], count: number): Promise<void> {
  for (let attempt = 0; attempt < 120; attempt++) {
    if ((await listAgents(state)).filter((agent) => agent.live).length >= count) return;
    await sleep(1000);
  }
  throw new Error(`fewer than ${count} simulated agents became live`);
}
