import type { Logger } from 'pino';

/** How long a starting gateway waits for a cluster that has just formed to take the fleet's streams. */
export const CLUSTER_FORMING_MS = 30_000;

/**
 * What a JetStream cluster answers while it is still forming: a peer whose account store is not
 * ready yet, no leader or no peers for a replicated stream, a request that timed out. Anything else
 * (a bad config, a permission) is the operator's to fix, and is not tried again.
 */
const FORMING = /error creating store|no suitable peers|insufficient resources|temporarily unavailable|no leader|timeout/i;

export function isClusterForming(err: unknown): boolean {
  return err instanceof Error && FORMING.test(err.message);
}

/**
 * Runs `attempt` (idempotent: adopting streams and buckets) again while the cluster is still
 * forming, up to `withinMs`, so a gateway started with its NATS servers does not exit on their
 * first seconds.
 */
export async function whenClusterFormed<T>(
  attempt: () => Promise<T>,
  log: Pick<Logger, 'warn'>,
  withinMs = CLUSTER_FORMING_MS,
  pauseMs = (tries: number) => Math.min(250 * tries, 2_000),
): Promise<T> {
  const giveUpAt = Date.now() + withinMs;
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isClusterForming(err) || Date.now() >= giveUpAt) throw err;
      log.warn({ err: (err as Error).message, tries }, 'JetStream is not ready for the fleet streams yet; trying again');
      await new Promise((resolve) => setTimeout(resolve, pauseMs(tries)));
    }
  }
}
