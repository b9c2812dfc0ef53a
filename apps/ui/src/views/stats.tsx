import { useEffect, useState } from 'preact/hooks';
import { homeTarget, targetSegment } from '../api';
import { ContainerFields } from '../components/field';
import { Table, type Column } from '../components/table';
import { openStream, readEvents } from '../feed';
import { messageOf } from '../hooks';
import { route } from '../router';
import { cpuPercent, hasPrevious, memoryBytes, mib, type EngineStats } from './engine-stats';
import { Sparkline } from './sparkline';
import { endStatus, type StreamEnd } from './streams';

/** Samples kept per host: two minutes at the engine's one sample a second. */
const SAMPLES = 120;

interface Series {
  hostname: string;
  cpu: number[];
  memory: number[];
}

/** A named stream the page holds open: aborted when a new one starts or the view goes away. */
function useStream(): [AbortController | null, (next: AbortController | null) => void] {
  const [current, setCurrent] = useState<AbortController | null>(null);
  useEffect(() => () => current?.abort(), [current]);
  return [current, (next) => (current?.abort(), setCurrent(next))];
}

function withSample(series: Map<string, Series>, sample: EngineStats): Map<string, Series> {
  const next = new Map(series);
  const old = next.get(sample.hostname) ?? { hostname: sample.hostname, cpu: [], memory: [] };
  const cpu = [...old.cpu, cpuPercent(sample)].slice(-SAMPLES);
  next.set(sample.hostname, { hostname: sample.hostname, cpu, memory: [...old.memory, memoryBytes(sample)].slice(-SAMPLES) });
  return next;
}

const last = (values: number[]) => values[values.length - 1] ?? 0;

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
    const path = `/node/${targetSegment(form.target)}/container/docker/${encodeURIComponent(form.container)}/stats`;
    try {
      const res = await openStream(`${path}?stream=true&timeout=300`, controller.signal);
      setStatus('following');
      await readEvents(res, (name, data) => {
        if (name === 'stats') {
          const sample = JSON.parse(data) as EngineStats;
          if (hasPrevious(sample)) setSeries((prev) => withSample(prev, sample));
        } else if (name === 'end') setStatus(endStatus(JSON.parse(data) as StreamEnd));
      });
    } catch (err) {
      if ((err as Error).name !== 'AbortError') setStatus(messageOf(err));
    }
  };
  // A shared link (#/stats?target=…&container=…) starts following at once.
  useEffect(() => {
    if (form.container) void follow();
  }, []);

  const columns: Column<Series>[] = [
    { header: 'Host', class: 'host', cell: (s) => s.hostname },
    {
      header: 'CPU (% of one host)',
      class: 'spark-cell cpu',
      cell: (s) => <SparkPair values={s.cpu} label={`CPU of ${form.container} on ${s.hostname}`} figure={`${last(s.cpu).toFixed(1)} %`} />,
    },
    {
      header: 'Memory (without page cache)',
      class: 'spark-cell memory',
      cell: (s) => <SparkPair values={s.memory} label={`memory of ${form.container} on ${s.hostname}`} figure={mib(last(s.memory))} />,
    },
  ];
  return (
    <section data-view="stats">
      <h2>Stats</h2>
      <form class="toolbar" onSubmit={follow}>
        <ContainerFields form={form} setForm={setForm} />
        <button type="submit">Follow stats</button>
        {stream ? (
          <button type="button" onClick={() => (setStream(null), setStatus('stopped'))}>
            Stop
          </button>
        ) : null}
        <span class="muted" data-testid="stats-status">
          {status}
        </span>
      </form>
      <Table
        class="stats"
        columns={columns}
        rows={[...series.values()].sort((a, b) => a.hostname.localeCompare(b.hostname))}
        rowKey={(s) => s.hostname}
        rowAttributes={(s) => ({ 'data-host': s.hostname, 'data-samples': s.cpu.length, 'data-cpu-max': Math.max(0, ...s.cpu).toFixed(1) })}
        empty={<p class="muted">Name a container and follow its stats: one line per host, the last two minutes.</p>}
      />
    </section>
  );
}

function SparkPair({ values, label, figure }: { values: number[]; label: string; figure: string }) {
  return (
    <div class="spark-pair">
      <Sparkline values={values} label={label} />
      <span class="figure">{figure}</span>
    </div>
  );
}
