import type { Router } from 'express';
import type { JobClient } from '../../jobs/client';
import { mountNodeOperation } from './mount';

/** System: `/node/{target}/container/docker/system/...`. */
export function mountSystemRoutes(router: Router, jobs: JobClient): void {
  mountNodeOperation(router, jobs, 'docker.system.events', { streams: () => true });
  mountNodeOperation(router, jobs, 'docker.system.info');
  mountNodeOperation(router, jobs, 'docker.system.version');
  mountNodeOperation(router, jobs, 'docker.system.ping');
  mountNodeOperation(router, jobs, 'docker.system.df');
}
