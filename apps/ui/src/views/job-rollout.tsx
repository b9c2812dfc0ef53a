import type { HostResult, Job } from '@fleet/sdk';
import { call, mayCall, mayRun, reasoned } from '../api';
import { Badge, ErrorLine } from '../components/badge';
import { useAction } from '../hooks';

type Rollout = NonNullable<Job['rollout']>;
type Wave = Rollout['waves'][number];
type Control = 'pause' | 'resume' | 'abort';
/** More hosts than this are counted, not named, in the abort confirmation. */
const NAMED_HOSTS = 8;

function named(hosts: string[]): string {
  return hosts.length > NAMED_HOSTS ? `${hosts.slice(0, NAMED_HOSTS).join(', ')} and ${hosts.length - NAMED_HOSTS} more` : hosts.join(', ');
}

/**
 * A rollout's plan and progress (README "Rollouts"): each wave with its hosts and state, the gate, why it stopped,
 * whether it is held; and, while it runs, the controls the key may use. `rowOf` gives a host's row (its gate finding).
 */
export function RolloutPanel({
  job,
  rowOf,
  onControlled,
}: {
  job: Job;
  rowOf: (host: string) => HostResult | undefined;
  onControlled: (rollout: Rollout) => void;
}) {
  const rollout = job.rollout;
  if (!rollout) return null;
  return (
    <div class="panel rollout" data-testid="rollout" data-state={rollout.state}>
      <h3>
        Rollout <Badge status={rollout.state} />
        {rollout.paused_by ? <Badge status="held">{`held by ${rollout.paused_by}`}</Badge> : null}
        {rollout.paused_until && !rollout.paused_by && rollout.state === 'running' && Date.parse(rollout.paused_until) > Date.now() ? (
          <Badge status="waiting">{`next wave at ${new Date(rollout.paused_until).toLocaleTimeString()}`}</Badge>
        ) : null}
      </h3>
      <p class="muted">{planLine(rollout)}</p>
      {rollout.stop_reason ? (
        <p class="stop-reason" data-testid="stop-reason">
          {rollout.stop_reason}
        </p>
      ) : null}
      {rollout.state === 'running' ? <RolloutControls job={job} rollout={rollout} onControlled={onControlled} /> : null}
      <ol class="waves">
        {rollout.waves.map((wave) => (
          <WaveLine wave={wave} gate={rollout.health} rowOf={rowOf} />
        ))}
      </ol>
    </div>
  );
}

function planLine(rollout: Rollout): string {
  const parts = [
    `${rollout.waves.length} waves`,
    rollout.batch ? `batch ${rollout.batch}` : '',
    rollout.canary ? `canary ${rollout.canary}` : '',
    `${rollout.failures} failed (${rollout.max_failures} tolerated)`,
    rollout.health ? `gate ${rollout.health}` : 'no gate',
    rollout.pause_seconds ? `${rollout.pause_seconds} s between waves` : '',
    rollout.order === 'random' ? `random order, seed ${rollout.seed ?? '?'}` : 'hostname order',
  ];
  return parts.filter(Boolean).join(' · ');
}

function WaveLine({ wave, gate, rowOf }: { wave: Wave; gate?: string; rowOf: (host: string) => HostResult | undefined }) {
  const failed = new Set(wave.failed ?? []);
  const ended = wave.state === 'passed' || wave.state === 'failed';
  return (
    <li class={`wave ${wave.state}`} data-wave={wave.wave} data-state={wave.state}>
      <span class="wave-name">{`Wave ${wave.wave}${wave.canary ? ' · canary' : ''}`}</span>
      <Badge status={wave.state} />
      <span class="wave-hosts">
        {wave.hosts.map((host) => (
          <span class={`chip ${failed.has(host) ? 'failed' : wave.state}`} title={rowOf(host)?.gate ?? rowOf(host)?.error ?? ''}>
            {host}
          </span>
        ))}
      </span>
      {gate && ended ? (
        <span class="gate" data-testid="gate">
          {gateLine(gate, wave, rowOf)}
        </span>
      ) : null}
    </li>
  );
}

/** The gate's outcome for an ended wave: passed, or the hosts it failed on with what their agent found. */
function gateLine(gate: string, wave: Wave, rowOf: (host: string) => HostResult | undefined): string {
  const failedAtGate = (wave.failed ?? []).filter((host) => rowOf(host)?.error_code === 412);
  if (failedAtGate.length === 0) return `gate ${gate}: passed`;
  return `gate ${gate} failed: ${failedAtGate.map((host) => `${host} (${rowOf(host)?.gate ?? 'no finding'})`).join(', ')}`;
}

/** Pause or resume, and abort (confirmed first), each offered to a key holding its permission and the job's operation's. */
function RolloutControls({ job, rollout, onControlled }: { job: Job; rollout: Rollout; onControlled: (rollout: Rollout) => void }) {
  const action = useAction<Control>();
  if (!mayRun(job.operation)) return null;
  const steer = (control: Control) =>
    action.run(control, async () => {
      const answer = await reasoned(call<{ rollout: Rollout }>('POST', `/job/${job.job_id}/${control}`));
      onControlled(answer.rollout);
    });
  const held = Boolean(rollout.paused_by);
  const unsent = rollout.waves.filter((wave) => wave.state === 'pending').flatMap((wave) => wave.hosts);
  const busy = action.busy !== undefined;
  return (
    <>
      <div class="toolbar">
        {!held && mayCall('job.pause') ? (
          <button class="mutate" disabled={busy} onClick={() => steer('pause')}>
            Pause
          </button>
        ) : null}
        {held && mayCall('job.resume') ? (
          <button class="mutate" disabled={busy} onClick={() => steer('resume')}>
            Resume
          </button>
        ) : null}
        {mayCall('job.abort') ? (
          <button class="mutate danger" disabled={busy} onClick={() => action.ask('abort')}>
            Abort
          </button>
        ) : null}
      </div>
      {action.asked === 'abort' ? (
        <div class="confirm" role="dialog" aria-label="Abort">
          <p>{`Abort this rollout? The wave running ends; ${unsent.length} host(s) not yet reached are skipped: ${named(unsent)}.`}</p>
          <button class="mutate danger" onClick={() => steer('abort')}>
            Confirm abort
          </button>
          <button onClick={action.cancel}>Cancel</button>
        </div>
      ) : null}
      <ErrorLine error={action.error} />
    </>
  );
}
