import { useState } from 'preact/hooks';
import { mayCall, startNodeCall } from '../api';
import { permissionOf } from '../contract';
import { ErrorLine } from '../components/badge';
import { ContainerFields, Field } from '../components/field';
import { useAction } from '../hooks';
import { go } from '../router';

const EMPTY_FORM = { target: '_all', container: '', command: '' };

export function ExecView() {
  const [form, setForm] = useState(EMPTY_FORM);
  const action = useAction();
  const set = (name: keyof typeof EMPTY_FORM) => (value: string) => setForm({ ...form, [name]: value });
  const submit = (event: Event) => {
    event.preventDefault();
    void action.run('exec', async () => {
      const jobId = await startNodeCall(form.target, {
        operation: 'docker.container.exec',
        method: 'POST',
        rest: `/container/docker/${encodeURIComponent(form.container)}/exec`,
        body: { cmd: ['sh', '-c', form.command] },
      });
      go(`/job/${jobId}`);
    });
  };
  if (!mayCall('docker.container.exec')) {
    return (
      <section data-view="exec">
        <h2>Exec</h2>
        <p class="muted">{`This key may not run commands (needs ${permissionOf('docker.container.exec')}).`}</p>
      </section>
    );
  }
  return (
    <section data-view="exec">
      <h2>Exec in a container on a target</h2>
      <form class="stack" onSubmit={submit}>
        <ContainerFields form={form} setForm={setForm} />
        <Field label="Command (sh -c)" name="command" value={form.command} onValue={set('command')} />
        <button type="submit" class="mutate">
          Run
        </button>
      </form>
      <ErrorLine error={action.error} />
    </section>
  );
}
