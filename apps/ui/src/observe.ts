import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { homeTarget, targetSegment } from './api';
import { openStream, readEvents } from './feed';
import { route, go } from './router';
import { badge, errorLine } from './views';

/** Samples kept per host: two minutes at the engine's one sample a second. */
const SAMPLES = 120;
const SPARK_WIDTH = 240;
const SPARK_HEIGHT = 36;
/** Events kept on the events page; older ones scroll away. */
const EVENTS_KEPT = 1000;

/**
 * A tiny inline SVG line of `values` (no chart library: a polyline is all a sparkline needs, and
 * the bundle stays small). The y axis runs from 0 to the largest value shown.
 */
export function Sparkline({ values, label }: { values: number[]; label: string }) {
  // Headroom above the largest value, so a flat line stays visible inside the box.
  const max = Math.max(...values, 1e-9) * 1.15;
  // Until the window is full the line spans what there is, so a fresh chart is not a dot in a corner.
  const step = SPARK_WIDTH / Math.max(1, values.length - 1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(SPARK_HEIGHT - 2 - (v / max) * (SPARK_HEIGHT - 4)).toFixed(1)}`).join(' ');
  return h('svg', { class: 'spark', width: SPARK_WIDTH, height: SPARK_HEIGHT, viewBox: `0 0 ${SPARK_WIDTH} ${SPARK_HEIGHT}`, role: 'img', 'aria-label': label }, [
    h('polyline', { points, fill: 'none', stroke: 'currentColor', 'stroke-width': 1.5 }),
  ]);
}

interface EngineStats {
  hostname: string;
  read?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: { cache?: number; inactive_file?: number } };
}

/** The engine's first streamed sample has no previous one to compare with: it carries no CPU figure. */
function hasPrevious(s: EngineStats): boolean {
  return (s.precpu_stats?.system_cpu_usage ?? 0) > 0;
}

/** CPU as the docker CLI computes it: the container's share of the host's CPU time since the previous sample. */
function cpuPercent(s: EngineStats): number {
  const cpu = (s.cpu_stats?.cpu_usage?.total_usage ?? 0) - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const system = (s.cpu_stats?.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
  return system > 0 && cpu > 0 ? (cpu / system) * (s.cpu_stats?.online_cpus ?? 1) * 100 : 0;
}

/** Memory in use without the page cache, as `docker stats` shows it. */
function memoryBytes(s: EngineStats): number {
  const usage = s.memory_stats?.usage ?? 0;
  return Math.max(0, usage - (s.memory_stats?.stats?.inactive_file ?? s.memory_stats?.stats?.cache ?? 0));
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

interface Series {
  cpu: number[];
  memory: number[];
}

/** A named stream the page holds open: aborted when a new one starts or the view goes away. */
function useStream(): [AbortController | null, (next: AbortController | null) => void] {
  const [current, setCurrent] = useState<AbortController | null>(null);
  useEffect(() => () => current?.abort(), [current]);
  return [current, (next) => (current?.abort(), setCurrent(next))];
}

/** Stats sparklines of one container on every host of a target (docker.container.stats, `stream=true`). */
export function StatsView() {
  const params = new URLSearchParams(route.value.query);
  const [form, setForm] = useState({ target: params.get('target') ?? homeTarget(), container: params.get('container') ?? '' });
  const [series, setSeries] = useState<Map<string, Series>>(new Map());
  const [status, setStatus] = useState('');
  const [stream, setStream] = useStream();

  const follow = async (event?: Event) => {
    event?.preventDefault();
    const controller = new AbortController();
    setStream(controller);
    setSeries(new Map());
    setStatus('connecting…');
    try {
      const res = await openStream(`/node/${targetSegment(form.target)}/container/docker/${encodeURIComponent(form.container)}/stats?stream=true&timeout=300`, controller.signal);
      setStatus('following');
      await readEvents(res, (name, data) => {
        if (name === 'stats') {
          const sample = JSON.parse(data) as EngineStats;
          if (!hasPrevious(sample)) return;
          setSeries((prev) => {
            const next = new Map(prev);
            const old = next.get(sample.hostname) ?? { cpu: [], memory: [] };
            next.set(sample.hostname, { cpu: [...old.cpu, cpuPercent(sample)].slice(-SAMPLES), memory: [...old.memory, memoryBytes(sample)].slice(-SAMPLES) });
            return next;
          });
        } else if (name === 'end') {
          const failed = ((JSON.parse(data) as { results?: { hostname: string; status: string; error?: string }[] }).results ?? []).filter((r) => r.status !== 'ok');
          setStatus(failed.length ? `ended; ${failed.map((r) => `${r.hostname}: ${r.error ?? r.status}`).join('; ')}` : 'stream ended');
        }
      });
    } catch (err) {
      if ((err as Error).name !== 'AbortError') setStatus((err as Error).message);
    }
  };
  // A shared link (#/stats?target=…&container=…) starts following at once.
  useEffect(() => {
    if (form.container) void follow();
  }, []);

  const hosts = [...series.keys()].sort();
  const input = (name: 'target' | 'container', label: string) =>
    h('label', null, [label + ' ', h('input', { name, value: form[name], onInput: (e: Event) => setForm({ ...form, [name]: (e.target as HTMLInputElement).value }) })]);
  return h('section', { 'data-view': 'stats' }, [
    h('h2', null, 'Stats'),
    h('form', { class: 'toolbar', onSubmit: follow }, [
      input('target', 'Target'),
      input('container', 'Container'),
      h('button', { type: 'submit' }, 'Follow stats'),
      stream ? h('button', { type: 'button', onClick: () => (setStream(null), setStatus('stopped')) }, 'Stop') : null,
      h('span', { class: 'muted', 'data-testid': 'stats-status' }, status),
    ]),
    h('table', { class: 'grid stats' }, [
      h('thead', null, h('tr', null, ['Host', 'CPU (% of one host)', 'Memory (without page cache)'].map((c) => h('th', null, c)))),
      h(
        'tbody',
        null,
        hosts.map((host) => {
          const s = series.get(host) as Series;
          return h('tr', { key: host, 'data-host': host, 'data-samples': s.cpu.length, 'data-cpu-max': Math.max(0, ...s.cpu).toFixed(1) }, [
            h('td', { class: 'host' }, host),
            h('td', { class: 'spark-cell cpu' }, h('div', { class: 'spark-pair' }, [h(Sparkline, { values: s.cpu, label: `CPU of ${form.container} on ${host}` }), h('span', { class: 'figure' }, `${(s.cpu[s.cpu.length - 1] ?? 0).toFixed(1)} %`)])),
            h('td', { class: 'spark-cell memory' }, h('div', { class: 'spark-pair' }, [h(Sparkline, { values: s.memory, label: `memory of ${form.container} on ${host}` }), h('span', { class: 'figure' }, mib(s.memory[s.memory.length - 1] ?? 0))])),
          ]);
        }),
      ),
    ]),
    hosts.length === 0 ? h('p', { class: 'muted' }, 'Name a container and follow its stats: one line per host, the last two minutes.') : null,
  ]);
}

interface EngineEvent {
  hostname: string;
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
}

const EVENT_TYPES = ['', 'container', 'image', 'network', 'volume', 'daemon'];

/** The engines' events (docker.system.events), merged; host and type filters live in the URL. */
export function EventsView() {
  const params = new URLSearchParams(route.value.query);
  const target = params.get('target') ?? homeTarget();
  const type = params.get('type') ?? '';
  const sinceMinutes = params.get('since') ?? '10';
  const [events, setEvents] = useState<EngineEvent[]>([]);
  const [status, setStatus] = useState('');
  const [draft, setDraft] = useState(target);
  const pane = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const controller = new AbortController();
    setEvents([]);
    setStatus('connecting…');
    const query = new URLSearchParams({ timeout: '300', since: String(Math.floor(Date.now() / 1000) - Number(sinceMinutes) * 60) });
    if (type) query.set('filters', JSON.stringify({ type: [type] }));
    openStream(`/node/${targetSegment(target)}/container/docker/system/events?${query}`, controller.signal)
      .then((res) => {
        setStatus('following');
        return readEvents(res, (name, data) => {
          if (name === 'docker') setEvents((prev) => [JSON.parse(data) as EngineEvent, ...prev].slice(0, EVENTS_KEPT));
          else if (name === 'end') setStatus('stream ended (reload the view to follow again)');
        });
      })
      .catch((err: Error) => err.name !== 'AbortError' && setStatus(err.message));
    return () => controller.abort();
  }, [target, type, sinceMinutes]);

  const setParam = (name: string, value: string) => {
    const next = new URLSearchParams(route.value.query);
    if (value) next.set(name, value);
    else next.delete(name);
    go(`/events?${next.toString()}`);
  };
  return h('section', { 'data-view': 'events' }, [
    h('h2', null, `Events · ${events.length}`),
    h('form', { class: 'toolbar', onSubmit: (e: Event) => (e.preventDefault(), setParam('target', draft)) }, [
      h('label', null, ['Hosts ', h('input', { name: 'target', value: draft, onInput: (e: Event) => setDraft((e.target as HTMLInputElement).value) })]),
      h('button', { type: 'submit' }, 'Show'),
      h('label', null, [
        'Type ',
        h('select', { name: 'type', value: type, onChange: (e: Event) => setParam('type', (e.target as HTMLSelectElement).value) }, EVENT_TYPES.map((t) => h('option', { value: t }, t || 'any'))),
      ]),
      h('label', null, [
        'Since ',
        h('select', { name: 'since', value: sinceMinutes, onChange: (e: Event) => setParam('since', (e.target as HTMLSelectElement).value) }, ['1', '10', '60', '1440'].map((m) => h('option', { value: m }, `${m} min`))),
      ]),
      h('span', { class: 'muted', 'data-testid': 'events-status' }, status),
    ]),
    errorLine(status.includes('—') ? status : undefined),
    h('div', { class: 'scroll', ref: pane }, [
      h('table', { class: 'grid' }, [
        h('thead', null, h('tr', null, ['Time', 'Host', 'Type', 'Action', 'Object'].map((c) => h('th', null, c)))),
        h(
          'tbody',
          null,
          events.map((e, i) =>
            h('tr', { key: `${e.hostname}-${e.time}-${i}`, 'data-host': e.hostname, 'data-type': e.Type ?? '', 'data-action': e.Action ?? '', 'data-name': e.Actor?.Attributes?.name ?? '' }, [
              h('td', { class: 'muted' }, e.time ? new Date(e.time * 1000).toLocaleTimeString() : ''),
              h('td', { class: 'host' }, e.hostname),
              h('td', null, e.Type ?? ''),
              h('td', null, badge(e.Action ?? '')),
              h('td', null, e.Actor?.Attributes?.name ?? e.Actor?.ID?.slice(0, 12) ?? ''),
            ]),
          ),
        ),
      ]),
    ]),
  ]);
}
