import { sendEngineFile } from '../transfer';
import type { EngineClient, Executor } from '../types';

export const imageSave: Executor<'docker.image.save'> = async ({ names }, ctx) => {
  const archive = await imagesArchive(ctx.docker, names, ctx.signal);
  const bytes = await sendEngineFile(ctx, archive);
  return { changed: false, message: `${bytes} bytes of ${names.join(', ')} sent` };
};

/** `GET /images/get?names=a&names=b`: dockerode's getImages, which its types do not declare. */
function imagesArchive(docker: EngineClient, names: string[], abortSignal: AbortSignal): Promise<NodeJS.ReadableStream> {
  return new Promise((resolve, reject) => {
    docker.modem.dial(
      {
        path: '/images/get?',
        method: 'GET',
        abortSignal,
        isStream: true,
        statusCodes: { 200: true, 400: 'bad parameter', 404: 'no such image', 500: 'server error' },
        options: { names },
      },
      (err: unknown, stream: unknown) => (err ? reject(err) : resolve(stream as NodeJS.ReadableStream)),
    );
  });
}
