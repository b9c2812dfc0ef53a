import { useState } from 'preact/hooks';
import { signIn } from './api';
import { ErrorLine } from './components/badge';
import { useAction } from './hooks';

export function SignIn() {
  const [key, setKey] = useState('');
  const action = useAction();
  const submit = (event: Event) => {
    event.preventDefault();
    void action.run('sign-in', () => signIn(key.trim()));
  };
  return (
    <main class="signin">
      <h1>Fleet</h1>
      <form class="stack" onSubmit={submit}>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autocomplete="off"
          value={key}
          onInput={(event) => setKey((event.target as HTMLInputElement).value)}
        />
        <button type="submit">Sign in</button>
        <ErrorLine error={action.error} />
      </form>
      <p class="muted">The key stays in this tab (sessionStorage) and goes to the gateway only, as a Bearer header.</p>
    </main>
  );
}
