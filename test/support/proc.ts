import { spawn, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '@fleet/deploy';

/** Resident set size of a process in bytes, from /proc/<pid>/status (VmRSS). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export { isAlive };

/** What a child process wrote and how it ended. */
export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to its stdin, which is then closed; without it, stdin is /dev/null. */
  stdin?: string;
  timeoutMs: number;
  /** At the timeout: 'kill' ends the child with SIGKILL and resolves with what it wrote (code null); 'reject' kills it and rejects. */
  onTimeout: 'kill' | 'reject';
  /** How stdout's bytes become a string; default utf8. */
  stdoutEncoding?: BufferEncoding;
}

/** Runs `command` to its end, collecting its output; never rejects on a non-zero exit (that is what the tests look at). */
export function runProcess(command: string, args: string[], opts: RunOptions): Promise<ProcessResult> {
  const spawnOptions: SpawnOptions = { env: opts.env, stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] };
  if (opts.cwd !== undefined) spawnOptions.cwd = opts.cwd;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, spawnOptions);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString(opts.stdoutEncoding)));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      if (opts.onTimeout === 'reject')
        reject(new Error(`${command} ${args.join(' ')} did not end within ${opts.timeoutMs} ms; stdout ${stdout}; stderr ${stderr}`));
    }, opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(opts.stdin);
  });
}

/**
 * Options for a Node service whose live heap a test will weigh: SIGUSR2 makes it write a heap
 * snapshot (after a full collection) into `dir`. Pass as that service's NODE_OPTIONS.
 */
export function heapSnapshotOptions(dir: string): string {
  return `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`;
}

/**
 * The live JavaScript heap of a process started with heapSnapshotOptions(dir): the sum of every
 * reachable object's own size in a snapshot it writes now. Unlike RSS, this does not count the
 * heap space V8 keeps reserved after a busy spell, so it moves only when objects are retained.
 */
export async function liveHeapBytes(pid: number, dir: string, timeoutMs = 60_000): Promise<number> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const written = readdirSync(dir).find((name) => name.endsWith('.heapsnapshot') && !before.has(name));
    if (!written) continue;
    const file = join(dir, written);
    const size = statSync(file).size;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    if (statSync(file).size !== size) continue;
    const total = selfSizeTotal(readFileSync(file, 'utf8'));
    rmSync(file);
    return total;
  }
  throw new Error(`no heap snapshot from pid ${pid} in ${dir} within ${timeoutMs} ms`);
}

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[] } };
  nodes: number[];
}

function selfSizeTotal(json: string): number {
  const parsed = JSON.parse(json) as HeapSnapshot;
  const fields = parsed.snapshot.meta.node_fields;
  const selfSize = fields.indexOf('self_size');
  let total = 0;
  for (let i = selfSize; i < parsed.nodes.length; i += fields.length) total += parsed.nodes[i];
  return total;
}
