import { render } from 'preact';
import { me, signIn, signOut, storedKey } from './api';
import { isOffered, PageOf, PAGES } from './routes';
import { route } from './router';
import { SignIn } from './sign-in';

function Identity() {
  const who = me.value;
  if (!who) return null;
  return (
    <div class="identity" data-testid="identity">
      <strong>{who.subject}</strong>
      <span class={`badge role-${who.role}`}>{who.role}</span>
      <span>{`scope: ${who.scope ?? 'whole fleet'}`}</span>
      <span class="muted">{`expires ${new Date(who.expires_at).toLocaleString()}`}</span>
      <button onClick={signOut}>Sign out</button>
    </div>
  );
}

function App() {
  if (!me.value) return <SignIn />;
  const { path } = route.value;
  return (
    <div class="shell">
      <header>
        <h1>Fleet</h1>
        <nav>
          {PAGES.filter(isOffered).map((page) => (
            <a href={`#${page.path}`} class={path.startsWith(page.path) ? 'active' : ''}>
              {page.label}
            </a>
          ))}
        </nav>
        <Identity />
      </header>
      <main>
        <PageOf path={path} />
      </main>
    </div>
  );
}

async function start(): Promise<void> {
  const key = storedKey();
  if (key) await signIn(key).catch(signOut);
  render(<App />, document.getElementById('app') as HTMLElement);
}

void start();
