import type { Router } from 'express';
import type { JobClient } from '../../jobs/client';
import { mountNodeOperation } from './mount';

/** Registry credentials ride in this header: held in memory for the agents, never stored or logged. */
const REGISTRY_AUTH = 'x-registry-auth';

/**
 * Images: `/node/{target}/container/docker/image[/...]`. Mounted before
 * containers so `image` is not read as a container id, and the fixed segments
 * (`pull`, `prune`, `batch-delete`) before `/image/{image}`.
 */
export function mountImageRoutes(router: Router, jobs: JobClient): void {
  mountNodeOperation(router, jobs, 'docker.image.list');
  // `progress=true` (coerced to a boolean by the validator) answers as server-sent events.
  mountNodeOperation(router, jobs, 'docker.image.pull', { secretHeader: REGISTRY_AUTH, streams: (req) => String(req.query.progress) === 'true' });
  mountNodeOperation(router, jobs, 'docker.image.prune');
  mountNodeOperation(router, jobs, 'docker.image.batch_delete');
  mountNodeOperation(router, jobs, 'docker.image.inspect');
  mountNodeOperation(router, jobs, 'docker.image.history');
  mountNodeOperation(router, jobs, 'docker.image.tag');
  mountNodeOperation(router, jobs, 'docker.image.push', { secretHeader: REGISTRY_AUTH });
  mountNodeOperation(router, jobs, 'docker.image.remove');
}
