import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';

/**
 * What /proc says about one process we started: CPU seconds (utime + stime)
 * and resident memory. Read from outside, so the measured process runs its
 * normal code with nothing added.
 */
export interface ProcSample {
  cpuSeconds: number;
  rssBytes: number;
  hwmBytes: number;
  threads: number;
}

const CLOCK_TICKS = clockTicks();

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return {
      cpuSeconds,
      rssBytes: kib(status, 'VmRSS') * 1024,
      hwmBytes: kib(status, 'VmHWM') * 1024,
      threads: Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 0),
    };
  } catch {
    return undefined;
  }
}

function kib(status: string, field: string): number {
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
}

export function openFiles(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

/** Machine-wide CPU busy/total jiffies, to tell how loaded the shared box was during a phase. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  const total = values.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * Follows a set of processes over a phase: CPU used (as % of one core) and
 * peak RSS, sampled every `intervalMs` until stopped.
 */
export class ProcWatch {
  private readonly start = new Map<string, ProcSample>();
  private readonly peak = new Map<string, number>();
  private readonly startedAt = performance.now();
  private readonly machineStart = machineCpu();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pids: Record<string, number>,
    intervalMs = 100,
  ) {
    for (const [name, pid] of Object.entries(pids)) {
      const sample = sampleProc(pid);
      if (sample) {
        this.start.set(name, sample);
        this.peak.set(name, sample.rssBytes);
      }
    }
    this.timer = setInterval(() => this.samplePeaks(), intervalMs);
    this.timer.unref();
  }

  private samplePeaks(): void {
    for (const [name, pid] of Object.entries(this.pids)) {
      const sample = sampleProc(pid);
      if (sample) this.peak.set(name, Math.max(this.peak.get(name) ?? 0, sample.rssBytes));
    }
  }

  stop(): WatchResult {
    clearInterval(this.timer);
    this.samplePeaks();
    const wallSeconds = (performance.now() - this.startedAt) / 1000;
    const machineEnd = machineCpu();
    const processes: WatchResult['processes'] = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const first = this.start.get(name);
      const last = sampleProc(pid);
      if (!first || !last) continue;
      const cpu = last.cpuSeconds - first.cpuSeconds;
      processes[name] = {
        cpuSeconds: round3(cpu),
        cpuPercentOfCore: round3((cpu / wallSeconds) * 100),
        rssMiB: mib(last.rssBytes),
        peakRssMiB: mib(this.peak.get(name) ?? last.rssBytes),
      };
    }
    const busy = machineEnd.busy - this.machineStart.busy;
    const total = machineEnd.total - this.machineStart.total;
    return { wallSeconds: round3(wallSeconds), machineBusyPercent: total > 0 ? round3((busy / total) * 100) : NaN, processes };
  }
}

export interface WatchResult {
  wallSeconds: number;
  /** Busy share of all cores of the machine over the phase (others' work included). */
  machineBusyPercent: number;
  processes: Record<string, { cpuSeconds: number; cpuPercentOfCore: number; rssMiB: number; peakRssMiB: number }>;
}

export function mib(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** Wall time of one run of a command, spawn to exit, with its output; a non-zero exit is an error, not a time. */
export function timeCommand(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.trim().slice(0, 400)}`));
      else resolve({ ms, stdout });
    });
  });
}
