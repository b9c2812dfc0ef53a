import type Docker from 'dockerode';
import { dockerClient } from '../../deploy/lib/engine';

/** A dockerode client for one engine socket, so suites can check engine state behind the gateway's back. */
export function docker(socket: string): Docker {
  return dockerClient(socket);
}
