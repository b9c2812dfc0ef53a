import { useState } from 'preact/hooks';
import type { TargetHosts } from '@fleet/sdk';
import { call, homeTarget, targetSegment } from '../api';
import { ErrorLine } from '../components/badge';
import { Field } from '../components/field';
import { useAction } from '../hooks';

/** Which hosts a target reaches (GET /target/{target}), resolved as a job would be, before anything runs. */
export function TargetPreview() {
  const [target, setTarget] = useState(homeTarget());
  const [hosts, setHosts] = useState<string[] | undefined>();
  const action = useAction();
  const resolve = (event: Event) => {
    event.preventDefault();
    setHosts(undefined);
    void action.run('resolve', async () => setHosts((await call<TargetHosts>('GET', `/target/${targetSegment(target)}`)).hosts));
  };
  return (
    <form class="toolbar" onSubmit={resolve}>
      <Field label="Target" name="target" value={target} onValue={setTarget} />
      <button type="submit">Preview hosts</button>
      {hosts ? <span class="preview" data-testid="target-hosts">{`${hosts.length} hosts: ${hosts.join(', ')}`}</span> : null}
      <ErrorLine error={action.error} />
    </form>
  );
}
