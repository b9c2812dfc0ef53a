import { useEffect, useRef, useState } from 'preact/hooks';
import type { Job, JobList, JobStatus } from '@fleet/sdk';
import { call } from '../api';
import { ago, Badge, ErrorLine } from '../components/badge';
import { Field, Select } from '../components/field';
import { Table, type Column } from '../components/table';
import { useFeed } from '../feed';
import { messageOf } from '../hooks';
import { go, route } from '../router';

const JOB_FACETS = ['status', 'operation', 'caller', 'target'] as const;
const STATUS_CHOICES: readonly JobStatus[] = ['running', 'ok', 'partial', 'failed'];
const JOBS_SHOWN = 100;

function matchesFacets(job: Job, params: URLSearchParams): boolean {
  return JOB_FACETS.every((facet) => !params.get(facet) || String(job[facet]) === params.get(facet));
}

/** The list with `job` put in: replaced where it is, added on top when new and matching the facets, dropped when it no longer matches. */
function upsertJob(list: Job[], job: Job, params: URLSearchParams): Job[] {
  const known = list.find((j) => j.job_id === job.job_id);
  // Its start heard after its outcome (a page read after it settled): the outcome stays.
  if (known && known.status !== 'running' && job.status === 'running') return list;
  if (!matchesFacets(job, params)) return known ? list.filter((j) => j.job_id !== job.job_id) : list;
  return known ? list.map((j) => (j.job_id === job.job_id ? job : j)) : [job, ...list].slice(0, JOBS_SHOWN);
}

const currentFacets = () => new URLSearchParams(route.value.query);

/** GET /job with the URL's facets, then kept current by the jobs feed (facets applied here as GET /job applies them). */
function useJobs(query: string) {
  const [jobs, setJobs] = useState<Job[] | undefined>();
  const [error, setError] = useState('');
  // Jobs heard on the feed before the first page arrived: merged into it, so none is lost in between.
  const early = useRef<Job[]>([]);
  useEffect(() => {
    let cancelled = false;
    setJobs(undefined);
    call<JobList>('GET', `/job?limit=${JOBS_SHOWN}${query ? `&${query}` : ''}`).then(
      (page) => {
        if (cancelled) return;
        const heard = early.current.splice(0);
        setJobs(heard.reduce((list, job) => upsertJob(list, job, currentFacets()), page.jobs));
      },
      (err: unknown) => !cancelled && setError(messageOf(err)),
    );
    return () => {
      cancelled = true;
    };
  }, [query]);
  const feed = useFeed(
    '/feed/jobs',
    (event, data) => {
      if (event !== 'job') return;
      setJobs((prev) => {
        if (!prev) early.current.push(data as Job);
        return prev && upsertJob(prev, data as Job, currentFacets());
      });
    },
    [],
  );
  return { jobs: jobs ?? [], error: error || feed.error, feed };
}

const COLUMNS: Column<Job>[] = [
  { header: 'Job', cell: (j) => <a href={`#/job/${j.job_id}`}>{j.job_id.slice(0, 8)}</a> },
  { header: 'Status', cell: (j) => <Badge status={j.status} /> },
  { header: 'Operation', cell: (j) => j.operation },
  { header: 'Target', cell: (j) => j.target },
  { header: 'Hosts', cell: (j) => String(j.hosts.length) },
  { header: 'Caller', cell: (j) => j.caller },
  { header: 'Created', class: 'muted', cell: (j) => ago(j.created_at) },
];

export function JobsView() {
  const params = currentFacets();
  const query = JOB_FACETS.filter((f) => params.get(f))
    .map((f) => `${f}=${encodeURIComponent(params.get(f) ?? '')}`)
    .join('&');
  const { jobs, error, feed } = useJobs(query);
  const setFacet = (facet: string) => (value: string) => {
    const next = currentFacets();
    if (value) next.set(facet, value);
    else next.delete(facet);
    go(`/jobs?${next.toString()}`);
  };
  return (
    <section data-view="jobs">
      <h2>
        Jobs{' '}
        <span class={`feed ${feed.status}`} title={feed.error ?? ''}>
          {feed.status}
        </span>
      </h2>
      <div class="toolbar">
        <Select
          label="Status"
          name="status"
          value={params.get('status') ?? ''}
          onValue={setFacet('status')}
          choices={[{ value: '', label: 'any' }, ...STATUS_CHOICES]}
        />
        {(['operation', 'caller', 'target'] as const).map((f) => (
          <Field label={`${f[0].toUpperCase()}${f.slice(1)}`} name={f} value={params.get(f) ?? ''} onValue={setFacet(f)} commit />
        ))}
      </div>
      <ErrorLine error={error} />
      <Table columns={COLUMNS} rows={jobs} rowKey={(j) => j.job_id} rowAttributes={(j) => ({ 'data-job': j.job_id })} />
    </section>
  );
}
