import type { HostRow, JobRecord, Rollout, RolloutControl, RolloutControlReply } from '@fleet/contracts/protocol';
import type { JobClient, JobRequest, StagedJob } from './client';
import { Rollouts } from './rollout';

const HOSTS = ['h1', 'h2', 'h3', 'h4', 'h5'];
const request: JobRequest = {
  operation: 'docker.container.restart',
  target: '_all',
  params: { id: 'app' },
  timeoutSeconds: 10,
  caller: 'test',
};

/** A job client whose hosts answer at once: `failing` ones fail. Records what was sent, saved and skipped. */
function fakeJobs(failing: string[], beforeAnswer: (wave: string[]) => Promise<void> = async () => undefined) {
  const sent: string[][] = [];
  const control: { take?: (control: RolloutControl) => RolloutControlReply } = {};
  const saved: Rollout[] = [];
  const skipped: HostRow[] = [];
  const settled: HostRow[][] = [];
  const lease = { held: true };
  const silent = { warn: () => undefined, error: () => undefined };
  const jobs = {
    resolveHosts: () => [...HOSTS],
    stage: async (_request: JobRequest, hosts: string[], rollout: Rollout): Promise<StagedJob> => ({
      record: { job_id: 'j1', hosts, rollout } as JobRecord,
      log: silent as unknown as StagedJob['log'],
      runOn: async (subset) => {
        sent.push(subset);
        await beforeAnswer(subset);
        return subset.map((hostname): HostRow => ({
          hostname,
          status: failing.includes(hostname) ? 'failed' : 'ok',
          changed: !failing.includes(hostname),
        }));
      },
      collect: async () => [],
      leaseHeld: () => lease.held,
      saveProgress: async (progress) => void saved.push(structuredClone(progress)),
      skip: async (rows) => void skipped.push(...rows),
      finish: (rows) => void settled.push(rows),
      onControl: (take) => {
        control.take = take;
        return () => delete control.take;
      },
    }),
  };
  return { jobs: jobs as unknown as JobClient, sent, saved, skipped, settled, control, lease };
}

async function roll(failing: string[], batch: string, maxFailures?: string, lostAuthority: () => string | undefined = () => undefined) {
  const fake = fakeJobs(failing);
  const rollouts = new Rollouts(fake.jobs);
  const started = await rollouts.start(
    request,
    rollouts.plan(request, { batch, maxFailures, pauseSeconds: 0, order: 'hostname' }),
    lostAuthority,
  );
  const rows = await started.rows;
  await new Promise((resolve) => setImmediate(resolve));
  return { ...fake, rows, progress: started.progress() };
}

describe('Rollouts', () => {
  it('stops after the wave that goes over the budget: later hosts are skipped rows, never sent', async () => {
    const { sent, skipped, rows, progress } = await roll(['h3'], '2');
    expect(sent).toEqual([
      ['h1', 'h2'],
      ['h3', 'h4'],
    ]);
    expect(skipped.map((row) => [row.hostname, row.status, row.wave])).toEqual([['h5', 'skipped', 3]]);
    expect(skipped[0].skipped_reason).toBe(
      'rollout stopped after wave 2 of 3: 1 host(s) failed in that wave, 1 in all, more than max_failures 0',
    );
    expect(rows.map((row) => [row.hostname, row.status])).toEqual([
      ['h1', 'ok'],
      ['h2', 'ok'],
      ['h3', 'failed'],
      ['h4', 'ok'],
      ['h5', 'skipped'],
    ]);
    expect(progress).toMatchObject({ state: 'stopped', failures: 1 });
    expect(progress.waves.map((wave) => [wave.state, wave.failed])).toEqual([
      ['passed', undefined],
      ['failed', ['h3']],
      ['skipped', undefined],
    ]);
  });

  it('goes on while the failures stay within max_failures, and completes', async () => {
    const { sent, skipped, progress } = await roll(['h1', 'h5'], '1', '2');
    expect(sent).toHaveLength(5);
    expect(skipped).toEqual([]);
    expect(progress).toMatchObject({ state: 'completed', failures: 2, max_failures: 2 });
  });

  it('sends no wave after the key lost its authority: the rest are skipped rows naming why', async () => {
    let checks = 0;
    // Checked before every wave, the first included: the third check is the one before wave 3.
    const { sent, skipped, progress } = await roll([], '2', undefined, () => (++checks >= 3 ? 'the API key was revoked' : undefined));
    expect(sent).toEqual([
      ['h1', 'h2'],
      ['h3', 'h4'],
    ]);
    expect(skipped.map((row) => row.hostname)).toEqual(['h5']);
    expect(progress).toMatchObject({ state: 'stopped', stop_reason: 'rollout stopped before wave 3 of 3: the API key was revoked' });
    expect(progress.waves.map((wave) => wave.state)).toEqual(['passed', 'passed', 'skipped']);
  });

  it('sends nothing more and stores no progress once its lease is lost: the replica that took it over goes on', async () => {
    const fake = fakeJobs([], async (wave) => {
      if (wave[0] === 'h1') fake.lease.held = false;
    });
    const rollouts = new Rollouts(fake.jobs);
    const started = await rollouts.start(
      request,
      rollouts.plan(request, { batch: '2', pauseSeconds: 0, order: 'hostname' }),
      () => undefined,
    );
    const rows = await started.rows;
    expect(fake.sent).toEqual([['h1', 'h2']]);
    expect(rows.map((row) => row.hostname)).toEqual(['h1', 'h2']);
    expect(fake.skipped).toEqual([]);
    expect(fake.saved.every((progress) => progress.state === 'running')).toBe(true);
    expect(fake.saved.some((progress) => progress.waves[0].state === 'passed')).toBe(false);
  });

  it('stores the progress at each change, the stop before the skipped rows, and counts the rollout once with every row', async () => {
    const { saved, settled } = await roll(['h1'], '2');
    expect(saved.map((progress) => [progress.state, progress.waves.map((wave) => wave.state).join(',')])).toEqual([
      ['running', 'running,pending,pending'],
      ['stopped', 'failed,skipped,skipped'],
    ]);
    expect(settled).toHaveLength(1);
    expect(settled[0]).toHaveLength(5);
  });

  it('holds the next wave on pause until resume, from the wave running; an abort skips the rest', async () => {
    let controls: ReturnType<typeof fakeJobs>['control'] = {};
    const replies: RolloutControlReply[] = [];
    const fake = fakeJobs([], async (wave) => {
      if (wave[0] === 'h1') replies.push((controls.take as NonNullable<typeof controls.take>)({ action: 'pause', by: 'alice' }));
    });
    controls = fake.control;
    const rollouts = new Rollouts(fake.jobs);
    const started = await rollouts.start(
      request,
      rollouts.plan(request, { batch: '2', pauseSeconds: 0, order: 'hostname' }),
      () => undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(fake.sent).toEqual([['h1', 'h2']]);
    expect(replies[0]).toMatchObject({ rollout: { state: 'running', paused_by: 'alice' } });
    expect(started.progress().paused_by).toBe('alice');
    controls.take?.({ action: 'resume', by: 'bob' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(fake.sent).toEqual([['h1', 'h2'], ['h3', 'h4'], ['h5']]);
    expect((await started.rows).every((row) => row.status === 'ok')).toBe(true);
    expect(controls.take).toBeUndefined();

    const aborting = fakeJobs([], async (wave) => {
      if (wave[0] === 'h1') aborting.control.take?.({ action: 'abort', by: 'carol' });
    });
    const second = new Rollouts(aborting.jobs);
    const aborted = await second.start(request, second.plan(request, { batch: '2', pauseSeconds: 0, order: 'hostname' }), () => undefined);
    await aborted.rows;
    expect(aborting.sent).toEqual([['h1', 'h2']]);
    expect(aborted.progress()).toMatchObject({ state: 'aborted', stop_reason: 'rollout aborted before wave 2 of 3 by carol' });
    expect(aborting.skipped.map((row) => row.hostname)).toEqual(['h3', 'h4', 'h5']);
  });
});

describe('Rollouts taken over from another replica', () => {
  /** A rollout of h1..h5 in waves of two, as its first replica stored it: wave 1 passed, wave 2 running, sent or not. */
  function storedRollout(sent: boolean, replay: JobRecord['replay']): JobRecord {
    const now = Date.now();
    const rollout: Rollout = {
      state: 'running',
      order: 'hostname',
      max_failures: 0,
      pause_seconds: 0,
      failures: 0,
      waves: [
        { wave: 1, hosts: ['h1', 'h2'], state: 'passed' },
        {
          wave: 2,
          hosts: ['h3', 'h4'],
          state: 'running',
          deadline: new Date(now + 10_000).toISOString(),
          ...(sent ? { sent_at: new Date(now).toISOString() } : {}),
        },
        { wave: 3, hosts: ['h5'], state: 'pending' },
      ],
    };
    const authority = { permissions: ['docker:write'], expires_at: now / 1000 + 3600, key_id: 'k1' };
    return {
      job_id: 'j1',
      hosts: [...HOSTS],
      deadline: new Date(now + 60_000).toISOString(),
      rollout,
      replay,
      authority: { ...authority, host_access: false, caller_host: false, long_running: false, timeout_seconds: 10 },
    } as JobRecord;
  }

  /** A job client with one abandoned rollout to take over; records what the taker collected, sent and skipped. */
  function takeover(record: JobRecord, revoked: string[] = []) {
    const collected: Array<[string[], boolean]> = [];
    const sent: string[][] = [];
    const skipped: HostRow[] = [];
    const saved: Rollout[] = [];
    const silent = { warn: () => undefined, error: () => undefined };
    let finished: (rows: HostRow[]) => void = () => undefined;
    const rows = new Promise<HostRow[]>((resolve) => (finished = resolve));
    let offered = false;
    const okRows = (hosts: string[]) => hosts.map((hostname): HostRow => ({ hostname, status: 'ok', changed: true }));
    const jobs = {
      abandonedRollouts: async () => (offered ? [] : [{ jobId: 'j1', revision: 7 }]),
      takeOverRollout: async (): Promise<StagedJob> => {
        offered = true;
        return {
          record,
          log: silent as unknown as StagedJob['log'],
          runOn: async (subset) => {
            sent.push(subset);
            return okRows(subset);
          },
          collect: async (subset, _deadline, resend) => {
            collected.push([subset, resend]);
            return okRows(subset);
          },
          leaseHeld: () => true,
          saveProgress: async (progress) => void saved.push(structuredClone(progress)),
          skip: async (skippedRows) => void skipped.push(...skippedRows),
          finish: (settled) => finished(settled),
          onControl: () => () => undefined,
        };
      },
    };
    const stop = new Rollouts(jobs as unknown as JobClient).takeOverAbandoned((keyId) => revoked.includes(keyId), 5);
    return { rows: rows.finally(stop), collected, sent, skipped, saved, progress: record.rollout as Rollout };
  }

  it('collects the wave that was sent, sends the rest, and reads back the waves that ended: each host once', async () => {
    const run = takeover(storedRollout(true, { params: { id: 'app' }, timeout_seconds: 10 }));
    const rows = await run.rows;
    expect(run.collected).toEqual([
      [['h1', 'h2'], false],
      [['h3', 'h4'], false],
    ]);
    expect(run.sent).toEqual([['h5']]);
    expect(rows.map((row) => row.hostname)).toEqual(HOSTS);
    expect(run.progress.state).toBe('completed');
    expect(run.progress.waves.map((wave) => wave.state)).toEqual(['passed', 'passed', 'passed']);
  });

  it('sends a wave stored as sending again to its hosts without a row (the stream and the claim keep it to one run)', async () => {
    const run = takeover(storedRollout(false, { params: { id: 'app' }, timeout_seconds: 10 }));
    await run.rows;
    expect(run.collected[1]).toEqual([['h3', 'h4'], true]);
  });

  it('sends nothing again for a rollout that carried a credential: the rest are skipped rows saying why', async () => {
    const refused = 'it carried a credential (X-Registry-Auth), which is never stored';
    const run = takeover(storedRollout(false, { refused }));
    await run.rows;
    expect(run.collected[1]).toEqual([['h3', 'h4'], false]);
    expect(run.sent).toEqual([]);
    expect(run.skipped.map((row) => row.hostname)).toEqual(['h5']);
    expect(run.progress).toMatchObject({
      state: 'stopped',
      stop_reason: `rollout stopped before wave 3 of 3: the gateway replica running it stopped, and no other may send it: ${refused}`,
    });
  });

  it('checks the starting key again: revoked, no further wave goes', async () => {
    const run = takeover(storedRollout(true, { params: { id: 'app' }, timeout_seconds: 10 }), ['k1']);
    await run.rows;
    expect(run.sent).toEqual([]);
    expect(run.skipped.map((row) => [row.hostname, row.skipped_reason])).toEqual([
      ['h5', 'rollout stopped before wave 3 of 3: the API key that started it was revoked'],
    ]);
  });
});
