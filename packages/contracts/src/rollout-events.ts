import type { Rollout } from './protocol';

/** One `rollout` event of a job's feed (README "Rollouts"). */
export type RolloutEvent =
  | { event: 'wave_started'; wave: number; hosts: string[] }
  | { event: 'wave_ended'; wave: number; state: 'passed' | 'failed'; failed: string[]; gate?: string }
  | { event: 'paused'; until: string }
  | { event: 'held'; by: string }
  | { event: 'resumed' }
  | { event: 'aborted'; reason: string }
  | { event: 'stopped'; reason: string; failures: number }
  | { event: 'completed'; failures: number };

/**
 * What changed from one stored progress to the next, in the order it happened. Derived from the progress itself,
 * not from a log of events: a feed that missed a save (or joins late) still announces every wave once.
 */
export function rolloutEvents(before: Rollout | undefined, after: Rollout): RolloutEvent[] {
  const events: RolloutEvent[] = [];
  for (const [index, wave] of after.waves.entries()) {
    const was = before?.waves[index]?.state ?? 'pending';
    if (was === wave.state) continue;
    if (was === 'pending' && wave.state !== 'skipped') events.push({ event: 'wave_started', wave: wave.wave, hosts: wave.hosts });
    if (wave.state === 'passed' || wave.state === 'failed') {
      events.push({
        event: 'wave_ended',
        wave: wave.wave,
        state: wave.state,
        failed: wave.failed ?? [],
        ...(after.health ? { gate: after.health } : {}),
      });
    }
  }
  if (after.paused_until && after.paused_until !== before?.paused_until) events.push({ event: 'paused', until: after.paused_until });
  if (after.paused_by && !before?.paused_by) events.push({ event: 'held', by: after.paused_by });
  if (!after.paused_by && before?.paused_by && after.state === 'running') events.push({ event: 'resumed' });
  if (after.state !== before?.state && after.state === 'aborted') events.push({ event: 'aborted', reason: after.stop_reason ?? '' });
  if (after.state !== before?.state && after.state === 'stopped')
    events.push({ event: 'stopped', reason: after.stop_reason ?? '', failures: after.failures });
  if (after.state !== before?.state && after.state === 'completed') events.push({ event: 'completed', failures: after.failures });
  return events;
}
