import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, sendSignal } from '@fleet/deploy';
import { boundedLoop, sleep } from './context';

export const PROBE_PRELOAD = join(REPO_ROOT, 'bench', 'harness', 'probe.cjs');

/** Environment that loads bench/harness/probe.cjs into a spawned service. */
export function probeEnv(dir: string, cpuProfile = false): Record<string, string> {
  mkdirSync(dir, { recursive: true });
  return {
    NODE_OPTIONS: `--require ${PROBE_PRELOAD}`,
    FLEET_BENCH_PROBE_DIR: dir,
    ...(cpuProfile ? { FLEET_BENCH_CPU_PROFILE: '1' } : {}),
  };
}

export function withoutProbe(env: Record<string, string>): void {
  delete env.NODE_OPTIONS;
  delete env.FLEET_BENCH_PROBE_DIR;
  delete env.FLEET_BENCH_CPU_PROFILE;
}

/** Asks the probe in `pid` for something and waits (bounded) for its answer file. */
async function ask(
  pid: number,
  dir: string,
  command: 'memory' | 'profile',
  answer: string,
  timeoutMs: number,
): Promise<string | undefined> {
  const file = join(dir, answer);
  rmSync(file, { force: true });
  writeFileSync(join(dir, 'command'), command);
  sendSignal(pid, 'SIGUSR2');
  await boundedLoop(timeoutMs / 50, timeoutMs, async () => {
    if (!existsSync(file)) await sleep(50);
  });
  return existsSync(file) ? file : undefined;
}

export interface MemoryUsage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** process.memoryUsage() of `pid` right after a full garbage collection. */
export async function probeMemory(pid: number, dir: string): Promise<MemoryUsage | undefined> {
  const file = await ask(pid, dir, 'memory', `${pid}.memory.json`, 15_000);
  return file ? (JSON.parse(readFileSync(file, 'utf8')) as MemoryUsage) : undefined;
}

/** Stops the CPU profiler in `pid` and returns the .cpuprofile path. */
export function probeProfile(pid: number, dir: string): Promise<string | undefined> {
  return ask(pid, dir, 'profile', `${pid}.cpuprofile`, 30_000);
}
