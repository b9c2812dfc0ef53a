import type { Request, Response } from 'express';
import { ApiError } from '../api-error';
import type { AgentBuilds } from '../agents/builds';
import { callerOf } from '../auth/middleware';
import type { GatewayHandlers } from './operation-table';

/** A signed build file: the contract's request body of `agentBuild.upload`. */
const BUILD_MEDIA_TYPE = 'application/octet-stream';

/** README "Upgrading agents": the builds a rollout of `POST /node/{target}/agent/upgrade` installs. */
export function agentBuildHandlers(builds: AgentBuilds | undefined): Pick<GatewayHandlers, 'agentBuild.list' | 'agentBuild.upload'> {
  const store = (): AgentBuilds => {
    if (!builds) throw new ApiError('conflict', 'this gateway keeps no agent builds');
    return builds;
  };
  return {
    'agentBuild.list': async (_req: Request, res: Response) => {
      res.json({ builds: await store().list() });
    },
    'agentBuild.upload': async (req: Request, res: Response) => {
      const caller = callerOf(res);
      const mediaType = req.get('content-type')?.split(';')[0].trim().toLowerCase();
      if (mediaType !== BUILD_MEDIA_TYPE) {
        const given = mediaType ? `unsupported media type ${mediaType}` : 'media type not specified';
        throw new ApiError(
          'unsupported_media_type',
          `${given}: the body must be ${BUILD_MEDIA_TYPE} (a file of \`fleet agent build sign\`)`,
        );
      }
      // A build runs on every host it is rolled out to: no key confined to some of them may bring one.
      if (caller.scope !== undefined) {
        throw new ApiError('out_of_scope', `uploading an agent build needs an unscoped key; this key is scoped to '${caller.scope}'`);
      }
      res.status(201).json(await store().upload(String(req.params.version), req, caller.sub));
    },
  };
}
