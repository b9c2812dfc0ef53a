import { useEffect, useState } from 'preact/hooks';
import type { Job, Stack } from '@fleet/sdk';
import { call, mayRun } from '../api';
import { ago, Badge, ErrorLine } from '../components/badge';
import { Table, type Column } from '../components/table';
import { usePoll, useTick } from '../hooks';
import { StackRevisions } from './stack-revisions';
import { HOST_STATES, STACK_POLL_MS } from './stacks';

type StackHost = Stack['hosts'][number];

/** One stack's page, `#/stacks/<name>`: GET /stack/{name} re-read every few seconds. */
export function StackView({ name }: { name: string }) {
  // A rollback reads the stack again at once: its new revision is listed without waiting for the next round.
  const [reloads, setReloads] = useState(0);
  const stack = usePoll(() => call<Stack>('GET', `/stack/${encodeURIComponent(name)}`), STACK_POLL_MS, [name, reloads]);
  useTick(5_000);
  const data = stack.data;
  return (
    <section data-view="stack" data-stack={name}>
      <h2>
        Stack <code>{name}</code>
        {data ? <Badge status="revision">{`revision ${data.revision}`}</Badge> : null}
      </h2>
      <ErrorLine error={stack.error} />
      {data ? <StackBody stack={data} onChanged={() => setReloads((n) => n + 1)} /> : null}
    </section>
  );
}

function StackBody({ stack, onChanged }: { stack: Stack; onChanged: () => void }) {
  return (
    <>
      <StackFacts stack={stack} />
      <StackHosts stack={stack} />
      <StackRevisions stack={stack} onChanged={onChanged} />
    </>
  );
}

/** Hosts listed before "Show all": a stack on a large fleet puts what needs a look first and keeps the page light. */
const HOSTS_SHOWN = 200;

function StackHosts({ stack }: { stack: Stack }) {
  const [all, setAll] = useState(false);
  const ordered = [...stack.hosts].sort((a, b) => stateOrder(a).localeCompare(stateOrder(b)));
  const shown = all ? ordered : ordered.slice(0, HOSTS_SHOWN);
  return (
    <div class="panel">
      <h3>Hosts</h3>
      <Table
        class="matrix stack-hosts"
        columns={HOST_COLUMNS}
        rows={shown}
        rowKey={(host) => host.hostname}
        rowAttributes={(host) => ({ 'data-host': host.hostname, 'data-state': host.state })}
        empty={<p class="muted">{`No host matches ${stack.target} or reports this stack.`}</p>}
      />
      {shown.length < ordered.length ? (
        <p class="muted">
          {`${ordered.length - shown.length} more host(s), in the states listed last. `}
          <button onClick={() => setAll(true)}>Show all</button>
        </p>
      ) : null}
    </div>
  );
}

/** What the stack is: its target, what its agents do on drift, how a revision rolls out, the newest rollout's job. */
function StackFacts({ stack }: { stack: Stack }) {
  const newest = stack.revisions.find((revision) => revision.revision === stack.revision);
  return (
    <dl class="facts" data-testid="stack-facts">
      <dt>Target</dt>
      <dd>
        <code>{stack.target}</code>
      </dd>
      <dt>On drift</dt>
      <dd data-testid="on-drift">{stack.on_drift}</dd>
      <dt>Rollout</dt>
      <dd>{policyText(stack.rollout)}</dd>
      <dt>Newest rollout</dt>
      <dd>
        {newest ? (
          <>
            <a
              href={`#/job/${newest.job_id}`}
              data-testid="rollout-job"
            >{`revision ${newest.revision}: job ${newest.job_id.slice(0, 8)}`}</a>
            {mayRun(ROLLOUT_OPERATION) ? <RolloutOutcome jobId={newest.job_id} /> : null}
          </>
        ) : (
          <span class="muted">not among the listed revisions</span>
        )}
      </dd>
    </dl>
  );
}

/** The node operation a revision rolls out through (README "Stacks"): reading its job needs that operation's permission. */
const ROLLOUT_OPERATION = 'stack.host.apply';

/** The rollout job's status, read until it ended (a job never changes after that). */
function RolloutOutcome({ jobId }: { jobId: string }) {
  const [job, setJob] = useState<Job | undefined>();
  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = () =>
      call<Job>('GET', `/job/${jobId}`).then(
        (answer) => {
          if (cancelled) return;
          setJob(answer);
          if (answer.status === 'running' || answer.rollout?.state === 'running') timer = setTimeout(read, STACK_POLL_MS);
        },
        () => undefined,
      );
    void read();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [jobId]);
  if (!job) return null;
  const stopped = job.rollout && !['running', 'completed'].includes(job.rollout.state);
  return (
    <span data-testid="rollout-status">
      {' '}
      <Badge status={job.status} />
      {stopped ? <Badge status={job.rollout?.state ?? ''}>{`rollout ${job.rollout?.state}`}</Badge> : null}
    </span>
  );
}

/** `batch 1 · health healthy`, or every host at once when the stack has no wave parameters. */
function policyText(policy: Stack['rollout']): string {
  const parts = Object.entries(policy).map(([key, value]) => `${key} ${String(value)}`);
  return parts.length ? parts.join(' · ') : 'every host at once';
}

/** Sorts hosts by state (what is wrong first), then by name. */
const stateOrder = (host: StackHost) => `${HOST_STATES.indexOf(host.state)} ${host.hostname}`;

const HOST_COLUMNS: Column<StackHost>[] = [
  { header: 'Host', class: 'host', sortBy: (host) => host.hostname, cell: (host) => host.hostname },
  { header: 'State', sortBy: stateOrder, cell: (host) => <Badge status={host.state} /> },
  { header: 'Revision', cell: (host) => (host.revision === undefined ? '' : String(host.revision)) },
  { header: 'Checked', class: 'muted', cell: (host) => (host.checked_at ? ago(host.checked_at) : '') },
  { header: 'Why', class: 'output', cell: (host) => <HostDetail host={host} /> },
];

/** What differs on a drifted host, a failed host's error, and why a host has nothing to say yet. */
function HostDetail({ host }: { host: StackHost }) {
  if (host.state === 'drifted') {
    return (
      <ul class="drift" data-testid="drift">
        {(host.drift ?? []).map((drift) => (
          <li>
            <strong>{drift.service}</strong> {drift.what}
          </li>
        ))}
      </ul>
    );
  }
  if (host.error) return <pre class="stderr">{host.error}</pre>;
  if (host.state === 'pending') return <span class="muted">not reported applied yet</span>;
  if (host.state === 'offline') return <span class="muted">agent not live</span>;
  return null;
}
