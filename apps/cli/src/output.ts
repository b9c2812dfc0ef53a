import type TableType from 'cli-table3';
import type YAMLType from 'yaml';
import type { AgentList, AuditList, HostResult, Job, JobList, Rollout } from '@fleet/sdk';

/** Human output: docker-style borderless tables and YAML blocks. `--json` bypasses all of this. */

// The table and YAML packages load on first use: `--json` never needs them, and a pipeline pays every
// module the CLI loads at start on each call.
const Table = (): typeof TableType => require('cli-table3');
const YAML = (): typeof YAMLType => require('yaml');

type Item = Record<string, unknown>;
type Column = [header: string, cell: (item: Item) => unknown];

const BORDERLESS = Object.fromEntries(
  [
    'top',
    'top-mid',
    'top-left',
    'top-right',
    'bottom',
    'bottom-mid',
    'bottom-left',
    'bottom-right',
    'left',
    'left-mid',
    'mid',
    'mid-mid',
    'right',
    'right-mid',
  ].map((name) => [name, '']),
);

function cellText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map(cellText).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value).replace(/\s+/g, ' ').trim();
}

export function table(head: string[], rows: unknown[][]): string {
  const rendered = new (Table())({
    head,
    chars: { ...BORDERLESS, middle: '   ' },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  rendered.push(...rows.map((row) => row.map(cellText)));
  return `${rendered
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')}\n`;
}

export function write(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function writeJson(value: unknown): void {
  write(JSON.stringify(value, null, 2));
}

const shortId = (value: unknown) =>
  String(value ?? '')
    .replace(/^sha256:/, '')
    .slice(0, 12);

function bytes(value: unknown): string {
  if (typeof value !== 'number') return cellText(value);
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let size = value;
  let unit = 0;
  while (size >= 1000 && unit < units.length - 1) {
    size /= 1000;
    unit++;
  }
  return `${unit === 0 ? size : size.toFixed(1)}${units[unit]}`;
}

const unixTime = (value: unknown) =>
  typeof value === 'number' ? new Date(value * 1000).toISOString().replace(/\.\d+Z$/, 'Z') : cellText(value);

/** Columns for the Engine's list items, by the row field that carries them; others get their first scalar fields. */
const LIST_COLUMNS: Record<string, Column[]> = {
  containers: [
    ['CONTAINER ID', (c) => shortId(c.Id)],
    ['NAMES', (c) => ((c.Names as string[] | undefined) ?? []).map((name) => name.replace(/^\//, ''))],
    ['IMAGE', (c) => c.Image],
    ['STATE', (c) => c.State],
    ['STATUS', (c) => c.Status],
  ],
  images: [
    ['IMAGE ID', (i) => shortId(i.Id)],
    ['TAGS', (i) => i.RepoTags],
    ['SIZE', (i) => bytes(i.Size)],
    ['CREATED', (i) => unixTime(i.Created)],
  ],
  volumes: [
    ['NAME', (v) => v.Name],
    ['DRIVER', (v) => v.Driver],
    ['MOUNTPOINT', (v) => v.Mountpoint],
  ],
  networks: [
    ['NETWORK ID', (n) => shortId(n.Id)],
    ['NAME', (n) => n.Name],
    ['DRIVER', (n) => n.Driver],
    ['SCOPE', (n) => n.Scope],
  ],
  history: [
    ['IMAGE', (h) => shortId(h.Id)],
    ['CREATED', (h) => unixTime(h.Created)],
    ['CREATED BY', (h) => cellText(h.CreatedBy).slice(0, 60)],
    ['SIZE', (h) => bytes(h.Size)],
  ],
  changes: [
    ['KIND', (c) => ['C', 'A', 'D'][c.Kind as number] ?? c.Kind],
    ['PATH', (c) => c.Path],
  ],
};

/** What `-q` prints for an item of a list, as docker's `-q` does: short ids, a volume's name. */
const LIST_IDS: Record<string, (item: Item) => unknown> = {
  containers: (c) => shortId(c.Id),
  images: (i) => shortId(i.Id),
  volumes: (v) => v.Name,
  networks: (n) => shortId(n.Id),
};

/** The ids of every ok host's list items, one per line, each after its hostname and a tab when `withHost`. */
export function renderIds(results: readonly HostResult[], withHost: boolean): string {
  const rows = (results as unknown as Item[]).filter((row) => row.status === 'ok');
  const lines = rows.flatMap((row) =>
    Object.entries(LIST_IDS)
      .filter(([field]) => Array.isArray(row[field]))
      .flatMap(([field, id]) => (row[field] as Item[]).map((item) => cellText(id(item))))
      .map((id) => (withHost ? `${cellText(row.hostname)}\t${id}` : id)),
  );
  return lines.map((line) => `${line}\n`).join('');
}

function defaultColumns(items: Item[]): Column[] {
  const first = items.find((item) => item && typeof item === 'object') ?? {};
  return Object.keys(first)
    .filter((key) => first[key] === null || typeof first[key] !== 'object')
    .slice(0, 6)
    .map((key) => [key.toUpperCase(), (item) => item[key]]);
}

/** Fields every row has; the rest are the operation's own. */
const ROW_FIELDS = new Set(['hostname', 'status', 'changed', 'error', 'error_code', 'message', 'id', 'duration_ms', 'skipped_reason']);
const TEXT_FIELDS = new Set(['stdout', 'stderr']);
/** How much output the agent saw and kept (`OutputBounds`): said in the detail when it cut something, never a column. */
const OUTPUT_BOUNDS = new Set(['stdout_bytes', 'stderr_bytes', 'truncated']);

interface Shape {
  /** Arrays of objects (or of arrays, with `titles`): one table over all hosts. */
  lists: string[];
  /** Objects (inspect documents, info, stats): a YAML block per host. */
  blocks: string[];
  /** Command output: a text block per host. */
  texts: string[];
  /** Anything else: an extra column of the summary. */
  scalars: string[];
}

function shapeOf(rows: Item[]): Shape {
  const shape: Shape = { lists: [], blocks: [], texts: [], scalars: [] };
  const keys = [...new Set(rows.flatMap((row) => Object.keys(row)))].filter(
    (key) => !ROW_FIELDS.has(key) && !OUTPUT_BOUNDS.has(key) && key !== 'titles',
  );
  for (const key of keys) {
    const values = rows.map((row) => row[key]).filter((value) => value !== undefined && value !== null);
    if (values.some((value) => Array.isArray(value) && value.some((entry) => typeof entry === 'object' && entry !== null)))
      shape.lists.push(key);
    else if (values.some((value) => typeof value === 'object' && !Array.isArray(value))) shape.blocks.push(key);
    else if (TEXT_FIELDS.has(key) || values.some((value) => typeof value === 'string' && value.includes('\n'))) shape.texts.push(key);
    else shape.scalars.push(key);
  }
  return shape;
}

function detailOf(row: Item): string {
  if (row.status === 'failed') return `${cellText(row.error)}${row.error_code ? ` (${row.error_code})` : ''}`;
  if (row.status === 'skipped') return cellText(row.skipped_reason);
  const detail = cellText(row.message ?? row.id ?? '');
  return row.truncated
    ? `${detail} (output cut: ${row.stdout_bytes ?? 0} bytes of stdout, ${row.stderr_bytes ?? 0} of stderr seen)`
    : detail;
}

function summary(rows: Item[], scalars: string[]): string {
  return table(
    ['HOST', 'STATUS', 'CHANGED', ...scalars.map((key) => key.toUpperCase()), 'DETAIL'],
    rows.map((row) => [row.hostname, row.status, row.changed ? 'yes' : 'no', ...scalars.map((key) => row[key]), detailOf(row)]),
  );
}

function listTable(rows: Item[], field: string): string {
  const withItems = rows.filter((row) => Array.isArray(row[field]));
  const titles = withItems.map((row) => row.titles).find(Array.isArray) as string[] | undefined;
  if (titles) {
    // `top`: one array of columns per process, titled by `titles`.
    const lines = withItems.flatMap((row) => (row[field] as unknown[][]).map((process) => [row.hostname, ...process]));
    return table(['HOST', ...titles], lines);
  }
  const items = withItems.flatMap((row) => row[field] as Item[]);
  const columns = LIST_COLUMNS[field] ?? defaultColumns(items);
  const lines = withItems.flatMap((row) => (row[field] as Item[]).map((item) => [row.hostname, ...columns.map(([, cell]) => cell(item))]));
  return table(['HOST', ...columns.map(([header]) => header)], lines);
}

/** One row per host as a summary table, or, for lists, one table of every host's items; documents and output follow per host. */
export function renderRows(results: readonly HostResult[]): string {
  const rows = results as unknown as Item[];
  const shape = shapeOf(rows);
  const parts: string[] = [];
  if (shape.lists.length > 0) {
    for (const field of shape.lists) parts.push(listTable(rows, field));
    const notOk = rows.filter((row) => row.status !== 'ok');
    if (notOk.length > 0) parts.push(summary(notOk, []));
  } else {
    parts.push(summary(rows, shape.scalars));
  }
  for (const row of rows) {
    for (const key of shape.blocks) if (row[key] !== undefined) parts.push(`--- ${row.hostname} ${key} ---\n${YAML().stringify(row[key])}`);
    for (const key of shape.texts) if (row[key]) parts.push(`--- ${row.hostname} ${key} ---\n${String(row[key]).replace(/\n?$/, '\n')}`);
  }
  return parts.join('\n');
}

export function renderJob(job: Job): string {
  const header = table(
    [],
    [
      ['job', job.job_id],
      ['operation', job.operation],
      ['target', job.target],
      ['status', job.status],
      ['caller', job.caller],
      ['created', job.created_at],
      ['hosts', job.hosts.join(', ')],
    ],
  );
  return `${header}\n${job.rollout ? `${renderRollout(job.rollout)}\n` : ''}${renderRows(job.results)}`;
}

/** A rollout's state, who holds it, its failures and its waves (README "Rollouts"). */
export function renderRollout(rollout: Rollout): string {
  const held = rollout.paused_by ? `, held by ${rollout.paused_by}` : '';
  const head = `rollout ${rollout.state}${held}: ${rollout.failures} failure(s), ${rollout.max_failures} tolerated`;
  const stop = rollout.stop_reason ? `\n${rollout.stop_reason}` : '';
  const waves = rollout.waves.map((wave) => [wave.wave, wave.state, wave.hosts.join(' '), (wave.failed ?? []).join(' ')]);
  return `${head}${stop}\n${table(['WAVE', 'STATE', 'HOSTS', 'FAILED'], waves)}`;
}

/** What `fleet agent ls` adds on stderr: how many matched, by state (the table shows one page). */
export function agentCountsLine(list: AgentList): string {
  const { online, drained, offline } = list.counts;
  return `${list.total} matching; ${online} online, ${drained} drained, ${offline} offline`;
}

export function renderJobs(list: JobList): string {
  return table(
    ['JOB ID', 'OPERATION', 'TARGET', 'STATUS', 'HOSTS', 'CALLER', 'CREATED'],
    list.jobs.map((job) => [job.job_id, job.operation, job.target, job.status, job.hosts.length, job.caller, job.created_at]),
  );
}

export function renderAgents(list: AgentList): string {
  return table(
    ['HOSTNAME', 'LIVE', 'DRAINED', 'ENGINE', 'LABELS', 'ENROLLMENT', 'AGENT', 'LAST SEEN'],
    [...list.agents]
      .sort((a, b) => a.hostname.localeCompare(b.hostname))
      .map((agent) => [
        agent.hostname,
        agent.live ? 'yes' : 'no',
        agent.drained ? 'yes' : 'no',
        agent.engine?.healthy === false ? `down: ${agent.engine.error ?? ''}` : (agent.engine_version ?? ''),
        // A pending agent has no labels yet: show what it asks for, marked as such.
        agent.enrollment === 'accepted' ? formatLabels(agent.labels) : `requested: ${formatLabels(agent.requested_labels)}`,
        agent.enrollment,
        agent.build ? `${agent.agent_version ?? ''} (${agent.build})` : agent.agent_version,
        agent.last_seen_at,
      ]),
  );
}

function formatLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

export function renderAudit(list: AuditList): string {
  return table(
    ['TIME', 'CALLER', 'METHOD', 'PATH', 'STATUS', 'MS', 'JOB'],
    list.entries.map((entry) => [
      entry.time,
      entry.caller ?? '-',
      entry.method,
      entry.path,
      entry.status,
      Math.round(entry.duration_ms),
      entry.job_id ?? '',
    ]),
  );
}

export function renderYaml(value: unknown): string {
  return YAML().stringify(value);
}
