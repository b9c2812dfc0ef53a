import { type RolloutEvent, rolloutEvents } from '@fleet/contracts/rollout-events';
import type { DryRunPlan, Rollout } from '@fleet/sdk';
import { table } from './output';

/** Hosts named on a wave's line; a larger wave says how many more. */
const HOSTS_SHOWN = 8;

function hostList(hosts: readonly string[]): string {
  const shown = hosts.slice(0, HOSTS_SHOWN).join(' ');
  return hosts.length > HOSTS_SHOWN ? `${shown} +${hosts.length - HOSTS_SHOWN} more` : shown;
}

/** One line per `rollout` event, as the waves go: `wave 2/5  web-03 web-04  passed (gate healthy)`. */
export class WaveLines {
  private readonly hostsByWave = new Map<number, string[]>();
  private readonly waveCount: number;

  constructor(rollout: Rollout) {
    this.waveCount = rollout.waves.length;
    for (const wave of rollout.waves) this.hostsByWave.set(wave.wave, wave.hosts);
  }

  /** The line a rollout's feed starts with: its plan, and how to steer it. */
  static header(jobId: string, rollout: Rollout): string {
    const hosts = rollout.waves.reduce((count, wave) => count + wave.hosts.length, 0);
    return (
      `rollout ${jobId}: ${hosts} host(s) in ${rollout.waves.length} wave(s), max_failures ${rollout.max_failures}` +
      `${rollout.health ? `, gate ${rollout.health}` : ''} (steer it: fleet job pause|resume|abort ${jobId})`
    );
  }

  /**
   * The events that already happened when the feed joined (its `job` event carries the progress so far), in the
   * order they happened, as the gateway derives them from a progress it had not seen before.
   */
  static sofar(rollout: Rollout): RolloutEvent[] {
    return rolloutEvents(undefined, rollout);
  }

  line(event: RolloutEvent): string {
    switch (event.event) {
      case 'wave_started':
        this.hostsByWave.set(event.wave, event.hosts);
        return `${this.waveName(event.wave)}  ${hostList(event.hosts)}  started`;
      case 'wave_ended': {
        const outcome = event.state === 'passed' ? 'passed' : `failed: ${event.failed.join(' ')}`;
        return `${this.waveName(event.wave)}  ${hostList(this.hostsByWave.get(event.wave) ?? [])}  ${outcome}${gateOf(event.gate)}`;
      }
      case 'paused':
        return `pausing until ${event.until} before the next wave`;
      case 'held':
        return `held by ${event.by}: no wave is sent until it is resumed`;
      case 'resumed':
        return 'resumed';
      case 'stopped':
        return `stopped: ${event.reason}`;
      case 'aborted':
        return `aborted: ${event.reason}`;
      case 'completed':
        return `completed: every wave ran, ${event.failures} host(s) failed`;
    }
  }

  private waveName(wave: number): string {
    return `wave ${wave}/${this.waveCount}`;
  }
}

function gateOf(gate: string | undefined): string {
  return gate ? ` (gate ${gate})` : '';
}

/** `--dry-run`: the hosts of each wave, in the order they would be taken; nothing was sent. */
export function renderPlan(plan: DryRunPlan): string {
  const rows = plan.rollout.waves.map((wave) => [wave.canary ? `${wave.wave} (canary)` : wave.wave, wave.hosts.join(' ')]);
  const limits = `max_failures ${plan.rollout.max_failures}${plan.rollout.seed ? `, seed ${plan.rollout.seed}` : ''}`;
  const heading = `${plan.operation} on ${plan.target}: ${plan.hosts.length} host(s), ${limits}; nothing was sent`;
  return `${heading}\n${table(['WAVE', 'HOSTS'], rows)}`;
}
