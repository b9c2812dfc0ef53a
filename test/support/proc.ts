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
