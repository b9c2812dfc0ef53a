import { batch, signal, type Signal } from '@preact/signals';
import { h, type ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { call, can, callOfJob, homeTarget, me, nodePath, startNodeCall, targetSegment, type Agent, type ContainerSummary, type HostResult, type Job, type NodeCall } from './api';
import { useBatched, useFeed } from './feed';
import { usePoll } from './hooks';
import { go, route } from './router';

const FAILED = new Set(['failed']);

export function badge(status: string): ComponentChildren {
  return h('span', { class: `badge ${status}` }, status);
}

function ago(iso: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return seconds < 120 ? `${seconds}s ago` : `${Math.round(seconds / 60)}m ago`;
}

export function errorLine(error?: string): ComponentChildren {
  return error ? h('p', { class: 'error', role: 'alert' }, error) : null;
}

/** Re-renders every `everyMs`, so ages ("12s ago") stay true between events. */
function useTick(everyMs: number): void {
  const [, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((n) => n + 1), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
}

interface StateCounts {
  running: number;
  stopped: number;
}

/** Running and stopped containers per host, from one container list on the key's widest target. */
function useContainerCounts(): Map<string, StateCounts> | undefined {
  const list = usePoll(() => call<{ results: HostResult[] }>('GET', `/node/${targetSegment(homeTarget())}/container/docker?all=true`), 10_000, []);
  if (!list.data) return undefined;
  const counts = new Map<string, StateCounts>();
  for (const row of list.data.results) {
    if (row.status !== 'ok') continue;
    const running = (row.containers ?? []).filter((c) => c.State === 'running').length;
    counts.set(row.hostname, { running, stopped: (row.containers ?? []).length - running });
  }
  return counts;
}

function labelChips(labels: Record<string, string> = {}): ComponentChildren {
  return Object.entries(labels).map(([k, v]) => h('span', { class: 'label' }, `${k}=${v}`));
}

export function FleetView() {
  const [agents, setAgents] = useState<Map<string, Agent>>(new Map());
  const [busy, setBusy] = useState('');
  const [error, setError] = useState('');
  const counts = useContainerCounts();
  useTick(1000);
  // A thousand agents heartbeat every few seconds: their changes are applied in batches, one render each.
  const applyChanges = useBatched<{ event: string; data: unknown }>((changes) =>
    setAgents((prev) => {
      const next = new Map(prev);
      for (const { event, data } of changes) {
        if (event === 'agent') next.set((data as Agent).hostname, data as Agent);
        else next.delete((data as { hostname: string }).hostname);
      }
      return next;
    }),
  );
  const feed = useFeed(
    '/feed/agents',
    (event, data) => {
      if (event === 'agents') setAgents(new Map((data as { agents: Agent[] }).agents.map((a) => [a.hostname, a])));
      else if (event === 'agent' || event === 'gone') applyChanges({ event, data });
    },
    [],
  );
  const act = async (agent: Agent, action: 'drain' | 'undrain' | 'accept') => {
    setBusy(agent.hostname);
    setError('');
    try {
      await call('POST', `/agent/${encodeURIComponent(agent.hostname)}/${action}`);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy('');
    }
  };
  const list = [...agents.values()].sort((a, b) => a.hostname.localeCompare(b.hostname));
  const pending = list.filter((a) => a.enrollment === 'pending').length;
  // Enrolment changes which hosts every scope reaches: the gateway takes it from unscoped keys only.
  const mayEnrol = can('agent:write') && !me.value?.scope;
  return h('section', { 'data-view': 'fleet' }, [
    h('h2', null, [`Fleet · ${list.length} agents`, pending ? h('span', { class: 'badge pending' }, `${pending} pending`) : null, h('span', { class: `feed ${feed.status}`, title: feed.error ?? '' }, feed.status)]),
    errorLine(feed.error ?? error),
    h(TargetPreview, null),
    h('table', { class: 'grid' }, [
      h('thead', null, h('tr', null, ['Host', 'State', 'Engine', 'Containers', 'Heartbeat', 'Labels', 'Versions', ''].map((c) => h('th', null, c)))),
      h(
        'tbody',
        null,
        list.map((agent) => {
          const count = counts?.get(agent.hostname);
          return h('tr', { 'data-host': agent.hostname, 'data-enrollment': agent.enrollment ?? 'accepted', key: agent.hostname }, [
            h('td', { class: 'host' }, agent.hostname),
            h('td', null, [badge(agent.live ? 'live' : 'gone'), agent.drained ? badge('drained') : null, agent.enrollment === 'pending' ? badge('pending') : null]),
            h('td', { title: agent.engine?.error ?? '' }, badge(agent.engine?.healthy ? 'healthy' : 'unhealthy')),
            h(
              'td',
              { class: 'counts', 'data-testid': `counts-${agent.hostname}` },
              count ? [h('span', { class: 'count running' }, `${count.running} running`), ' ', h('span', { class: 'count stopped' }, `${count.stopped} stopped`)] : h('span', { class: 'muted' }, '—'),
            ),
            h('td', null, ago(agent.last_seen_at)),
            h(
              'td',
              null,
              agent.enrollment === 'pending'
                ? h('span', { class: 'muted' }, ['asks for ', labelChips(agent.requested_labels)])
                : labelChips(agent.labels),
            ),
            h('td', { class: 'muted' }, `agent ${agent.agent_version ?? '?'} · engine ${agent.engine_version ?? '?'}`),
            h('td', { class: 'actions' }, [
              agent.enrollment === 'pending' && mayEnrol
                ? h('button', { class: 'mutate', disabled: busy === agent.hostname, onClick: () => act(agent, 'accept') }, 'Accept')
                : null,
              agent.enrollment !== 'pending' && can('agent:write')
                ? h('button', { class: 'mutate', disabled: busy === agent.hostname, onClick: () => act(agent, agent.drained ? 'undrain' : 'drain') }, agent.drained ? 'Undrain' : 'Drain')
                : null,
            ]),
          ]);
        }),
      ),
    ]),
  ]);
}

/** Which hosts a target reaches (GET /target/{target}), resolved as a job would be, before anything runs. */
function TargetPreview() {
  const [target, setTarget] = useState(homeTarget());
  const [preview, setPreview] = useState<{ hosts?: string[]; error?: string }>({});
  const resolve = async (event: Event) => {
    event.preventDefault();
    try {
      const resolved = await call<{ hosts: string[] }>('GET', `/target/${targetSegment(target)}`);
      setPreview({ hosts: resolved.hosts });
    } catch (err) {
      setPreview({ error: (err as Error).message });
    }
  };
  return h('form', { class: 'toolbar', onSubmit: resolve }, [
    h('label', null, ['Target ', h('input', { name: 'target', value: target, onInput: (e: Event) => setTarget((e.target as HTMLInputElement).value) })]),
    h('button', { type: 'submit' }, 'Preview hosts'),
    preview.hosts ? h('span', { class: 'preview', 'data-testid': 'target-hosts' }, `${preview.hosts.length} hosts: ${preview.hosts.join(', ')}`) : null,
    errorLine(preview.error),
  ]);
}

interface ContainerRow extends ContainerSummary {
  hostname: string;
  name: string;
}

type Action = 'start' | 'stop' | 'restart' | 'remove';

function actionCall(action: Action, id: string): NodeCall {
  return action === 'remove'
    ? { method: 'DELETE', rest: `/container/docker/${encodeURIComponent(id)}` }
    : { method: 'POST', rest: `/container/docker/${encodeURIComponent(id)}/${action}` };
}

/** `host`, `none`, or `label:<key>` (containers grouped by the value of that label). */
type Grouping = string;

function groupOf(c: ContainerRow, grouping: Grouping): string {
  if (grouping === 'host') return c.hostname;
  if (grouping.startsWith('label:')) return c.Labels?.[grouping.slice('label:'.length)] ?? '';
  return '';
}

function groupTitle(group: string, grouping: Grouping): string {
  if (grouping === 'host') return group;
  const label = grouping.slice('label:'.length);
  return group ? `${label}=${group}` : `no ${label} label`;
}

export function ContainersView() {
  const [target, setTarget] = useState(homeTarget());
  const [filter, setFilter] = useState('');
  const [groupBy, setGroupBy] = useState<Grouping>('host');
  const [sortKey, setSortKey] = useState<'name' | 'hostname' | 'Image' | 'State'>('name');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [pending, setPending] = useState<Action | null>(null);
  const [started, setStarted] = useState<string[]>([]);
  const list = usePoll(() => call<{ results: HostResult[] }>('GET', `/node/${targetSegment(target)}/container/docker?all=true`), 3000, [target]);
  const results = list.data?.results ?? [];
  const silent = results.filter((r) => r.status !== 'ok');
  const needle = filter.toLowerCase();
  const all: ContainerRow[] = results.flatMap((r) => (r.containers ?? []).map((c) => ({ ...c, hostname: r.hostname, name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, '') })));
  const labelKeys = [...new Set(all.flatMap((c) => Object.keys(c.Labels ?? {})))].sort();
  const rows = all
    .filter((c) => !needle || [c.name, c.hostname, c.Image, c.State, ...Object.entries(c.Labels ?? {}).map(([k, v]) => `${k}=${v}`)].some((s) => s?.toLowerCase().includes(needle)))
    .sort((a, b) => groupOf(a, groupBy).localeCompare(groupOf(b, groupBy)) || String(a[sortKey] ?? '').localeCompare(String(b[sortKey] ?? '')));
  const keyOf = (c: ContainerRow) => `${c.hostname}/${c.Id}`;
  const chosen = rows.filter((c) => selected.has(keyOf(c)));
  const toggle = (c: ContainerRow) => {
    const next = new Set(selected);
    if (next.has(keyOf(c))) next.delete(keyOf(c));
    else next.add(keyOf(c));
    setSelected(next);
  };
  const run = async (action: Action) => {
    setPending(null);
    const jobs = await Promise.all(chosen.map((c) => startNodeCall(c.hostname, actionCall(action, c.Id))));
    setSelected(new Set());
    setStarted(jobs);
    if (jobs.length === 1) go(`/job/${jobs[0]}`);
  };
  const writable = can('docker:write');
  const columns = writable ? 7 : 6;
  const body: ComponentChildren[] = [];
  let currentGroup: string | undefined;
  for (const c of rows) {
    const group = groupOf(c, groupBy);
    if (groupBy !== 'none' && group !== currentGroup) {
      currentGroup = group;
      const members = rows.filter((r) => groupOf(r, groupBy) === group);
      const running = members.filter((r) => r.State === 'running').length;
      body.push(
        h('tr', { class: 'group', key: `group:${group}`, 'data-group': group }, [
          h('td', { colSpan: columns }, [h('strong', null, groupTitle(group, groupBy)), h('span', { class: 'muted' }, ` · ${members.length} container${members.length === 1 ? '' : 's'}, ${running} running`)]),
        ]),
      );
    }
    body.push(
      h('tr', { key: keyOf(c), 'data-host': c.hostname, 'data-name': c.name }, [
        writable ? h('td', { class: 'select' }, h('input', { type: 'checkbox', 'aria-label': `select ${c.hostname} ${c.name}`, checked: selected.has(keyOf(c)), onChange: () => toggle(c) })) : null,
        h('td', { class: 'host' }, c.hostname),
        h('td', { class: 'name' }, c.name),
        h('td', { class: 'muted image' }, c.Image ?? ''),
        h('td', null, badge(c.State ?? 'unknown')),
        h('td', { class: 'muted' }, c.Status ?? ''),
        h('td', null, labelChips(c.Labels)),
      ]),
    );
  }
  return h('section', { 'data-view': 'containers' }, [
    h('h2', null, `Containers · ${rows.length} on ${results.length - silent.length} hosts`),
    h('div', { class: 'toolbar' }, [
      h('label', null, ['Target ', h('input', { name: 'target', value: target, onChange: (e: Event) => setTarget((e.target as HTMLInputElement).value) })]),
      h('label', null, ['Filter ', h('input', { name: 'filter', size: 32, placeholder: 'name, image, host, label=value', value: filter, onInput: (e: Event) => setFilter((e.target as HTMLInputElement).value) })]),
      h('label', null, [
        'Group ',
        h('select', { name: 'group', value: groupBy, onChange: (e: Event) => setGroupBy((e.target as HTMLSelectElement).value) }, [
          h('option', { value: 'host' }, 'by host'),
          ...labelKeys.map((k) => h('option', { value: `label:${k}` }, `by label ${k}`)),
          h('option', { value: 'none' }, 'none'),
        ]),
      ]),
      writable
        ? (['start', 'stop', 'restart', 'remove'] as Action[]).map((a) => h('button', { class: 'mutate', disabled: chosen.length === 0, onClick: () => setPending(a) }, a[0].toUpperCase() + a.slice(1)))
        : null,
    ]),
    errorLine(list.error),
    silent.length
      ? h('p', { class: 'silent-hosts', role: 'status' }, `${silent.length} of ${results.length} hosts did not answer: ${silent.map((r) => `${r.hostname} — ${r.error ?? r.status}`).join('; ')}`)
      : null,
    pending
      ? h('div', { class: 'confirm', role: 'dialog' }, [
          h('p', null, `${pending} ${chosen.length} container(s) on ${new Set(chosen.map((c) => c.hostname)).size} host(s):`),
          h('ul', null, chosen.map((c) => h('li', null, `${c.hostname}: ${c.name}`))),
          h('button', { class: 'mutate danger', onClick: () => run(pending) }, `Confirm ${pending}`),
          h('button', { onClick: () => setPending(null) }, 'Cancel'),
        ])
      : null,
    started.length > 1 ? h('p', { class: 'notice' }, ['Started: ', started.map((id) => h('a', { href: `#/job/${id}` }, id.slice(0, 8) + ' '))]) : null,
    h('table', { class: 'grid' }, [
      h(
        'thead',
        null,
        h('tr', null, [
          writable ? h('th', { class: 'select' }, '') : null,
          ...(['hostname', 'name', 'Image', 'State'] as const).map((k) => h('th', { class: 'sortable', onClick: () => setSortKey(k) }, { hostname: 'Host', name: 'Name', Image: 'Image', State: 'State' }[k])),
          h('th', null, 'Status'),
          h('th', null, 'Labels'),
        ]),
      ),
      h('tbody', null, body),
    ]),
  ]);
}

export function ExecView() {
  const [form, setForm] = useState({ target: '_all', container: '', command: '' });
  const [error, setError] = useState('');
  const field = (name: keyof typeof form, label: string) =>
    h('label', null, [label + ' ', h('input', { name, value: form[name], onInput: (e: Event) => setForm({ ...form, [name]: (e.target as HTMLInputElement).value }) })]);
  const submit = async (event: Event) => {
    event.preventDefault();
    setError('');
    try {
      const jobId = await startNodeCall(form.target, { method: 'POST', rest: `/container/docker/${encodeURIComponent(form.container)}/exec`, body: { cmd: ['sh', '-c', form.command] } });
      go(`/job/${jobId}`);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  if (!can('docker:exec')) return h('section', { 'data-view': 'exec' }, [h('h2', null, 'Exec'), h('p', { class: 'muted' }, 'This key may not run commands (needs docker:exec).')]);
  return h('section', { 'data-view': 'exec' }, [
    h('h2', null, 'Exec in a container on a target'),
    h('form', { class: 'stack', onSubmit: submit }, [field('target', 'Target'), field('container', 'Container'), field('command', 'Command (sh -c)'), h('button', { type: 'submit', class: 'mutate' }, 'Run')]),
    errorLine(error),
  ]);
}

const FINAL = new Set(['ok', 'failed', 'skipped']);
/** Matrix rows rendered per slice of main-thread time. */
const ROWS_PER_SLICE = 150;

/** The job's status as the gateway computes it from its rows (README "Responses"). */
function statusOf(rows: HostResult[]): string {
  if (rows.some((r) => !FINAL.has(r.status))) return 'running';
  const failed = rows.filter((r) => r.status === 'failed').length;
  return failed === 0 ? 'ok' : failed === rows.length ? 'failed' : 'partial';
}

/**
 * A job as the page holds it while its rows land: one signal per host row, so a row that changes
 * re-renders its own table row and nothing else (a 1,000-host matrix stays responsive), and a
 * version bumped per batch for the few things that count rows (progress, failed count).
 */
interface LiveJob {
  job: Job;
  rows: Map<string, Signal<HostResult>>;
  status: Signal<string>;
  version: Signal<number>;
}

function liveJob(job: Job): LiveJob {
  const byHost = new Map(job.results.map((r) => [r.hostname, r]));
  const rows = new Map(job.hosts.map((host) => [host, signal<HostResult>(byHost.get(host) ?? { hostname: host, status: 'pending' })]));
  return { job, rows, status: signal(job.status), version: signal(0) };
}

function rowsOf(live: LiveJob): HostResult[] {
  return [...live.rows.values()].map((row) => row.peek());
}

/** Puts rows in; the job's status follows its rows until the gateway's settled job says it last. */
function applyRows(live: LiveJob, rows: HostResult[], settledStatus?: string): void {
  batch(() => {
    for (const row of rows) {
      const slot = live.rows.get(row.hostname);
      if (slot) slot.value = row;
    }
    live.status.value = settledStatus ?? statusOf(rowsOf(live));
    live.version.value++;
  });
}

/** The job as its feed (GET /feed/job/{id}) tells it: the job, then each row as it lands, then the settled job. */
function useJobFeed(jobId: string): { live?: LiveJob; error?: string } {
  const [live, setLive] = useState<LiveJob | undefined>();
  const current = useRef<LiveJob | undefined>(undefined);
  const addRows = useBatched<HostResult>((rows) => current.current && applyRows(current.current, rows));
  const feed = useFeed(
    `/feed/job/${jobId}`,
    (event, data) => {
      if (event === 'job') {
        current.current = liveJob(data as Job);
        setLive(current.current);
      } else if (event === 'row') addRows(data as HostResult);
      else if (event === 'end') {
        const settled = (data as { job?: Job }).job;
        // After the batch of rows still queued, so the settled job is what stays on screen.
        if (settled) setTimeout(() => current.current && applyRows(current.current, settled.results, settled.status), 60);
        return 'stop';
      }
    },
    [jobId],
  );
  return { live, error: feed.error };
}

function MatrixRow({ row }: { row: Signal<HostResult> }) {
  const r = row.value;
  return h('tr', { 'data-host': r.hostname, 'data-status': r.status }, [
    h('td', { class: 'host' }, r.hostname),
    h('td', null, badge(r.status)),
    h('td', null, r.exit_code ?? ''),
    h('td', null, r.duration_ms === undefined ? '' : `${r.duration_ms} ms`),
    h('td', { class: 'output' }, [
      r.error ? h('pre', { class: 'stderr' }, `${r.error}${r.error_code ? ` (${r.error_code})` : ''}`) : null,
      r.stdout ? h('pre', { class: 'stdout' }, r.stdout) : null,
      r.stderr ? h('pre', { class: 'stderr' }, r.stderr) : null,
      r.message && !r.stdout ? h('span', null, r.message) : null,
    ]),
  ]);
}

/** Depends on every row: whoever lists them is re-rendered per batch of rows. */
function failedHosts(live: LiveJob): string[] {
  void live.version.value;
  return rowsOf(live)
    .filter((r) => FAILED.has(r.status))
    .map((r) => r.hostname);
}

/** The rows shown: all of them (rendered once, each updating itself), or the failed ones (re-listed per batch). */
function MatrixBody({ live, failedOnly }: { live: LiveJob; failedOnly: boolean }) {
  const hosts = failedOnly ? failedHosts(live) : live.job.hosts;
  // A thousand rows are put on the page a slice at a time, so a click is never stuck behind one long render.
  const [shown, setShown] = useState(ROWS_PER_SLICE);
  useEffect(() => {
    if (shown >= hosts.length) return;
    const timer = setTimeout(() => setShown(shown + ROWS_PER_SLICE), 0);
    return () => clearTimeout(timer);
  }, [shown, hosts.length]);
  return h(
    'tbody',
    null,
    hosts.slice(0, shown).map((host) => h(MatrixRow, { key: host, row: live.rows.get(host) as Signal<HostResult> })),
  );
}

function JobProgress({ live }: { live: LiveJob }) {
  void live.version.value;
  const done = rowsOf(live).filter((r) => FINAL.has(r.status)).length;
  const total = live.job.hosts.length;
  return h('div', null, [
    h('p', { class: 'muted' }, `${live.job.operation} on ${live.job.target} · by ${live.job.caller} · ${new Date(live.job.created_at).toLocaleString()} · ${done} of ${total} hosts done`),
    h('div', { class: 'progress', title: `${done} of ${total}` }, h('div', { class: 'bar', style: { width: `${(100 * done) / Math.max(1, total)}%` } })),
  ]);
}

function FailedCount({ live }: { live: LiveJob }) {
  void live.version.value;
  return h('span', null, ` Failed only (${rowsOf(live).filter((r) => FAILED.has(r.status)).length})`);
}

export function JobView({ jobId }: { jobId: string }) {
  const { live, error: feedError } = useJobFeed(jobId);
  const [failedOnly, setFailedOnly] = useState(false);
  const [reruns, setReruns] = useState<string[]>([]);
  const [error, setError] = useState('');
  if (!live) return h('section', { 'data-view': 'job' }, [h('h2', null, `Job ${jobId}`), errorLine(feedError ?? error)]);
  // Read here so the header and the rerun button follow the status (a handful of changes, not one per row).
  const status = live.status.value;
  const failed = status === 'running' ? [] : rowsOf(live).filter((r) => FAILED.has(r.status));
  const original = callOfJob(jobId);
  const rerun = async () => {
    if (!original) return;
    try {
      setReruns(await Promise.all(failed.map((r) => startNodeCall(r.hostname, original))));
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return h('section', { 'data-view': 'job' }, [
    h('h2', null, ['Job ', h('code', null, live.job.job_id), ' ', badge(status)]),
    h(JobProgress, { live }),
    h('div', { class: 'toolbar' }, [
      h('label', null, [h('input', { type: 'checkbox', name: 'failed-only', checked: failedOnly, onChange: () => setFailedOnly(!failedOnly) }), h(FailedCount, { live })]),
      original && failed.length && can(permissionOfCall(original))
        ? h('button', { class: 'mutate', onClick: rerun }, `Rerun on failed hosts (${failed.length > 5 ? `${failed.length} hosts` : failed.map((r) => r.hostname).join(', ')})`)
        : null,
    ]),
    errorLine(error),
    reruns.length ? h('p', { class: 'notice', 'data-testid': 'reruns' }, ['Rerun jobs: ', reruns.map((id) => h('a', { href: `#/job/${id}` }, `${id} `))]) : null,
    h('table', { class: 'grid matrix' }, [h('thead', null, h('tr', null, ['Host', 'Status', 'Exit', 'Duration', 'Output'].map((c) => h('th', null, c)))), h(MatrixBody, { live, failedOnly })]),
    original ? h(CopyAs, { target: live.job.target, nodeCall: original }) : null,
  ]);
}

function permissionOfCall(nodeCall: NodeCall): string {
  return nodeCall.rest.endsWith('/exec') ? 'docker:exec' : 'docker:write';
}

/** The same call for a terminal: curl against this gateway (the key stays a variable, never printed). */
function CopyAs({ target, nodeCall }: { target: string; nodeCall: NodeCall }) {
  const url = `${location.origin}${nodePath(target, nodeCall)}`;
  const body = nodeCall.body === undefined ? '' : ` -H 'content-type: application/json' -d '${JSON.stringify(nodeCall.body)}'`;
  const curl = `curl -X ${nodeCall.method} -H "Authorization: Bearer $FLEET_API_KEY"${body} '${url}'`;
  const sdk = `await fleet.raw('${nodeCall.method}', '${nodePath(target, nodeCall)}'${nodeCall.body === undefined ? '' : `, { body: ${JSON.stringify(nodeCall.body)} }`});`;
  return h('details', { class: 'copy-as' }, [
    h('summary', null, 'Copy as curl / SDK'),
    h('pre', { 'data-testid': 'curl' }, curl),
    h('button', { onClick: () => navigator.clipboard?.writeText(curl) }, 'Copy curl'),
    h('pre', null, sdk),
    h('button', { onClick: () => navigator.clipboard?.writeText(sdk) }, 'Copy SDK'),
  ]);
}

const JOB_FACETS = ['status', 'operation', 'caller', 'target'] as const;

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

export function JobsView() {
  const params = new URLSearchParams(route.value.query);
  const query = JOB_FACETS.filter((f) => params.get(f)).map((f) => `${f}=${encodeURIComponent(params.get(f) ?? '')}`).join('&');
  const [jobs, setJobs] = useState<Job[] | undefined>();
  const [error, setError] = useState('');
  // Jobs heard on the feed before the first page arrived: merged into it, so none is lost in between.
  const early = useRef<Job[]>([]);
  useEffect(() => {
    let cancelled = false;
    setJobs(undefined);
    call<{ jobs: Job[] }>('GET', `/job?limit=${JOBS_SHOWN}${query ? `&${query}` : ''}`).then(
      (page) => {
        if (cancelled) return;
        const heard = early.current.splice(0);
        setJobs(heard.reduce((list, job) => upsertJob(list, job, new URLSearchParams(route.value.query)), page.jobs));
      },
      (err: Error) => !cancelled && setError(err.message),
    );
    return () => {
      cancelled = true;
    };
  }, [query]);
  // New jobs and their outcomes arrive on the feed; the facets are applied here as GET /job applies them.
  const feed = useFeed(
    '/feed/jobs',
    (event, data) => {
      if (event !== 'job') return;
      setJobs((prev) => {
        if (!prev) early.current.push(data as Job);
        return prev && upsertJob(prev, data as Job, new URLSearchParams(route.value.query));
      });
    },
    [],
  );
  const setFacet = (facet: string, value: string) => {
    const next = new URLSearchParams(route.value.query);
    if (value) next.set(facet, value);
    else next.delete(facet);
    go(`/jobs?${next.toString()}`);
  };
  return h('section', { 'data-view': 'jobs' }, [
    h('h2', null, ['Jobs ', h('span', { class: `feed ${feed.status}`, title: feed.error ?? '' }, feed.status)]),
    h('div', { class: 'toolbar' }, [
      h('label', null, [
        'Status ',
        h('select', { name: 'status', value: params.get('status') ?? '', onChange: (e: Event) => setFacet('status', (e.target as HTMLSelectElement).value) }, ['', 'running', 'ok', 'partial', 'failed'].map((s) => h('option', { value: s }, s || 'any'))),
      ]),
      ...(['operation', 'caller', 'target'] as const).map((f) =>
        h('label', null, [`${f[0].toUpperCase()}${f.slice(1)} `, h('input', { name: f, value: params.get(f) ?? '', onChange: (e: Event) => setFacet(f, (e.target as HTMLInputElement).value) })]),
      ),
    ]),
    errorLine(error || feed.error),
    h('table', { class: 'grid' }, [
      h('thead', null, h('tr', null, ['Job', 'Status', 'Operation', 'Target', 'Hosts', 'Caller', 'Created'].map((c) => h('th', null, c)))),
      h(
        'tbody',
        null,
        (jobs ?? []).map((j) =>
          h('tr', { key: j.job_id, 'data-job': j.job_id }, [
            h('td', null, h('a', { href: `#/job/${j.job_id}` }, j.job_id.slice(0, 8))),
            h('td', null, badge(j.status)),
            h('td', null, j.operation),
            h('td', null, j.target),
            h('td', null, String(j.hosts.length)),
            h('td', null, j.caller),
            h('td', { class: 'muted' }, ago(j.created_at)),
          ]),
        ),
      ),
    ]),
  ]);
}
