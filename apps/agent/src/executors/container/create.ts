import type { Executor } from '../types';

export const createContainer: Executor<'docker.container.create'> = async ({ body }, { docker }) => {
  const container = await docker.createContainer({
    Image: body.image,
    name: body.name,
    Cmd: body.cmd,
    Entrypoint: body.entrypoint,
    Env: body.env ? Object.entries(body.env).map(([name, value]) => `${name}=${value}`) : undefined,
    Labels: body.labels,
    WorkingDir: body.working_dir,
    User: body.user,
  });
  if (body.auto_start) await container.start();
  return { changed: true, id: container.id, message: body.auto_start ? 'container created and started' : 'container created' };
};
