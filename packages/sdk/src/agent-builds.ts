import type { FleetClient } from './client';
import { errorFromResponse } from './errors';
import type { components } from '@fleet/contracts';

export type AgentBuild = components['schemas']['AgentBuild'];

/** The agent builds the gateway holds, newest first (README "Upgrading agents"). */
export async function listAgentBuilds(client: FleetClient): Promise<AgentBuild[]> {
  const answer = await client.json('get', '/agent-build');
  return answer.builds;
}

/** Uploads a signed build file (`fleet agent build sign` writes one) as `version`. */
export async function uploadAgentBuild(client: FleetClient, version: string, signedBuild: Uint8Array): Promise<AgentBuild> {
  const { data, error, response } = await client.http.PUT('/agent-build/{version}', {
    params: { path: { version } },
    // The contract's `format: binary` types the body as a string; the bytes go as they are.
    body: '',
    bodySerializer: () => signedBuild,
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (!response.ok || !data) throw errorFromResponse(response, error);
  return data;
}
