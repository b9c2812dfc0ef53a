import { useEffect, useRef, useState } from 'preact/hooks';
import { targetSegment } from '../api';
import { openStream, readEvents } from '../feed';
import { ContainerFields, Field } from '../components/field';
import { messageOf } from '../hooks';
import { endStatus, type StreamEnd, type StreamStart } from './streams';

interface LogLine {
  hostname: string;
  stream: 'stdout' | 'stderr';
  text: string;
}

/** A `stdout` or `stderr` event of the logs stream: a host's text. */
interface LogText {
  hostname: string;
  text: string;
}

const MAX_LINES = 5000;
const HOST_COLOURS = 8;

function hostColour(hostname: string, hosts: string[]): string {
  return `host-${hosts.indexOf(hostname) % HOST_COLOURS}`;
}

/** Lines matching the regex typed (case-insensitive), and what is wrong with it when it is not one. */
function useRegexFilter(lines: LogLine[], pattern: string): { shown: LogLine[]; patternError: string } {
  try {
    const matcher = pattern ? new RegExp(pattern, 'i') : null;
    return { shown: matcher ? lines.filter((l) => matcher.test(l.text)) : lines, patternError: '' };
  } catch (err) {
    return { shown: lines, patternError: messageOf(err) };
  }
}

function download(lines: LogLine[], fileName: string): void {
  const blob = new Blob([lines.map((l) => `${l.hostname} | ${l.text}`).join('\n') + '\n'], { type: 'text/plain' });
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = fileName;
  link.click();
  URL.revokeObjectURL(link.href);
}

const FIRST_FORM = { target: '_all', container: '', tail: '100', since: '', timestamps: false };

export function LogsView() {
  const [form, setForm] = useState(FIRST_FORM);
  const [following, setFollowing] = useState<AbortController | null>(null);
  const [lines, setLines] = useState<LogLine[]>([]);
  const [hosts, setHosts] = useState<string[]>([]);
  const [status, setStatus] = useState('');
  const [pattern, setPattern] = useState('');
  const [paused, setPaused] = useState(false);
  const pane = useRef<HTMLPreElement>(null);

  useEffect(() => () => following?.abort(), [following]);
  useEffect(() => {
    if (!paused && pane.current) pane.current.scrollTop = pane.current.scrollHeight;
  }, [lines, paused]);

  const follow = async (event: Event) => {
    event.preventDefault();
    following?.abort();
    const controller = new AbortController();
    setFollowing(controller);
    setLines([]);
    setStatus('connecting…');
    const query = new URLSearchParams({ follow: 'true', timeout: '300', timestamps: String(form.timestamps) });
    if (form.tail) query.set('tail', form.tail);
    if (form.since) query.set('since', String(Math.floor(Date.parse(form.since) / 1000)));
    const path = `/node/${targetSegment(form.target)}/container/docker/${encodeURIComponent(form.container)}/logs?${query}`;
    try {
      const res = await openStream(path, controller.signal);
      setStatus('following');
      await readEvents(res, (name, data) => {
        if (name === 'job') setHosts((JSON.parse(data) as StreamStart).hosts);
        else if (name === 'stdout' || name === 'stderr') {
          const { hostname, text } = JSON.parse(data) as LogText;
          const fresh = text
            .replace(/\n$/, '')
            .split('\n')
            .map((line): LogLine => ({ hostname, stream: name, text: line }));
          setLines((prev) => [...prev, ...fresh].slice(-MAX_LINES));
        } else if (name === 'end') setStatus(endStatus(JSON.parse(data) as StreamEnd));
      });
    } catch (err) {
      if ((err as Error).name !== 'AbortError') setStatus(messageOf(err));
    }
  };
  const stop = () => {
    following?.abort();
    setFollowing(null);
    setStatus('stopped');
  };

  const { shown, patternError } = useRegexFilter(lines, pattern);
  const onScroll = () => {
    const el = pane.current;
    if (el) setPaused(el.scrollHeight - el.scrollTop - el.clientHeight > 24);
  };
  const set = (name: 'tail' | 'since') => (value: string) => setForm({ ...form, [name]: value });

  return (
    <section data-view="logs">
      <h2>Logs</h2>
      <form class="toolbar" onSubmit={follow}>
        <ContainerFields form={form} setForm={setForm} />
        <Field label="Tail" name="tail" value={form.tail} onValue={set('tail')} />
        <Field label="Since" name="since" dateTime value={form.since} onValue={set('since')} />
        <label>
          <input type="checkbox" checked={form.timestamps} onChange={() => setForm({ ...form, timestamps: !form.timestamps })} /> Timestamps
        </label>
        <button type="submit">Follow</button>
        {following ? (
          <button type="button" onClick={stop}>
            Stop
          </button>
        ) : null}
      </form>
      <div class="toolbar">
        <Field label="Regex" name="regex" value={pattern} onValue={setPattern} />
        <button type="button" onClick={() => download(shown, `${form.container || 'logs'}.log`)} disabled={shown.length === 0}>
          Download
        </button>
        <span class="muted" data-testid="log-status">{`${status}${paused ? ' · paused (scroll to the bottom to resume)' : ''}`}</span>
        {patternError ? <span class="error">{patternError}</span> : null}
      </div>
      <pre class="logpane" ref={pane} onScroll={onScroll} data-testid="log-lines">
        {shown.map((l) => (
          <div class={l.stream}>
            <span class={`prefix ${hostColour(l.hostname, hosts)}`}>{l.hostname.padEnd(12)}</span>
            {` ${l.text}`}
          </div>
        ))}
      </pre>
    </section>
  );
}
