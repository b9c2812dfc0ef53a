import type { Outcome } from './types';

type PruneOperation = 'docker.container.prune' | 'docker.volume.prune' | 'docker.network.prune';

/**
 * The contract's filters map as the Engine's `filters` query parameter (a JSON
 * string). The gateway's validator has parsed it into an object; the generated
 * types still call it a string, so both are accepted.
 */
export function engineFilters(filters: unknown): string | undefined {
  if (filters === undefined) return undefined;
  return typeof filters === 'string' ? filters : JSON.stringify(filters);
}

/** An inspect that resolves undefined when the engine says the object does not exist (404). */
export async function ifPresent<T>(inspect: Promise<T>): Promise<T | undefined> {
  try {
    return await inspect;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}

/** A prune's row: what the engine deleted (`<kind>_deleted`), the bytes it freed, and changed only if it deleted something. */
export function pruneOutcome(
  kind: 'containers' | 'volumes' | 'networks',
  deleted: string[] | null | undefined,
  spaceReclaimed?: number,
): Outcome<PruneOperation> {
  const names = deleted ?? [];
  return {
    changed: names.length > 0,
    message: `${names.length} ${kind} deleted`,
    [`${kind}_deleted`]: names,
    ...(spaceReclaimed === undefined ? {} : { space_reclaimed: spaceReclaimed }),
  };
}
