import type { Router } from 'express';
import type { NodeOperationName } from '@fleet/contracts/operations';
import type { JobClient } from '../../jobs/client';
import { mountNodeOperation } from './mount';

/** In mount order: `/volume/prune` before `/volume/{name}`. */
const VOLUME_OPERATIONS: readonly NodeOperationName[] = ['docker.volume.list', 'docker.volume.create', 'docker.volume.prune', 'docker.volume.inspect', 'docker.volume.remove'];

/** Volumes: `/node/{target}/container/docker/volume[/{name}|/prune]`. Mounted before containers so `volume` is not read as a container id. */
export function mountVolumeRoutes(router: Router, jobs: JobClient): void {
  for (const name of VOLUME_OPERATIONS) mountNodeOperation(router, jobs, name);
}
