import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { storedKey, targetSegment } from './api';
import { readEvents } from './feed';

interface LogLine {
  hostname: string;
  stream: 'stdout' | 'stderr';
  text: string;
}

const MAX_LINES = 5000;
const HOST_COLOURS = 8;

function hostColour(hostname: string, hosts: string[]): string {
  return `host-${hosts.indexOf(hostname) % HOST_COLOURS}`;
}

export function LogsView() {
  const [form, setForm] = useState({ target: '_all', container: '', tail: '100', since: '', timestamps: false });
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
    try {
      const res = await fetch(`/node/${targetSegment(form.target)}/container/docker/${encodeURIComponent(form.container)}/logs?${query}`, {
        headers: { authorization: `Bearer ${storedKey()}`, accept: 'text/event-stream' },
        signal: controller.signal,
      });
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { error?: string; details?: string };
        setStatus(`${body.error ?? res.status} — ${body.details ?? ''}`);
        return;
      }
      setStatus('following');
      await readEvents(res, (name, data) => {
        const payload = JSON.parse(data) as { hostname?: string; text?: string; hosts?: string[]; results?: { hostname: string; status: string; error?: string }[] };
        if (name === 'job') setHosts(payload.hosts ?? []);
        else if (name === 'stdout' || name === 'stderr') {
          const fresh = (payload.text ?? '').replace(/\n$/, '').split('\n').map((text) => ({ hostname: payload.hostname ?? '?', stream: name, text }) as LogLine);
          setLines((prev) => [...prev, ...fresh].slice(-MAX_LINES));
        } else if (name === 'end') {
          const failed = (payload.results ?? []).filter((r) => r.status !== 'ok');
          setStatus(failed.length ? `ended; ${failed.map((r) => `${r.hostname}: ${r.error ?? r.status}`).join('; ')}` : 'stream ended');
        }
      });
    } catch (err) {
      if ((err as Error).name !== 'AbortError') setStatus((err as Error).message);
    }
  };

  let matcher: RegExp | null = null;
  let patternError = '';
  try {
    matcher = pattern ? new RegExp(pattern, 'i') : null;
  } catch (err) {
    patternError = (err as Error).message;
  }
  const shown = matcher ? lines.filter((l) => matcher.test(l.text)) : lines;
  const download = () => {
    const blob = new Blob([shown.map((l) => `${l.hostname} | ${l.text}`).join('\n') + '\n'], { type: 'text/plain' });
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = `${form.container || 'logs'}.log`;
    link.click();
    URL.revokeObjectURL(link.href);
  };
  const onScroll = () => {
    const el = pane.current;
    if (el) setPaused(el.scrollHeight - el.scrollTop - el.clientHeight > 24);
  };
  const input = (name: 'target' | 'container' | 'tail' | 'since', label: string, type = 'text') =>
    h('label', null, [label + ' ', h('input', { name, type, value: form[name], onInput: (e: Event) => setForm({ ...form, [name]: (e.target as HTMLInputElement).value }) })]);

  return h('section', { 'data-view': 'logs' }, [
    h('h2', null, 'Logs'),
    h('form', { class: 'toolbar', onSubmit: follow }, [
      input('target', 'Target'),
      input('container', 'Container'),
      input('tail', 'Tail'),
      input('since', 'Since', 'datetime-local'),
      h('label', null, [h('input', { type: 'checkbox', checked: form.timestamps, onChange: () => setForm({ ...form, timestamps: !form.timestamps }) }), ' Timestamps']),
      h('button', { type: 'submit' }, 'Follow'),
      following ? h('button', { type: 'button', onClick: () => (following.abort(), setFollowing(null), setStatus('stopped')) }, 'Stop') : null,
    ]),
    h('div', { class: 'toolbar' }, [
      h('label', null, ['Regex ', h('input', { name: 'regex', value: pattern, onInput: (e: Event) => setPattern((e.target as HTMLInputElement).value) })]),
      h('button', { type: 'button', onClick: download, disabled: shown.length === 0 }, 'Download'),
      h('span', { class: 'muted', 'data-testid': 'log-status' }, `${status}${paused ? ' · paused (scroll to the bottom to resume)' : ''}`),
      patternError ? h('span', { class: 'error' }, patternError) : null,
    ]),
    h(
      'pre',
      { class: 'logpane', ref: pane, onScroll, 'data-testid': 'log-lines' },
      shown.map((l) => h('div', { class: l.stream }, [h('span', { class: `prefix ${hostColour(l.hostname, hosts)}` }, l.hostname.padEnd(12)), ` ${l.text}`])),
    ),
  ]);
}
