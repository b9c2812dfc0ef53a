import type { KV } from '@nats-io/kv';
import { resultKey, type HostRow } from '@fleet/contracts/protocol';

/** Polls the results bucket (100 times, `pollMs` apart) until the agent has written a final row for (job, host). */
export async function finalRow(results: KV, jobId: string, hostname: string, pollMs: number): Promise<HostRow> {
  for (let i = 0; i < 100; i++) {
    const entry = await results.get(resultKey(jobId, hostname));
    const row = entry?.string() ? (JSON.parse(entry.string()) as HostRow) : undefined;
    if (row && row.status !== 'running') return row;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  throw new Error(`no final row for ${jobId} on ${hostname}`);
}
