import { useEffect, useState } from 'preact/hooks';
import type { Stack, StackDeployed, StackRevisionText } from '@fleet/sdk';
import { call, mayCall, reasoned } from '../api';
import { ErrorLine } from '../components/badge';
import { Table, type Column } from '../components/table';
import { messageOf, useAction, type Action } from '../hooks';
import { hostList } from './job-rerun';

type StackRevision = Stack['revisions'][number];

/** The revisions, newest first, each one's compose text on demand, and a rollback to any older one for a `stack:write` key. */
export function StackRevisions({ stack, onChanged }: { stack: Stack; onChanged: () => void }) {
  const [shown, setShown] = useState<number | undefined>();
  const rollback = useAction<number>();
  const [rolledBack, setRolledBack] = useState<StackDeployed | undefined>();
  const mayRollBack = mayCall('stack.rollback');
  const confirm = (to: number) =>
    rollback.run(to, async () => {
      const path = `/stack/${encodeURIComponent(stack.name)}/rollback?to=${to}`;
      setRolledBack(await reasoned(call<StackDeployed>('POST', path)));
      onChanged();
    });
  const columns = revisionColumns(stack, shown, setShown, mayRollBack ? rollback : undefined);
  return (
    <div class="panel">
      <h3>Revisions</h3>
      {rollback.asked !== undefined ? (
        <RollbackDialog stack={stack} to={rollback.asked} onConfirm={confirm} onCancel={rollback.cancel} />
      ) : null}
      <ErrorLine error={rollback.error} />
      {rolledBack ? (
        <p class="notice" data-testid="rolled-back">
          {`Rolled back: revision ${rolledBack.revision} stored, its rollout `}
          <a href={`#/job/${rolledBack.job_id}`}>{`job ${rolledBack.job_id.slice(0, 8)}`}</a>
        </p>
      ) : null}
      <Table
        class="revisions"
        columns={columns}
        rows={stack.revisions}
        rowKey={(revision) => String(revision.revision)}
        rowAttributes={(revision) => ({ 'data-revision': revision.revision, 'data-current': String(revision.revision === stack.revision) })}
      />
      {shown !== undefined ? <ComposeText name={stack.name} revision={shown} onClose={() => setShown(undefined)} /> : null}
    </div>
  );
}

function revisionColumns(
  stack: Stack,
  shown: number | undefined,
  show: (revision: number | undefined) => void,
  rollback: Action<number> | undefined,
): Column<StackRevision>[] {
  const current = (revision: StackRevision) => revision.revision === stack.revision;
  return [
    { header: 'Rev', class: 'nowrap', cell: (r) => (current(r) ? <strong>{`${r.revision} (current)`}</strong> : String(r.revision)) },
    { header: 'Created', class: 'nowrap', cell: (r) => new Date(r.created_at).toLocaleString() },
    { header: 'By', class: 'nowrap', cell: (r) => r.created_by },
    { header: 'Digest', class: 'nowrap', cell: (r) => <code title={r.digest}>{r.digest.slice(0, 19)}</code> },
    { header: 'Images', class: 'image', cell: (r) => r.images.join(', ') },
    {
      header: 'Rolled back from',
      class: 'nowrap',
      cell: (r) => (r.rolled_back_from === undefined ? '' : `revision ${r.rolled_back_from}`),
    },
    { header: 'Rollout', class: 'nowrap', cell: (r) => <a href={`#/job/${r.job_id}`}>{r.job_id.slice(0, 8)}</a> },
    {
      header: '',
      class: 'actions',
      cell: (r) => (
        <>
          <button aria-pressed={shown === r.revision} onClick={() => show(shown === r.revision ? undefined : r.revision)}>
            {`Compose ${r.revision}`}
          </button>
          {rollback && !current(r) ? (
            <button class="mutate" disabled={rollback.busy !== undefined} onClick={() => rollback.ask(r.revision)}>
              {`Roll back to ${r.revision}`}
            </button>
          ) : null}
        </>
      ),
    },
  ];
}

function RollbackDialog({
  stack,
  to,
  onConfirm,
  onCancel,
}: {
  stack: Stack;
  to: number;
  onConfirm: (to: number) => void;
  onCancel: () => void;
}) {
  return (
    <div class="confirm" role="dialog" aria-label={`Roll back to ${to}`}>
      <p>
        {`Roll back ${stack.name} to revision ${to}? Its compose file becomes a new revision, rolled out to ${stack.target} `}
        {`with the stack's rollout policy, now on ${hostList(stack.hosts.map((host) => host.hostname))}.`}
      </p>
      <button class="mutate" onClick={() => onConfirm(to)}>{`Confirm roll back to ${to}`}</button>
      <button onClick={onCancel}>Cancel</button>
    </div>
  );
}

/** One revision's compose file as it was sent (GET /stack/{name}/revisions/{n}); a revision never changes, so it is read once. */
function ComposeText({ name, revision, onClose }: { name: string; revision: number; onClose: () => void }) {
  const [text, setText] = useState<StackRevisionText | undefined>();
  const [error, setError] = useState('');
  useEffect(() => {
    let cancelled = false;
    setText(undefined);
    setError('');
    call<StackRevisionText>('GET', `/stack/${encodeURIComponent(name)}/revisions/${revision}`).then(
      (answer) => !cancelled && setText(answer),
      (err: unknown) => !cancelled && setError(messageOf(err)),
    );
    return () => {
      cancelled = true;
    };
  }, [name, revision]);
  return (
    <div class="compose" data-testid="compose" data-revision={revision}>
      <h3>
        {`Revision ${revision}: compose file`} <button onClick={onClose}>Close</button>
      </h3>
      <ErrorLine error={error} />
      {text ? (
        <>
          <p class="muted">{`${text.digest} · target ${text.target} · by ${text.created_by} · ${new Date(text.created_at).toLocaleString()}`}</p>
          <pre class="compose-text">{text.compose}</pre>
        </>
      ) : null}
    </div>
  );
}
