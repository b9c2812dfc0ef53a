import type { Executor } from '../types';
import { forEachJsonLine } from '../../ndjson';

/** Relays engine events until the engine ends the stream (`until`) or the job is stopped (deadline, client gone). */
export const systemEvents: Executor<'docker.system.events'> = async ({ since, until, filters }, { docker, signal, emit }) => {
  const events = await docker.getEvents({ since, until, filters: filters ? JSON.stringify(filters) : undefined, abortSignal: signal });
  const sent = await forEachJsonLine(events, signal, (event) => emit('docker', event));
  return { changed: false, message: `${sent} events`, events_sent: sent };
};
