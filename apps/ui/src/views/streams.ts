import type { Job, NodeResponse } from '@fleet/sdk';

/** A streamed operation's first event (`job`): its job and the hosts it runs on. */
export type StreamStart = Pick<Job, 'job_id' | 'hosts'>;
/** A streamed operation's last event (`end`): every host's row. */
export type StreamEnd = Pick<NodeResponse, 'job_id' | 'results'>;

/** What a stream's `end` event says on the page: that it ended, and each host it failed on, with why. */
export function endStatus(end: Partial<StreamEnd>): string {
  const failed = (end.results ?? []).filter((r) => r.status !== 'ok');
  return failed.length ? `ended; ${failed.map((r) => `${r.hostname}: ${r.error ?? r.status}`).join('; ')}` : 'stream ended';
}
