import type { Router } from 'express';
import type { JobClient } from '../../jobs/client';
import { mountNodeOperation } from './mount';

/** Containers: `/node/{target}/container/docker[/{id}[/verb]]`. */
export function mountContainerRoutes(router: Router, jobs: JobClient): void {
  mountNodeOperation(router, jobs, 'docker.container.list');
  mountNodeOperation(router, jobs, 'docker.container.create');
  mountNodeOperation(router, jobs, 'docker.container.inspect');
  mountNodeOperation(router, jobs, 'docker.container.start');
  mountNodeOperation(router, jobs, 'docker.container.stop');
  mountNodeOperation(router, jobs, 'docker.container.remove');
}
