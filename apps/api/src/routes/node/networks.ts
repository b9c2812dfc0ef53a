import type { Router } from 'express';
import type { NodeOperationName } from '@fleet/contracts/operations';
import type { JobClient } from '../../jobs/client';
import { mountNodeOperation } from './mount';

/** In mount order: `/network/prune` before `/network/{id}`. */
const NETWORK_OPERATIONS: readonly NodeOperationName[] = [
  'docker.network.list',
  'docker.network.create',
  'docker.network.prune',
  'docker.network.inspect',
  'docker.network.remove',
  'docker.network.connect',
  'docker.network.disconnect',
];

/** Networks: `/node/{target}/container/docker/network[/{id}[/verb]|/prune]`. Mounted before containers so `network` is not read as a container id. */
export function mountNetworkRoutes(router: Router, jobs: JobClient): void {
  for (const name of NETWORK_OPERATIONS) mountNodeOperation(router, jobs, name);
}
