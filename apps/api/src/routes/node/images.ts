import type { Router } from 'express';
import type { JobClient } from '../../jobs/client';
import { mountNodeOperation } from './mount';

/** Images: `/node/{target}/container/docker/image[/{image}]`. Mounted before containers so `image` is not read as a container id. */
export function mountImageRoutes(router: Router, jobs: JobClient): void {
  mountNodeOperation(router, jobs, 'docker.image.remove');
}
