import type { HostRow, JobRecord, Rollout, RolloutControl, RolloutControlReply, RolloutWave } from '@fleet/contracts/protocol';
import type { JobClient, JobRequest, StagedJob } from './client';
import { byHostname } from './rows';
import { LEASE_SCAN_MS } from './rollout-lease';
import { planRollout, singleWavePlan, type RolloutControls } from './rollout-plan';

export interface StartedRollout {
  record: JobRecord;
  /** Settles once the rollout completed or stopped, with one row per host (skipped ones included), sorted by hostname. */
  rows: Promise<HostRow[]>;
  /** The plan and its progress as they stand (final once `rows` settled). */
  progress(): Rollout;
}

/** The hosts the target resolves to now and the waves the call runs in (what a dry run answers). */
export interface PlannedRollout {
  hosts: string[];
  rollout: Rollout;
}

/**
 * Runs a job in waves (README "Rollouts"): the next wave is sent only once the one before it has
 * ended, and none once the failures exceed the budget. Every host never sent the job gets a
 * `skipped` row naming the wave and the failures that stopped it. The plan and each change of its
 * progress are stored in the job record, so GET /job and the job's feed show them from any replica.
 */
export class Rollouts {
  constructor(private readonly jobs: JobClient) {}

  /**
   * Takes over every rollout whose gateway stopped renewing its lease, until the returned function is called.
   * `isRevoked` checks the starting key before each wave, as the replica that started it did.
   */
  takeOverAbandoned(isRevoked: (keyId: string) => boolean, intervalMs = LEASE_SCAN_MS): () => void {
    let scanning = false;
    const scan = async () => {
      if (scanning) return;
      scanning = true;
      try {
        for (const { jobId, revision } of await this.jobs.abandonedRollouts()) {
          const staged = await this.jobs.takeOverRollout(jobId, revision);
          if (staged) this.continueRollout(staged, isRevoked);
        }
      } catch {
        // The broker is out of reach: the next scan tries again.
      } finally {
        scanning = false;
      }
    };
    const timer = setInterval(() => void scan(), intervalMs);
    return () => clearInterval(timer);
  }

  /** Goes on with a rollout taken over: from the wave it was in, on the authority of the key that started it. */
  private continueRollout(staged: StagedJob, isRevoked: (keyId: string) => boolean): void {
    const { rollout, authority, replay } = staged.record as Required<Pick<JobRecord, 'rollout' | 'authority'>> & JobRecord;
    staged.log.warn(
      { wave: rollout.waves.find((wave) => wave.state === 'pending' || wave.state === 'running')?.wave },
      'rollout taken over',
    );
    const cannotSend = replay && 'refused' in replay ? replay.refused : undefined;
    const lostAuthority = () => {
      if (cannotSend) return `the gateway replica running it stopped, and no other may send it: ${cannotSend}`;
      if (authority.key_id && isRevoked(authority.key_id)) return 'the API key that started it was revoked';
      return authority.expires_at * 1000 <= Date.now() ? 'the API key that started it expired' : undefined;
    };
    const run = new WaveRun(staged, rollout, authority.timeout_seconds * 1000, lostAuthority, cannotSend === undefined);
    run.run().then(
      (rows) => staged.finish(rows),
      () => staged.finish([]),
    );
  }

  /** The plan of `request` without running anything; without wave parameters, every host in one wave. */
  dryRun(request: JobRequest, controls: RolloutControls | undefined): PlannedRollout {
    // A preview: `_any` shows the host it would pick, without moving its round robin on.
    const hosts = this.jobs.previewTarget(request.target, request.scope);
    return { hosts, rollout: controls ? planRollout(hosts, controls) : singleWavePlan(hosts) };
  }

  /** The hosts `request` resolves to now and its plan; throws RolloutParamsError for a plan that cannot run. */
  plan(request: JobRequest, controls: RolloutControls): PlannedRollout {
    const hosts = this.jobs.resolveHosts(request.target, request.scope);
    return { hosts, rollout: planRollout(hosts, controls) };
  }

  /** `lostAuthority` says why the caller may no longer change its hosts (its key revoked or expired), or nothing. */
  async start(request: JobRequest, { hosts, rollout }: PlannedRollout, lostAuthority: () => string | undefined): Promise<StartedRollout> {
    const staged = await this.jobs.stage(request, hosts, rollout, Date.now() + rolloutSpanMs(rollout, request.timeoutSeconds));
    const run = new WaveRun(staged, rollout, request.timeoutSeconds * 1000, lostAuthority, true);
    const rows = run.run();
    rows.then(
      (settled) => staged.finish(settled),
      () => staged.finish([]),
    );
    return { record: staged.record, rows, progress: () => rollout };
  }
}

/** Every wave its full timeout, and the pauses between them: a bound the rollout cannot outlast. */
function rolloutSpanMs(rollout: Rollout, timeoutSeconds: number): number {
  const waves = rollout.waves.length;
  return (waves * timeoutSeconds + Math.max(0, waves - 1) * rollout.pause_seconds) * 1000 + SPAN_SLACK_MS;
}

/** Room for storing progress between waves. */
const SPAN_SLACK_MS = 5_000;

/** One rollout as it runs: the plan's waves in order, their progress stored as it changes. */
class WaveRun {
  private step = 0;
  private readonly rows: HostRow[] = [];
  /** Set by an abort: why no further wave goes. */
  private abortReason?: string;
  /** Ends the current sleep early (a pause between waves, or a hold). */
  private wake: () => void = () => undefined;

  constructor(
    private readonly staged: StagedJob,
    private readonly rollout: Rollout,
    private readonly waveTimeoutMs: number,
    private readonly lostAuthority: () => string | undefined,
    /** The job may be sent again (its parameters are stored); a replica taking over one that carried a credential may not. */
    private readonly mayResend: boolean,
  ) {}

  async run(): Promise<HostRow[]> {
    const unlisten = this.staged.onControl((control) => this.take(control));
    try {
      return await this.runWaves();
    } finally {
      unlisten();
    }
  }

  /**
   * Every wave not ended yet, in order. A rollout taken over from another replica starts where the record says it
   * was: ended waves are read back, the wave that was running is collected (and sent again only to hosts it may not
   * have reached), the pause it was in goes on, and a stop it was writing is finished.
   */
  private async runWaves(): Promise<HostRow[]> {
    const { waves } = this.rollout;
    if (this.rollout.state !== 'running') return this.finishStop();
    await this.pausedUntilStored();
    for (const [index, wave] of waves.entries()) {
      if (wave.state === 'passed' || wave.state === 'failed') {
        this.rows.push(...(await this.staged.collect(wave.hosts, Date.now(), false)).map((row) => ({ ...row, wave: wave.wave })));
        continue;
      }
      const halt = wave.state === 'pending' ? await this.haltBefore(wave, waves.length - index) : undefined;
      if (halt === HANDED_OVER) return this.rows.sort(byHostname);
      if (halt) {
        await this.stop(halt.state, halt.reason, waves.slice(index));
        return this.rows.sort(byHostname);
      }
      await (wave.state === 'running' ? this.collectWave(wave) : this.runWave(wave));
      // Lost during the wave: the replica that took it over collects this wave too, and decides what follows.
      if (!this.staged.leaseHeld()) return this.rows.sort(byHostname);
      if (this.rollout.failures > this.rollout.max_failures) {
        await this.stop('stopped', stopReason(wave, this.rollout), waves.slice(index + 1));
        return this.rows.sort(byHostname);
      }
      if (index < waves.length - 1 && this.rollout.pause_seconds > 0) await this.pause();
    }
    this.rollout.state = 'completed';
    await this.save();
    return this.rows.sort(byHostname);
  }

  /** A rollout taken over in its pause waits out what is left of it. */
  private async pausedUntilStored(): Promise<void> {
    if (this.rollout.paused_until === undefined) return;
    await this.sleep(Date.parse(this.rollout.paused_until) - Date.now());
    delete this.rollout.paused_until;
  }

  /** A stop stored before its replica died: its skipped rows are written (a row already there stands). */
  private async finishStop(): Promise<HostRow[]> {
    const never = this.rollout.waves.filter((wave) => wave.state === 'skipped');
    await this.staged.skip(never.flatMap((wave) => skippedRows(wave, this.rollout.stop_reason ?? `rollout ${this.rollout.state}`)));
    return [];
  }

  /** A pause, resume or abort from any replica (README "Rollouts"); each takes effect between waves. */
  private take({ action, by }: RolloutControl): RolloutControlReply {
    if (this.rollout.state !== 'running') return { refused: `the rollout has ended (${this.rollout.state})` };
    const held = this.rollout.paused_by !== undefined;
    if (action === 'abort') this.abortReason ??= `by ${by}`;
    if (action === 'pause') this.rollout.paused_by ??= by;
    if (action === 'resume') delete this.rollout.paused_by;
    if (action === 'abort' || (action === 'resume' && held)) this.wake();
    void this.save();
    return { rollout: structuredClone(this.rollout) };
  }

  /** Why no further wave may go (an abort, or the key that started it lost its authority), once a hold is over. */
  private async haltBefore(
    wave: RolloutWave,
    remaining: number,
  ): Promise<{ state: 'stopped' | 'aborted'; reason: string } | typeof HANDED_OVER | undefined> {
    await this.whileHeld(remaining);
    // Another replica holds the rollout now (this one could not renew its lease): it sends the rest, this one nothing.
    if (!this.staged.leaseHeld()) return HANDED_OVER;
    const before = `before wave ${wave.wave} of ${this.rollout.waves.length}`;
    if (this.abortReason) return { state: 'aborted', reason: `rollout aborted ${before} ${this.abortReason}` };
    // A wave runs on the authority of the key that started the rollout, as the key stands now.
    const lost = this.lostAuthority();
    return lost ? { state: 'stopped', reason: `rollout stopped ${before}: ${lost}` } : undefined;
  }

  /** Waits while the rollout is held; held until its `remaining` waves no longer fit before its deadline, it is aborted. */
  private async whileHeld(remaining: number): Promise<void> {
    const latestStart =
      Date.parse(this.staged.record.deadline) - remaining * this.waveTimeoutMs - (remaining - 1) * this.rollout.pause_seconds * 1000;
    while (this.rollout.paused_by !== undefined && !this.abortReason) {
      const left = latestStart - Date.now();
      if (left <= 0) this.abortReason = `: held by ${this.rollout.paused_by} until its remaining waves no longer fit before its deadline`;
      else await this.sleep(left);
    }
  }

  /** Sleeps `ms`, or until an abort (or a resume) wakes it. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Stored as running (with its deadline) before it is published, and as sent once every host's message is in the stream. */
  private async runWave(wave: RolloutWave): Promise<void> {
    const deadline = Date.now() + this.waveTimeoutMs;
    wave.state = 'running';
    wave.started_at = new Date().toISOString();
    wave.deadline = new Date(deadline).toISOString();
    await this.save();
    const sent = async () => {
      wave.sent_at = new Date().toISOString();
      await this.save();
    };
    this.ended(wave, await this.staged.runOn(wave.hosts, deadline, sent));
  }

  /**
   * The wave that was running when this replica took the rollout over. Sent to every host (`sent_at`): only its rows
   * are collected. Maybe not: the hosts without a row get it again, which runs nowhere twice (StagedJob.collect).
   */
  private async collectWave(wave: RolloutWave): Promise<void> {
    const deadline = wave.deadline ? Date.parse(wave.deadline) : Date.now() + this.waveTimeoutMs;
    const resend = wave.sent_at === undefined && this.mayResend;
    this.ended(wave, await this.staged.collect(wave.hosts, deadline, resend));
  }

  private ended(wave: RolloutWave, rows: HostRow[]): void {
    const failed = rows.filter((row) => row.status === 'failed').map((row) => row.hostname);
    this.rows.push(...rows.map((row) => ({ ...row, wave: wave.wave })));
    this.rollout.failures += failed.length;
    wave.state = failed.length > 0 ? 'failed' : 'passed';
    if (failed.length > 0) wave.failed = failed;
    wave.ended_at = new Date().toISOString();
  }

  private async pause(): Promise<void> {
    const until = Date.now() + this.rollout.pause_seconds * 1000;
    this.rollout.paused_until = new Date(until).toISOString();
    await this.save();
    await this.sleep(until - Date.now());
    delete this.rollout.paused_until;
  }

  /** No wave after the last one sent runs: every host of `never` gets a skipped row, and nothing else. */
  private async stop(state: 'stopped' | 'aborted', reason: string, never: RolloutWave[]): Promise<void> {
    this.rollout.state = state;
    delete this.rollout.paused_by;
    this.rollout.stop_reason = reason;
    for (const later of never) later.state = 'skipped';
    const skipped = never.flatMap((later) => skippedRows(later, reason));
    // Stored before the rows: once every row is final, a job's feed ends, and it must have announced the stop by then.
    await this.save();
    await this.staged.skip(skipped);
    this.rows.push(...skipped);
    this.staged.log.warn({ reason, failures: this.rollout.failures, skipped: skipped.length }, `rollout ${state}`);
  }

  /** Progress that cannot be stored leaves GET /job behind, never the rollout: the rows are the record of what ran. */
  private async save(): Promise<void> {
    // Once another replica holds the rollout, its progress is that replica's to store.
    if (!this.staged.leaseHeld()) return;
    await this.staged.saveProgress(this.rollout, ++this.step).catch((err: Error) => {
      this.staged.log.error({ err: err.message }, 'rollout progress not stored');
    });
  }
}

/** Says a rollout run here ended its part: another replica took it over. */
const HANDED_OVER = Symbol('handed over');

function skippedRows(wave: RolloutWave, reason: string): HostRow[] {
  return wave.hosts.map((hostname): HostRow => ({ hostname, status: 'skipped', changed: false, wave: wave.wave, skipped_reason: reason }));
}

/**
 * Names the wave and the failures against the budget, not the hosts: a scoped key reads this reason on its own
 * skipped rows, and the failed hosts may lie outside its scope (the wave's `failed` lists them, cut to the scope).
 */
export function stopReason(wave: RolloutWave, rollout: Rollout): string {
  const inWave = wave.failed?.length ?? 0;
  return (
    `rollout stopped after wave ${wave.wave} of ${rollout.waves.length}: ${inWave} host(s) failed in that wave, ` +
    `${rollout.failures} in all, more than max_failures ${rollout.max_failures}`
  );
}
