import type { HostResult } from '@fleet/sdk';

/** What a stream's `end` event says on the page: that it ended, and each host it failed on, with why. */
export function endStatus(results: HostResult[] = []): string {
  const failed = results.filter((r) => r.status !== 'ok');
  return failed.length ? `ended; ${failed.map((r) => `${r.hostname}: ${r.error ?? r.status}`).join('; ')}` : 'stream ended';
}
