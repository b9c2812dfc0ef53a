/** This process's CPU time so far, user and system, in µs. */
export function cpuUs(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export interface AlternatedCpu {
  /** Operations each side ran. */
  iterations: number;
  beforeUs: number;
  afterUs: number;
}

/**
 * CPU per operation of two sides, run in many short alternating blocks; each side's median block counts,
 * so a burst of others' work on the shared box lands in a few blocks of either side instead of skewing
 * one total. A side's promise is awaited; a synchronous side is timed without one.
 */
export async function alternateCpu(iterations: number, sides: [() => unknown, () => unknown], blocks = 20): Promise<AlternatedCpu> {
  const perOp: [number[], number[]] = [[], []];
  const perBlock = Math.max(10, Math.round(iterations / blocks));
  for (let block = 0; block < blocks; block++) {
    for (const which of block % 2 === 0 ? [0, 1] : [1, 0]) {
      const t0 = cpuUs();
      for (let i = 0; i < perBlock; i++) {
        const done = sides[which]();
        if (done instanceof Promise) await done;
      }
      perOp[which].push((cpuUs() - t0) / perBlock);
    }
  }
  return { iterations: blocks * perBlock, beforeUs: median(perOp[0]), afterUs: median(perOp[1]) };
}
