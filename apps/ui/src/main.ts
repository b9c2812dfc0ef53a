import { h, render } from 'preact';
import { useState } from 'preact/hooks';
import { AdminView } from './admin';
import { can, me, signIn, signOut, storedKey } from './api';
import { LogsView } from './logs';
import { EventsView, StatsView } from './observe';
import { route } from './router';
import { ContainersView, ExecView, FleetView, JobsView, JobView } from './views';

const NAV = [
  ['/fleet', 'Fleet'],
  ['/containers', 'Containers'],
  ['/exec', 'Exec'],
  ['/jobs', 'Jobs'],
  ['/logs', 'Logs'],
  ['/stats', 'Stats'],
  ['/events', 'Events'],
  ['/admin', 'Admin'],
] as const;

/** A view the key can do nothing in is not offered (the gateway would refuse every call of it anyway). */
function offered(href: string): boolean {
  if (href === '/exec') return can('docker:exec');
  if (href === '/admin') return can('audit:read') || can('token:admin');
  return true;
}

function SignIn() {
  const [key, setKey] = useState('');
  const [error, setError] = useState('');
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      await signIn(key.trim());
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return h('main', { class: 'signin' }, [
    h('h1', null, 'Fleet'),
    h('form', { class: 'stack', onSubmit: submit }, [
      h('label', { for: 'api-key' }, 'API key'),
      h('input', { id: 'api-key', type: 'password', autocomplete: 'off', value: key, onInput: (e: Event) => setKey((e.target as HTMLInputElement).value) }),
      h('button', { type: 'submit' }, 'Sign in'),
      error ? h('p', { class: 'error', role: 'alert' }, error) : null,
    ]),
    h('p', { class: 'muted' }, 'The key stays in this tab (sessionStorage) and goes to the gateway only, as a Bearer header.'),
  ]);
}

function Identity() {
  const who = me.value;
  if (!who) return null;
  return h('div', { class: 'identity', 'data-testid': 'identity' }, [
    h('strong', null, who.subject),
    h('span', { class: `badge role-${who.role}` }, who.role),
    h('span', null, `scope: ${who.scope ?? 'whole fleet'}`),
    h('span', { class: 'muted' }, `expires ${new Date(who.expires_at).toLocaleString()}`),
    h('button', { onClick: signOut }, 'Sign out'),
  ]);
}

function CurrentView() {
  const { path } = route.value;
  if (path.startsWith('/job/')) return h(JobView, { key: path, jobId: path.slice('/job/'.length) });
  switch (path) {
    case '/containers':
      return h(ContainersView, null);
    case '/exec':
      return h(ExecView, null);
    case '/jobs':
      return h(JobsView, null);
    case '/logs':
      return h(LogsView, null);
    case '/stats':
      return h(StatsView, null);
    case '/events':
      return h(EventsView, null);
    case '/admin':
      return h(AdminView, null);
    default:
      return h(FleetView, null);
  }
}

function App() {
  if (!me.value) return h(SignIn, null);
  const { path } = route.value;
  return h('div', { class: 'shell' }, [
    h('header', null, [
      h('h1', null, 'Fleet'),
      h(
        'nav',
        null,
        NAV.filter(([href]) => offered(href)).map(([href, label]) => h('a', { href: `#${href}`, class: path.startsWith(href) ? 'active' : '' }, label)),
      ),
      h(Identity, null),
    ]),
    h('main', null, h(CurrentView, null)),
  ]);
}

async function start(): Promise<void> {
  const key = storedKey();
  if (key) await signIn(key).catch(signOut);
  render(h(App, null), document.getElementById('app') as HTMLElement);
}

void start();
