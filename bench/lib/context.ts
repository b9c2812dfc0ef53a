import { createWriteStream, type WriteStream } from 'node:fs';

export interface BenchOptions {
  quick: boolean;
  /** Record the run as the "before" of section 5 (bench/results/baseline.json) instead of latest.json. */
  saveBaseline: boolean;
  /** Re-render BENCHMARKS.md from bench/results/*.json without measuring. */
  renderOnly: boolean;
  /** Run only these phases (debugging): real, pipelines, profile, micro, scale. */
  only?: string[];
  /** Largest swarm level; default 5,000 (full) or 100 (quick). */
  maxAgents?: number;
  /** Swarm levels to measure instead of the default ramp (debugging). */
  levels?: number[];
  /** Write the results here instead of latest.json, and leave BENCHMARKS.md alone. */
  out?: string;
  command: string;
}

/** Progress goes to stderr and to the run's log file; results go to JSON. */
export class Progress {
  private readonly started = performance.now();
  private readonly file?: WriteStream;

  constructor(logFile?: string) {
    if (logFile) this.file = createWriteStream(logFile, { flags: 'w' });
  }

  say(message: string): void {
    const line = `[bench ${((performance.now() - this.started) / 1000).toFixed(1).padStart(6)}s] ${message}`;
    process.stderr.write(`${line}\n`);
    this.file?.write(`${line}\n`);
  }

  elapsedSeconds(): number {
    return (performance.now() - this.started) / 1000;
  }

  close(): void {
    this.file?.end();
  }
}

/** A loop bounded by both a count and a time budget. */
export async function boundedLoop(maxCount: number, maxMs: number, body: (index: number) => Promise<void>, minCount = 0): Promise<number> {
  const deadline = performance.now() + maxMs;
  let index = 0;
  while (index < maxCount && (index < minCount || performance.now() < deadline)) {
    await body(index);
    index++;
    // Even min-count loops stop at twice the budget.
    if (performance.now() > deadline + maxMs) break;
  }
  return index;
}

/** Calls `check` every `intervalMs` until it answers true or `limitMs` passed; says whether it did. */
export async function pollUntil(check: () => Promise<boolean>, intervalMs: number, limitMs: number): Promise<boolean> {
  const deadline = performance.now() + limitMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() + intervalMs > deadline) return false;
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
