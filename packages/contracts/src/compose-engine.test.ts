import { parseCompose, type StackSpec } from './compose';
import { containerName, serviceContainerBody } from './compose-engine';
import { DEFAULT_REGISTRIES, HOST_REACHING_OPERATIONS, nodeOperationHostAccess } from './host-access';

const spec = (text: string): StackSpec => {
  const result = parseCompose(text);
  if (!result.ok) throw new Error(result.message);
  return result.spec;
};
const policy = { registries: [...DEFAULT_REGISTRIES, 'registry.local:5000'] };
const applyAccess = (text: string) =>
  nodeOperationHostAccess('stack.host.apply', { name: 'web', body: { revision: 1, spec: spec(text) } }, policy);

describe('a stack on the Engine', () => {
  it('names and labels a service container as compose v2 does', () => {
    const stack = spec(
      'services:\n  app: { image: registry.local:5000/app:1, ports: ["8080:80"], volumes: ["data:/data"] }\nvolumes: { data: }\n',
    );
    const body = serviceContainerBody('web', stack, 'app', 7);
    expect(containerName('web', 'app')).toBe('web-app-1');
    expect(body.Labels).toMatchObject({
      'com.docker.compose.project': 'web',
      'com.docker.compose.service': 'app',
      'com.docker.compose.container-number': '1',
      'com.docker.compose.oneoff': 'False',
      'fleet.stack.revision': '7',
    });
    expect(body.HostConfig).toMatchObject({
      NetworkMode: 'web_default',
      Mounts: [{ Type: 'volume', Source: 'web_data', Target: '/data', ReadOnly: false }],
      PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] },
    });
  });

  it('reaches the host with a bind mount or a registry outside the allowlist, and only then', () => {
    expect(HOST_REACHING_OPERATIONS).toContain('stack.host.apply');
    expect(applyAccess('services:\n  app: { image: registry.local:5000/app:1, volumes: ["data:/data"] }\nvolumes: { data: }\n')).toEqual(
      [],
    );
    const bind = applyAccess('services:\n  app: { image: registry.local:5000/app:1, volumes: ["/etc:/host-etc:ro"] }\n');
    expect(bind.map((access) => access.hostPath)).toEqual(['/etc']);
    const registry = applyAccess('services:\n  app: { image: evil.example.com/app:1 }\n');
    expect(registry.map((access) => access.reason).join()).toContain('evil.example.com');
  });
});
