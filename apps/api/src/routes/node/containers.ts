import type { Router } from 'express';
import type { JobClient } from '../../jobs/client';
import { mountNodeOperation } from './mount';

/**
 * Containers: `/node/{target}/container/docker[/{id}[/verb]]`. The fixed
 * `/prune` goes first so it is not read as a container id.
 */
export function mountContainerRoutes(router: Router, jobs: JobClient): void {
  mountNodeOperation(router, jobs, 'docker.container.prune');
  mountNodeOperation(router, jobs, 'docker.container.list');
  mountNodeOperation(router, jobs, 'docker.container.create');
  mountNodeOperation(router, jobs, 'docker.container.inspect');
  mountNodeOperation(router, jobs, 'docker.container.start');
  mountNodeOperation(router, jobs, 'docker.container.stop');
  mountNodeOperation(router, jobs, 'docker.container.restart');
  mountNodeOperation(router, jobs, 'docker.container.kill');
  mountNodeOperation(router, jobs, 'docker.container.pause');
  mountNodeOperation(router, jobs, 'docker.container.unpause');
  mountNodeOperation(router, jobs, 'docker.container.rename');
  mountNodeOperation(router, jobs, 'docker.container.update');
  mountNodeOperation(router, jobs, 'docker.container.logs', { streams: (req) => String(req.query.follow) === 'true' });
  mountNodeOperation(router, jobs, 'docker.container.top');
  mountNodeOperation(router, jobs, 'docker.container.stats', { streams: (req) => String(req.query.stream) === 'true' });
  mountNodeOperation(router, jobs, 'docker.container.changes');
  mountNodeOperation(router, jobs, 'docker.container.wait');
  mountNodeOperation(router, jobs, 'docker.container.exec');
  mountNodeOperation(router, jobs, 'docker.container.remove');
}
