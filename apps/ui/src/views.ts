import { h, type ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { call, can, callOfJob, nodePath, startNodeCall, targetSegment, type Agent, type ContainerSummary, type HostResult, type Job, type NodeCall } from './api';
import { usePoll } from './hooks';
import { go, route } from './router';

const FAILED = new Set(['failed']);

function badge(status: string): ComponentChildren {
  return h('span', { class: `badge ${status}` }, status);
}

function ago(iso: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return seconds < 120 ? `${seconds}s ago` : `${Math.round(seconds / 60)}m ago`;
}

function errorLine(error?: string): ComponentChildren {
  return error ? h('p', { class: 'error', role: 'alert' }, error) : null;
}

export function FleetView() {
  const agents = usePoll(() => call<{ agents: Agent[] }>('GET', '/agent'), 3000, []);
  const [busy, setBusy] = useState('');
  const drain = async (agent: Agent) => {
    setBusy(agent.hostname);
    try {
      await call('POST', `/agent/${encodeURIComponent(agent.hostname)}/${agent.drained ? 'undrain' : 'drain'}`);
    } finally {
      setBusy('');
      agents.refresh();
    }
  };
  const list = agents.data?.agents ?? [];
  return h('section', { 'data-view': 'fleet' }, [
    h('h2', null, `Fleet · ${list.length} agents`),
    errorLine(agents.error),
    h(TargetPreview, null),
    h('table', { class: 'grid' }, [
      h('thead', null, h('tr', null, ['Host', 'Live', 'Drained', 'Engine', 'Heartbeat', 'Labels', 'Versions', ''].map((c) => h('th', null, c)))),
      h(
        'tbody',
        null,
        list.map((agent) =>
          h('tr', { 'data-host': agent.hostname, key: agent.hostname }, [
            h('td', { class: 'host' }, agent.hostname),
            h('td', null, badge(agent.live ? 'live' : 'gone')),
            h('td', null, agent.drained ? badge('drained') : '—'),
            h('td', { title: agent.engine?.error ?? '' }, badge(agent.engine?.healthy ? 'healthy' : 'unhealthy')),
            h('td', null, ago(agent.last_seen_at)),
            h('td', null, Object.entries(agent.labels).map(([k, v]) => h('span', { class: 'label' }, `${k}=${v}`))),
            h('td', { class: 'muted' }, `agent ${agent.agent_version ?? '?'} · engine ${agent.engine_version ?? '?'}`),
            h(
              'td',
              null,
              can('agent:write')
                ? h('button', { class: 'mutate', disabled: busy === agent.hostname, onClick: () => drain(agent) }, agent.drained ? 'Undrain' : 'Drain')
                : null,
            ),
          ]),
        ),
      ),
    ]),
  ]);
}

/** Which hosts a target reaches (GET /target/{target}), resolved as a job would be, before anything runs. */
function TargetPreview() {
  const [target, setTarget] = useState('_all');
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

export function ContainersView() {
  const [target, setTarget] = useState('_all');
  const [filter, setFilter] = useState('');
  const [groupBy, setGroupBy] = useState<'none' | 'host'>('host');
  const [sortKey, setSortKey] = useState<'name' | 'hostname' | 'Image' | 'State'>('name');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [pending, setPending] = useState<Action | null>(null);
  const [started, setStarted] = useState<string[]>([]);
  const list = usePoll(() => call<{ results: HostResult[] }>('GET', `/node/${targetSegment(target)}/container/docker?all=true`), 3000, [target]);
  const results = list.data?.results ?? [];
  const silent = results.filter((r) => r.status !== 'ok');
  const needle = filter.toLowerCase();
  const rows: ContainerRow[] = results
    .flatMap((r) => (r.containers ?? []).map((c) => ({ ...c, hostname: r.hostname, name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, '') })))
    .filter((c) => !needle || [c.name, c.hostname, c.Image, c.State, ...Object.entries(c.Labels ?? {}).map(([k, v]) => `${k}=${v}`)].some((s) => s?.toLowerCase().includes(needle)))
    .sort((a, b) => (groupBy === 'host' ? a.hostname.localeCompare(b.hostname) : 0) || String(a[sortKey] ?? '').localeCompare(String(b[sortKey] ?? '')));
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
  return h('section', { 'data-view': 'containers' }, [
    h('h2', null, `Containers · ${rows.length} on ${results.length - silent.length} hosts`),
    h('div', { class: 'toolbar' }, [
      h('label', null, ['Target ', h('input', { name: 'target', value: target, onChange: (e: Event) => setTarget((e.target as HTMLInputElement).value) })]),
      h('label', null, ['Filter ', h('input', { name: 'filter', placeholder: 'name, image, host, label=value', value: filter, onInput: (e: Event) => setFilter((e.target as HTMLInputElement).value) })]),
      h('label', null, [
        'Group ',
        h('select', { value: groupBy, onChange: (e: Event) => setGroupBy((e.target as HTMLSelectElement).value as 'none' | 'host') }, [h('option', { value: 'host' }, 'by host'), h('option', { value: 'none' }, 'none')]),
      ]),
      writable
        ? (['start', 'stop', 'restart', 'remove'] as Action[]).map((a) => h('button', { class: 'mutate', disabled: chosen.length === 0, onClick: () => setPending(a) }, a[0].toUpperCase() + a.slice(1)))
        : null,
    ]),
    errorLine(list.error),
    silent.length
      ? h('p', { class: 'partial', role: 'status' }, `${silent.length} of ${results.length} hosts did not answer: ${silent.map((r) => `${r.hostname} — ${r.error ?? r.status}`).join('; ')}`)
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
          writable ? h('th', null, '') : null,
          ...(['hostname', 'name', 'Image', 'State'] as const).map((k) => h('th', { class: 'sortable', onClick: () => setSortKey(k) }, { hostname: 'Host', name: 'Name', Image: 'Image', State: 'State' }[k])),
          h('th', null, 'Status'),
          h('th', null, 'Labels'),
        ]),
      ),
      h(
        'tbody',
        null,
        rows.map((c) =>
          h('tr', { key: keyOf(c), 'data-host': c.hostname, 'data-name': c.name }, [
            writable ? h('td', null, h('input', { type: 'checkbox', 'aria-label': `select ${c.hostname} ${c.name}`, checked: selected.has(keyOf(c)), onChange: () => toggle(c) })) : null,
            h('td', { class: 'host' }, c.hostname),
            h('td', null, c.name),
            h('td', { class: 'muted' }, c.Image ?? ''),
            h('td', null, badge(c.State ?? 'unknown')),
            h('td', { class: 'muted' }, c.Status ?? ''),
            h('td', null, Object.entries(c.Labels ?? {}).map(([k, v]) => h('span', { class: 'label' }, `${k}=${v}`))),
          ]),
        ),
      ),
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

export function JobView({ jobId }: { jobId: string }) {
  const job = usePoll(() => call<Job>('GET', `/job/${jobId}`), 1000, [jobId], (j) => j.status !== 'running' && j.status !== 'pending');
  const [failedOnly, setFailedOnly] = useState(false);
  const [reruns, setReruns] = useState<string[]>([]);
  const [error, setError] = useState('');
  const data = job.data;
  if (!data) return h('section', { 'data-view': 'job' }, [h('h2', null, `Job ${jobId}`), errorLine(job.error ?? error)]);
  const byHost = new Map(data.results.map((r) => [r.hostname, r]));
  const rows = data.hosts.map((hostname) => byHost.get(hostname) ?? { hostname, status: 'pending' });
  const failed = rows.filter((r) => FAILED.has(r.status));
  const shown = failedOnly ? failed : rows;
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
    h('h2', null, ['Job ', h('code', null, data.job_id), ' ', badge(data.status)]),
    h('p', { class: 'muted' }, `${data.operation} on ${data.target} · by ${data.caller} · ${new Date(data.created_at).toLocaleString()} · ${data.results.length} of ${data.hosts.length} rows`),
    h('div', { class: 'toolbar' }, [
      h('label', null, [h('input', { type: 'checkbox', name: 'failed-only', checked: failedOnly, onChange: () => setFailedOnly(!failedOnly) }), ` Failed only (${failed.length})`]),
      original && failed.length && data.status !== 'running' && can(permissionOfCall(original))
        ? h('button', { class: 'mutate', onClick: rerun }, `Rerun on failed hosts (${failed.map((r) => r.hostname).join(', ')})`)
        : null,
    ]),
    errorLine(error),
    reruns.length ? h('p', { class: 'notice', 'data-testid': 'reruns' }, ['Rerun jobs: ', reruns.map((id) => h('a', { href: `#/job/${id}` }, `${id} `))]) : null,
    h('table', { class: 'grid matrix' }, [
      h('thead', null, h('tr', null, ['Host', 'Status', 'Exit', 'Duration', 'Output'].map((c) => h('th', null, c)))),
      h(
        'tbody',
        null,
        shown.map((r) =>
          h('tr', { key: r.hostname, 'data-host': r.hostname, 'data-status': r.status }, [
            h('td', { class: 'host' }, r.hostname),
            h('td', null, badge(r.status)),
            h('td', null, r.exit_code ?? ''),
            h('td', null, r.duration_ms === undefined ? '' : `${r.duration_ms} ms`),
            h('td', null, [
              r.error ? h('pre', { class: 'stderr' }, `${r.error}${r.error_code ? ` (${r.error_code})` : ''}`) : null,
              r.stdout ? h('pre', { class: 'stdout' }, r.stdout) : null,
              r.stderr ? h('pre', { class: 'stderr' }, r.stderr) : null,
              r.message && !r.stdout ? h('span', null, r.message) : null,
            ]),
          ]),
        ),
      ),
    ]),
    original ? h(CopyAs, { target: data.target, nodeCall: original }) : null,
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

export function JobsView() {
  const params = new URLSearchParams(route.value.query);
  const query = JOB_FACETS.filter((f) => params.get(f)).map((f) => `${f}=${encodeURIComponent(params.get(f) ?? '')}`).join('&');
  const jobs = usePoll(() => call<{ jobs: Job[] }>('GET', `/job?limit=100${query ? `&${query}` : ''}`), 3000, [query]);
  const setFacet = (facet: string, value: string) => {
    const next = new URLSearchParams(route.value.query);
    if (value) next.set(facet, value);
    else next.delete(facet);
    go(`/jobs?${next.toString()}`);
  };
  return h('section', { 'data-view': 'jobs' }, [
    h('h2', null, 'Jobs'),
    h('div', { class: 'toolbar' }, [
      h('label', null, [
        'Status ',
        h('select', { name: 'status', value: params.get('status') ?? '', onChange: (e: Event) => setFacet('status', (e.target as HTMLSelectElement).value) }, ['', 'running', 'ok', 'partial', 'failed'].map((s) => h('option', { value: s }, s || 'any'))),
      ]),
      ...(['operation', 'caller', 'target'] as const).map((f) =>
        h('label', null, [`${f[0].toUpperCase()}${f.slice(1)} `, h('input', { name: f, value: params.get(f) ?? '', onChange: (e: Event) => setFacet(f, (e.target as HTMLInputElement).value) })]),
      ),
    ]),
    errorLine(jobs.error),
    h('table', { class: 'grid' }, [
      h('thead', null, h('tr', null, ['Job', 'Status', 'Operation', 'Target', 'Hosts', 'Caller', 'Created'].map((c) => h('th', null, c)))),
      h(
        'tbody',
        null,
        (jobs.data?.jobs ?? []).map((j) =>
          h('tr', { key: j.job_id }, [
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
