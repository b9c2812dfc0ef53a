import { forEachJsonLine } from '../../ndjson';
import { engineUpload } from '../transfer';
import type { Executor } from '../types';

/** One line of the engine's load answer. */
interface LoadLine {
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/** `Loaded image: local/busybox:latest`, or `Loaded image ID: sha256:…` for an image saved without a tag. */
const LOADED = /^Loaded image(?: ID)?: (\S+)\s*$/;

export const imageLoad: Executor<'docker.image.load'> = async (_input, ctx) => {
  const upload = engineUpload(ctx);
  const answer = await ctx.docker.loadImage(upload.body, { quiet: true, abortSignal: upload.signal }).catch(upload.rethrow);
  const images: string[] = [];
  let failure: string | undefined;
  await forEachJsonLine(answer, upload.signal, (value) => {
    const line = value as LoadLine;
    failure ??= line.error ?? line.errorDetail?.message;
    const loaded = LOADED.exec(line.stream ?? '');
    if (loaded) images.push(loaded[1]);
  }).catch(upload.rethrow);
  if (upload.signal.aborted) upload.rethrow(new Error('stopped before the engine finished loading: deadline reached'));
  // The engine answers 200 once it reads the body and reports a bad archive inside its answer.
  if (failure) throw Object.assign(new Error(failure), { statusCode: 400, json: { message: failure } });
  return { changed: images.length > 0, message: `${images.length} image${images.length === 1 ? '' : 's'} loaded`, images };
};
