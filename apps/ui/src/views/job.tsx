import type { Signal } from '@preact/signals';
import { useEffect, useState } from 'preact/hooks';
import type { HostResult, Job } from '@fleet/sdk';
import { callOfJob } from '../api';
import { Badge, ErrorLine } from '../components/badge';
import { Table, type Column } from '../components/table';
import { CopyAs } from './copy-as';
import { RerunControls, RerunLinks } from './job-rerun';
import { RolloutPanel } from './job-rollout';
import { failedRows, finishedRows, followRows, rowsOf, useJobFeed, type LiveJob } from './live-job';

/** Matrix rows put on the page per slice of main-thread time: each slice is a block of the table, drawn once. */
const ROWS_PER_SLICE = 150;

export function JobView({ jobId }: { jobId: string }) {
  const { live, error: feedError } = useJobFeed(jobId);
  const [failedOnly, setFailedOnly] = useState(false);
  if (!live) {
    return (
      <section data-view="job">
        <h2>{`Job ${jobId}`}</h2>
        <ErrorLine error={feedError} />
      </section>
    );
  }
  // Read here so the header and the rerun buttons follow the status (a handful of changes, not one per row).
  const status = live.status.value;
  const record = live.record.value;
  const original = callOfJob(jobId);
  const rowOf = (host: string) => live.rows.get(host)?.peek();
  return (
    <section data-view="job">
      <h2>
        Job <code>{live.job.job_id}</code> <Badge status={status} />
        {record.rollout && record.rollout.state !== 'running' && record.rollout.state !== 'completed' ? (
          <Badge status={record.rollout.state}>{`rollout ${record.rollout.state}`}</Badge>
        ) : null}
      </h2>
      <JobProgress live={live} />
      <RerunLinks job={record} />
      <RolloutPanel job={record} rowOf={rowOf} onControlled={(rollout) => (live.record.value = { ...live.record.peek(), rollout })} />
      <div class="toolbar">
        <label>
          <input type="checkbox" name="failed-only" checked={failedOnly} onChange={() => setFailedOnly(!failedOnly)} />
          <FailedCount live={live} />
        </label>
      </div>
      {status === 'running' ? null : <RerunControls job={record} rows={rowsOf(live)} />}
      <Matrix live={live} failedOnly={failedOnly} columns={matrixColumns(record)} />
      {original ? <CopyAs target={live.job.target} nodeCall={original} /> : null}
    </section>
  );
}

function JobProgress({ live }: { live: LiveJob }) {
  const done = finishedRows(followRows(live)).length;
  const total = live.job.hosts.length;
  const { operation, target, caller, created_at } = live.job;
  const created = new Date(created_at).toLocaleString();
  return (
    <div>
      <p class="muted">{`${operation} on ${target} · by ${caller} · ${created} · ${done} of ${total} hosts done`}</p>
      <div class="progress" title={`${done} of ${total}`}>
        <div class="bar" style={{ width: `${(100 * done) / Math.max(1, total)}%` }} />
      </div>
    </div>
  );
}

function FailedCount({ live }: { live: LiveJob }) {
  return <span>{` Failed only (${failedRows(followRows(live)).length})`}</span>;
}

/** A rollout's matrix says each host's wave (from the plan: a row sent in a wave need not name it). */
function matrixColumns(job: Job): Column<Signal<HostResult>>[] {
  if (!job.rollout) return MATRIX_COLUMNS;
  const waveOf = new Map(job.rollout.waves.flatMap((wave) => wave.hosts.map((host) => [host, wave.wave] as const)));
  const wave: Column<Signal<HostResult>> = { header: 'Wave', cell: (row) => row.value.wave ?? waveOf.get(row.value.hostname) ?? '' };
  return [MATRIX_COLUMNS[0], wave, ...MATRIX_COLUMNS.slice(1)];
}

/** Each host's row reads its own signal: a row that lands re-renders that table row only. */
const MATRIX_COLUMNS: Column<Signal<HostResult>>[] = [
  { header: 'Host', class: 'host', cell: (row) => row.value.hostname },
  { header: 'Status', cell: (row) => <Badge status={row.value.status} /> },
  { header: 'Exit', cell: (row) => row.value.exit_code ?? '' },
  { header: 'Duration', cell: (row) => (row.value.duration_ms === undefined ? '' : `${row.value.duration_ms} ms`) },
  { header: 'Output', class: 'output', cell: (row) => <Output row={row.value} /> },
];

function Output({ row }: { row: HostResult }) {
  return (
    <>
      {row.error ? <pre class="stderr">{`${row.error}${row.error_code ? ` (${row.error_code})` : ''}`}</pre> : null}
      {row.stdout ? <pre class="stdout">{row.stdout}</pre> : null}
      {row.stderr ? <pre class="stderr">{row.stderr}</pre> : null}
      {row.message && !row.stdout ? <span>{row.message}</span> : null}
      {row.skipped_reason ? <span class="skipped-reason">{`not sent: ${row.skipped_reason}`}</span> : null}
      {row.gate && !row.error?.includes(row.gate) ? <span class="gate">{`gate: ${row.gate}`}</span> : null}
    </>
  );
}

/** The rows shown: all of them (rendered once, each updating itself), or the failed ones (re-listed per batch). */
function Matrix({ live, failedOnly, columns }: { live: LiveJob; failedOnly: boolean; columns: Column<Signal<HostResult>>[] }) {
  const hosts = failedOnly ? failedRows(followRows(live)).map((r) => r.hostname) : live.job.hosts;
  // A thousand rows are put on the page a slice at a time, so a click is never stuck behind one long render.
  const [shown, setShown] = useState(ROWS_PER_SLICE);
  useEffect(() => {
    if (shown >= hosts.length) return;
    const timer = setTimeout(() => setShown(shown + ROWS_PER_SLICE), 0);
    return () => clearTimeout(timer);
  }, [shown, hosts.length]);
  const rows = hosts.slice(0, shown).flatMap((host) => live.rows.get(host) ?? []);
  return (
    <Table
      class={columns.length > MATRIX_COLUMNS.length ? 'matrix job-matrix waves' : 'matrix job-matrix'}
      columns={columns}
      rows={rows}
      rowKey={hostOfRow}
      rowAttributes={matrixRowAttributes}
      blockSize={ROWS_PER_SLICE}
    />
  );
}

const hostOfRow = (row: Signal<HostResult>) => row.peek().hostname;
const matrixRowAttributes = (row: Signal<HostResult>) => ({ 'data-host': row.value.hostname, 'data-status': row.value.status });
