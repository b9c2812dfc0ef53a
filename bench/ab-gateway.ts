/**
 * The gateway's CPU per job on two builds, measured in turns on the same machine: this checkout and `--other`, another
 * checkout of the repository, built (`npm ci && npm run build` there; `git worktree add` makes one of an older commit).
 *
 *   node --import tsx bench/ab-gateway.ts --other=/path/to/checkout [--pairs=3] [--rounds=3]
 *
 * Two bench runs made at different times do not compare on a shared box: what else runs there moves every process's CPU
 * per job, dockerd's and the load generator's too, whose code did not change. Here each pair starts a fleet of one build,
 * then of the other (each its own `dist/` and bench code, through that checkout's bench/lib/fleets.ts and
 * bench/sections/throughput.ts), and drives `GET /node/web-01/container/docker/system/ping` open-loop (32 connections,
 * the throughput section's ceiling) and at a fixed rate, `--rounds` times each; the medians over all pairs are compared.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '@fleet/deploy';
import { summarize } from './lib/stats';

const FIXED_RATE = 800;
const SECONDS = 5;
const MARK = 'AB_RESULT ';

interface Round {
  open: { jobsPerSecond: number; gatewayUs: number; natsUs: number };
  fixed: { jobsPerSecond: number; gatewayUs: number; natsUs: number; p99: number };
}

/** The measuring script, run by each checkout's own tsx: it imports only that checkout's bench code. */
function measuringScript(root: string, rounds: number): string {
  return `
import { startRealFleet } from ${JSON.stringify(join(root, 'bench/lib/fleets.ts'))};
import { runLoad } from ${JSON.stringify(join(root, 'bench/sections/throughput.ts'))};
const fleet = await startRealFleet('info');
const { state } = fleet;
try {
  const base = { url: state.url, adminKey: state.adminKey, path: '/node/web-01/container/docker/system/ping' };
  const pids = () => ({ gateway: state.gateway.pid, nats: state.nats.pid });
  const cost = (step) => ({ jobsPerSecond: step.achieved, gatewayUs: step.cpuUsPerJob.gateway, natsUs: step.cpuUsPerJob.nats });
  // Long enough for the JIT: a first round right after the start costs far more per job than the next.
  await runLoad({ ...base, rate: 500, connections: 16, durationSeconds: 8, pids: {} });
  for (let i = 0; i < ${rounds}; i++) {
    const open = await runLoad({ ...base, connections: 32, durationSeconds: ${SECONDS}, pids: pids() });
    const fixed = await runLoad({ ...base, rate: ${FIXED_RATE}, connections: 32, durationSeconds: ${SECONDS}, pids: pids() });
    console.log(${JSON.stringify(MARK)} + JSON.stringify({ open: cost(open), fixed: { ...cost(fixed), p99: fixed.p99 } }));
  }
} finally {
  await fleet.stop();
}
process.exit(0);
`;
}

/** One fleet of the build in `root`, measured `rounds` times. */
function measure(root: string, rounds: number): Promise<Round[]> {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-ab-'));
  const script = join(dir, 'measure.mts');
  writeFileSync(script, measuringScript(root, rounds));
  return new Promise<Round[]>((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', fail);
    child.on('exit', (code) => {
      rmSync(dir, { recursive: true, force: true });
      const lines = out.split('\n').filter((line) => line.startsWith(MARK));
      if (code !== 0 || lines.length === 0) fail(new Error(`measuring ${root} exited ${code}:\n${out}`));
      else done(lines.map((line) => JSON.parse(line.slice(MARK.length)) as Round));
    });
  });
}

function option(name: string, fallback?: string): string {
  const arg = process.argv.find((each) => each.startsWith(`--${name}=`));
  const value = arg?.slice(name.length + 3) ?? fallback;
  if (value === undefined) throw new Error(`usage: node --import tsx bench/ab-gateway.ts --other=DIR [--pairs=3] [--rounds=3]`);
  return value;
}

function summary(name: string, rounds: Round[]): string {
  const of = (pick: (round: Round) => number) => summarize(rounds.map(pick)).p50;
  return (
    `${name}: open ${of((r) => r.open.jobsPerSecond)} jobs/s, gateway ${of((r) => r.open.gatewayUs)} µs/job, ` +
    `nats ${of((r) => r.open.natsUs)} µs/job | @${FIXED_RATE}/s gateway ${of((r) => r.fixed.gatewayUs)} µs/job, ` +
    `nats ${of((r) => r.fixed.natsUs)} µs/job, p99 ${of((r) => r.fixed.p99)} ms (medians of ${rounds.length})`
  );
}

async function main(): Promise<void> {
  const builds = { this: REPO_ROOT, other: resolve(option('other')) };
  const pairs = Number(option('pairs', '3'));
  const rounds = Number(option('rounds', '3'));
  const results: Record<keyof typeof builds, Round[]> = { this: [], other: [] };
  for (let pair = 0; pair < pairs; pair++) {
    for (const side of ['other', 'this'] as const) {
      const measured = await measure(builds[side], rounds);
      results[side].push(...measured);
      process.stderr.write(`pair ${pair + 1}/${pairs} ${side}: gateway ${measured.map((r) => r.open.gatewayUs).join(', ')} µs/job open\n`);
    }
  }
  process.stdout.write(`${summary(`other (${builds.other})`, results.other)}\n${summary(`this (${builds.this})`, results.this)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
