import type { HostResult, Job, JobAccepted } from '@fleet/sdk';
import { call, mayCall, mayRun, reasoned } from '../api';
import { ErrorLine } from '../components/badge';
import { useAction } from '../hooks';
import { go } from '../router';

/** The `hosts` choices of POST /job/{id}/rerun the page offers, each with the rows it picks and its button. */
const RERUN_CHOICES = [
  { hosts: 'failed', label: 'Rerun failed', picks: (row: HostResult) => row.status === 'failed' },
  { hosts: 'skipped', label: 'Rerun skipped', picks: (row: HostResult) => row.status === 'skipped' },
  { hosts: 'timeout', label: 'Rerun timed out', picks: (row: HostResult) => row.status === 'failed' && row.error_code === 504 },
] as const;

type RerunChoice = (typeof RERUN_CHOICES)[number];
/** More hosts than this are counted, not named, in the confirmation. */
const NAMED_HOSTS = 8;

/**
 * Rerun buttons of a settled job: one per kind of row it has, offered to a key holding `job.rerun` and the permission
 * of the job's operation (the gateway checks both again, and the key's scope). Confirmed first; then the new job opens.
 */
export function RerunControls({ job, rows }: { job: Job; rows: HostResult[] }) {
  const action = useAction<RerunChoice>();
  if (!mayCall('job.rerun') || !mayRun(job.operation)) return null;
  const offered = RERUN_CHOICES.map((choice) => ({ choice, hosts: rows.filter(choice.picks).map((row) => row.hostname) })).filter(
    (option) => option.hosts.length > 0,
  );
  if (offered.length === 0) return null;
  const rerun = (choice: RerunChoice) =>
    action.run(choice, async () => {
      const path = `/job/${job.job_id}/rerun?hosts=${choice.hosts}&async=true`;
      const started = await reasoned(call<JobAccepted>('POST', path));
      go(`/job/${started.job_id}`);
    });
  const asked = offered.find((option) => option.choice === action.asked);
  return (
    <>
      <div class="toolbar rerun">
        {offered.map(({ choice, hosts }) => (
          <button class="mutate" disabled={action.busy !== undefined} onClick={() => action.ask(choice)}>
            {`${choice.label} (${hosts.length})`}
          </button>
        ))}
      </div>
      {asked ? (
        <div class="confirm" role="dialog" aria-label={asked.choice.label}>
          <p>{`${asked.choice.label}: ${job.operation} again, as a new job, on ${hostList(asked.hosts)}?`}</p>
          {job.reruns?.length ? (
            <p class="warning">{`Already rerun ${job.reruns.length} time(s) (Reruns, above): these rows are as they first ran.`}</p>
          ) : null}
          <button class="mutate" onClick={() => rerun(asked.choice)}>{`Confirm ${asked.choice.label.toLowerCase()}`}</button>
          <button onClick={action.cancel}>Cancel</button>
        </div>
      ) : null}
      <ErrorLine error={action.error} />
    </>
  );
}

/** The hosts a confirmation names: all of them, or their count and the first few. */
export function hostList(hosts: string[]): string {
  const named = hosts.slice(0, NAMED_HOSTS).join(', ');
  return hosts.length > NAMED_HOSTS ? `${hosts.length} hosts (${named}, …)` : `${hosts.length} host(s): ${named}`;
}

/** Where a job comes from and what reran it (`rerun_of`, `reruns`), as links to those jobs. */
export function RerunLinks({ job }: { job: Job }) {
  if (!job.rerun_of && !job.reruns?.length) return null;
  return (
    <p class="lineage" data-testid="lineage">
      {job.rerun_of ? (
        <span data-testid="rerun-of">
          Rerun of <a href={`#/job/${job.rerun_of}`}>{job.rerun_of}</a>
        </span>
      ) : null}
      {job.reruns?.length ? (
        <span data-testid="reruns">
          Reruns:{' '}
          {job.reruns.map((id) => (
            <a href={`#/job/${id}`}>{id}</a>
          ))}
        </span>
      ) : null}
    </p>
  );
}
