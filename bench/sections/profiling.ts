import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type FleetState, restartGateway, startAgent, stopAgent } from '@fleet/deploy';
import type { Progress } from '../lib/context';
import { probeEnv, probeProfile, withoutProbe } from '../lib/probe';
import { summarizeCpuProfile, type ProfileSummary } from './cpuprofile';
import { runLoad, type LoadStep } from './throughput';

export interface ProfileResult {
  rate: number;
  target: string;
  durationSeconds: number;
  load: LoadStep;
  gateway?: ProfileSummary;
  agent?: ProfileSummary;
}

const HOST = 'web-01';
const PATH = `/node/${HOST}/container/docker/system/ping`;

/**
 * Section 5. The gateway and agent web-01 are restarted with the V8 CPU
 * profiler running (bench/harness/probe.cjs through NODE_OPTIONS, so they are
 * otherwise spawned exactly as always), driven at a fixed rate, then asked to
 * write their profiles. Only samples inside the load window count (the
 * profile clock is process.hrtime's).
 */
export async function runProfile(
  state: FleetState,
  opts: { quick: boolean },
  progress: Progress,
  pids: () => Record<string, number>,
): Promise<ProfileResult> {
  const dir = mkdtempSync('/tmp/flb-prof-');
  const rate = 500;
  const durationSeconds = opts.quick ? 3 : 10;
  try {
    Object.assign(state.gatewayEnv, probeEnv(join(dir, 'gateway'), true));
    try {
      await restartGateway(state);
    } finally {
      withoutProbe(state.gatewayEnv);
    }
    await stopAgent(state, HOST);
    Object.assign(state.agentEnv, probeEnv(join(dir, 'agent'), true));
    try {
      await startAgent(state, HOST);
    } finally {
      withoutProbe(state.agentEnv);
    }
    const base = { url: state.url, adminKey: state.adminKey, path: PATH };
    await runLoad({ ...base, rate, connections: 16, durationSeconds: opts.quick ? 1 : 3, pids: {} });
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    const load = await runLoad({ ...base, rate, connections: 16, durationSeconds, pids: pids() });
    const toUs = Number(process.hrtime.bigint() / 1000n);
    progress.say(`  profiled run @ ${rate}/s: achieved ${load.achieved}/s p50 ${load.p50} p99 ${load.p99} ms`);
    const agentPid = state.agents.find((agent) => agent.hostname === HOST)?.agentPid ?? 0;
    const [gatewayFile, agentFile] = await Promise.all([
      probeProfile(state.gateway.pid, join(dir, 'gateway')),
      probeProfile(agentPid, join(dir, 'agent')),
    ]);
    // The fleet gets an unprofiled gateway and agent back.
    await stopAgent(state, HOST);
    await restartGateway(state);
    await startAgent(state, HOST);
    const result: ProfileResult = {
      rate,
      target: PATH,
      durationSeconds,
      load,
      gateway: gatewayFile ? summarizeCpuProfile('gateway', gatewayFile, fromUs, toUs) : undefined,
      agent: agentFile ? summarizeCpuProfile(`agent ${HOST}`, agentFile, fromUs, toUs) : undefined,
    };
    // FLEET_BENCH_KEEP_PROFILES=<dir> keeps the raw .cpuprofile files (open them in Chrome DevTools).
    const keep = process.env.FLEET_BENCH_KEEP_PROFILES;
    if (keep) {
      mkdirSync(keep, { recursive: true });
      if (gatewayFile) copyFileSync(gatewayFile, join(keep, 'gateway.cpuprofile'));
      if (agentFile) copyFileSync(agentFile, join(keep, 'agent.cpuprofile'));
    }
    for (const summary of [result.gateway, result.agent]) {
      if (!summary) continue;
      progress.say(
        `  ${summary.process}: ${summary.busyMs} ms busy of ${summary.windowMs} ms; top: ${summary.top
          .slice(0, 6)
          .map((f) => `${f.name} ${f.selfPercent}%`)
          .join(', ')}`,
      );
      progress.say(
        `    categories: ${summary.categories
          .slice(0, 8)
          .map((c) => `${c.category} ${c.percentOfBusy}%`)
          .join(', ')}`,
      );
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
