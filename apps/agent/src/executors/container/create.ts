import type { Executor } from '../types';
import { envList, hostResources, publishedPorts } from './host-config';

export const containerCreate: Executor<'docker.container.create'> = async ({ body }, { docker }) => {
  const { ExposedPorts, PortBindings } = publishedPorts(body.ports);
  const container = await docker.createContainer({
    Image: body.image,
    name: body.name,
    Cmd: body.cmd,
    Entrypoint: body.entrypoint,
    Env: envList(body.env),
    Labels: body.labels,
    WorkingDir: body.working_dir,
    User: body.user,
    Hostname: body.hostname,
    ExposedPorts,
    Volumes: body.volumes && Object.fromEntries(body.volumes.map((path) => [path, {}])),
    HostConfig: {
      ...hostResources(body),
      PortBindings,
      Binds: body.binds,
      NetworkMode: body.network,
    },
  });
  if (body.auto_start) await container.start();
  return { changed: true, id: container.id, message: body.auto_start ? 'container created and started' : 'container created' };
};
