import type Docker from 'dockerode';
import { dockerClient } from '@fleet/deploy';

/** A dockerode client for one engine socket, so suites can check engine state behind the gateway's back. */
export function docker(socket: string): Docker {
  return dockerClient(socket);
}

/** How many containers (running or not) on this engine carry `label` (`key` or `key=value`): executions counted on the engine. */
export async function countContainers(engine: Docker, label: string): Promise<number> {
  const found = await engine.listContainers({ all: true, filters: JSON.stringify({ label: [label] }) });
  return found.length;
}

/** Every container on this engine carrying `key`, as the value of that label → how many containers have it. */
export async function labelCounts(engine: Docker, key: string): Promise<Map<string, number>> {
  const found = await engine.listContainers({ all: true, filters: JSON.stringify({ label: [key] }) });
  const counts = new Map<string, number>();
  for (const info of found) {
    const value = info.Labels?.[key] ?? '';
    counts.set(value, (counts.get(value) ?? 0) + 1);
  }
  return counts;
}

interface EngineEvent {
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/**
 * The engine's own record of what was done to a container between two times (seconds since the
 * epoch): its events, e.g. one `kill` with signal 15 per `docker stop` that reached the engine.
 */
export async function containerEvents(engine: Docker, container: string, since: number, until: number): Promise<EngineEvent[]> {
  const stream = (await engine.getEvents({ since, until, filters: JSON.stringify({ container: [container] }) })) as NodeJS.ReadableStream;
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as EngineEvent);
}

/** The engine's own id for an image reference, or undefined when the engine does not have it. */
export async function imageIdOn(engine: Docker, reference: string): Promise<string | undefined> {
  try {
    return (await engine.getImage(reference).inspect()).Id;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}
