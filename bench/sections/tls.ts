import { readFileSync } from 'node:fs';
import type { Progress } from '../lib/context';
import { startRealFleet, type RealFleet } from '../lib/fleets';
import { HttpClient, type HttpResult } from '../lib/http';
import { sampleProc } from '../lib/proc';
import { round, summarize, type Summary } from '../lib/stats';

export interface TlsSide {
  /** Keep-alive calls, paired with the other side's. */
  keepAlive: Summary;
  /** A new connection per call: TCP, and for TLS the handshake too. */
  newConnection: Summary;
  /** CPU per job, microseconds, by process (gateway, nats, agent) and in total. */
  cpuPerJobUs: Record<string, number>;
}

export interface TlsCostResult {
  operation: string;
  pairs: number;
  cpuCalls: number;
  plain: TlsSide;
  tls: TlsSide;
  /** TLS minus plain of the same interleaved pair, then the percentile of those differences (keep-alive). */
  addedP50: number;
  addedP99: number;
  /** Added by a new connection's handshake: the difference of the new-connection medians. */
  addedNewConnectionP50: number;
  addedCpuPerJobUs: number;
}

const HOST = 'web-01';
const PATH = `/node/${HOST}/container/docker?all=true`;

interface BenchFleet extends RealFleet {
  keepAlive: HttpClient;
  fresh: HttpClient;
}

/**
 * Section 8. Two fleets side by side in one run, alike but for TLS: one as the e2e harness runs it (plain HTTP
 * on loopback, NATS without TLS), one as `fleet up` runs it (gateway HTTPS, NATS TLS verified with the fleet's
 * CA). One engine and agent each. The same job (a container list on web-01: HTTP → gateway → NATS → agent →
 * engine and back) goes to both, interleaved in alternating order, so the shared box's load hits both alike.
 */
export async function runTlsCost(opts: { quick: boolean }, progress: Progress): Promise<TlsCostResult> {
  const sizes = opts.quick ? { pairs: 60, fresh: 20, cpuBlocks: 2, cpuCalls: 50 } : { pairs: 400, fresh: 100, cpuBlocks: 4, cpuCalls: 200 };
  progress.say('tls: two fleets, one plain, one with HTTPS and NATS TLS (one engine and agent each)');
  const [plain, tls] = await Promise.all([startBenchFleet(false), startBenchFleet(true)]);
  try {
    for (const fleet of [plain, tls]) for (let i = 0; i < 20; i++) await expectOk(await fleet.keepAlive.call('GET', PATH));

    progress.say(`tls: ${sizes.pairs} interleaved keep-alive pairs`);
    const samples = { plain: [] as number[], tls: [] as number[] };
    const added: number[] = [];
    for (let i = 0; i < sizes.pairs; i++) {
      const order = i % 2 === 0 ? [plain, tls] : [tls, plain];
      const ms = new Map<BenchFleet, number>();
      for (const fleet of order) ms.set(fleet, (await expectOk(await fleet.keepAlive.call('GET', PATH))).ms);
      samples.plain.push(ms.get(plain)!);
      samples.tls.push(ms.get(tls)!);
      added.push(ms.get(tls)! - ms.get(plain)!);
    }

    progress.say(`tls: ${sizes.fresh} interleaved pairs on a new connection each`);
    const fresh = { plain: [] as number[], tls: [] as number[] };
    for (let i = 0; i < sizes.fresh; i++) {
      for (const fleet of i % 2 === 0 ? [plain, tls] : [tls, plain]) {
        (fleet === plain ? fresh.plain : fresh.tls).push((await expectOk(await fleet.fresh.call('GET', PATH))).ms);
      }
    }

    progress.say(`tls: CPU per job, ${sizes.cpuBlocks} alternating blocks of ${sizes.cpuCalls} calls per side`);
    const cpu = { plain: new Map<string, number>(), tls: new Map<string, number>() };
    for (let block = 0; block < sizes.cpuBlocks; block++) {
      for (const fleet of block % 2 === 0 ? [plain, tls] : [tls, plain]) {
        const spent = await cpuOfBlock(fleet, sizes.cpuCalls);
        const total = fleet === plain ? cpu.plain : cpu.tls;
        for (const [name, seconds] of Object.entries(spent)) total.set(name, (total.get(name) ?? 0) + seconds);
      }
    }
    const jobs = sizes.cpuBlocks * sizes.cpuCalls;
    const plainSide = side(samples.plain, fresh.plain, cpu.plain, jobs);
    const tlsSide = side(samples.tls, fresh.tls, cpu.tls, jobs);
    const sortedAdded = summarize(added);
    return {
      operation: `GET ${PATH}`,
      pairs: sizes.pairs,
      cpuCalls: jobs,
      plain: plainSide,
      tls: tlsSide,
      addedP50: sortedAdded.p50,
      addedP99: sortedAdded.p99,
      addedNewConnectionP50: round(tlsSide.newConnection.p50 - plainSide.newConnection.p50),
      addedCpuPerJobUs: round(tlsSide.cpuPerJobUs.total - plainSide.cpuPerJobUs.total, 1),
    };
  } finally {
    await Promise.all([plain, tls].map(stopBenchFleet));
  }
}

function side(keepAlive: number[], fresh: number[], cpuSeconds: Map<string, number>, jobs: number): TlsSide {
  const perJob = Object.fromEntries([...cpuSeconds].map(([name, seconds]) => [name, round((seconds / jobs) * 1e6, 1)]));
  const total = round(([...cpuSeconds.values()].reduce((sum, seconds) => sum + seconds, 0) / jobs) * 1e6, 1);
  return { keepAlive: summarize(keepAlive), newConnection: summarize(fresh), cpuPerJobUs: { ...perJob, total } };
}

/** CPU seconds the fleet's gateway, NATS and agent spent on `calls` sequential keep-alive jobs. */
async function cpuOfBlock(fleet: BenchFleet, calls: number): Promise<Record<string, number>> {
  const pids = { gateway: fleet.state.gateway.pid, nats: fleet.state.nats!.pid, agent: fleet.state.agents[0].agentPid };
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, sampleProc(pid)?.cpuSeconds ?? NaN]));
  for (let i = 0; i < calls; i++) await expectOk(await fleet.keepAlive.call('GET', PATH));
  return Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, (sampleProc(pid)?.cpuSeconds ?? NaN) - before[name]]));
}

async function startBenchFleet(tls: boolean): Promise<BenchFleet> {
  const fleet = await startRealFleet('warn', { agents: 1, tls });
  const ca = fleet.state.tls ? readFileSync(fleet.state.tls.caFile, 'utf8') : undefined;
  const headers = { authorization: `Bearer ${fleet.state.adminKey}` };
  return {
    ...fleet,
    keepAlive: new HttpClient(fleet.state.url, headers, 1, { ca }),
    fresh: new HttpClient(fleet.state.url, headers, 1, { ca, keepAlive: false }),
  };
}

async function stopBenchFleet(fleet: BenchFleet): Promise<void> {
  fleet.keepAlive.close();
  fleet.fresh.close();
  await fleet.stop();
}

async function expectOk(result: HttpResult): Promise<HttpResult> {
  if (result.status !== 200) throw new Error(`GET ${PATH} answered ${result.status}: ${result.body.slice(0, 200)}`);
  return result;
}
