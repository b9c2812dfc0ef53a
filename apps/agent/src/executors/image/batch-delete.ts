import type Docker from 'dockerode';
import type { components } from '@fleet/contracts';
import type { EngineClient, Executor } from '../types';

type ImageIdentifier = components['schemas']['ImageIdentifier'];
type ImageFailure = components['schemas']['ImageFailure'];
type FailureCode = ImageFailure['failureCode'];

interface DeletedId {
  imageTag?: string;
  imageDigest: string;
}

/** Docker's tag grammar; ECR-style ids outside it fail alone, not the whole request. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Why one id could not be deleted; the other ids go on. */
class IdFailure extends Error {
  override readonly name = 'IdFailure';

  constructor(
    readonly code: FailureCode,
    reason: string,
  ) {
    super(reason);
  }
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

/** Engine answers about `reference` that concern this id alone become its failure; anything else (engine down) fails the row. */
async function engine<T>(reference: string, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (statusOf(err) === 404) throw new IdFailure('ImageNotFound', `No such image: ${reference}`);
    if (statusOf(err) === 409)
      throw new IdFailure('ImageInUse', (err as { json?: { message?: string } }).json?.message ?? `${reference} is in use`);
    throw err;
  }
}

function checkTag(imageTag: string): void {
  if (!TAG.test(imageTag)) throw new IdFailure('InvalidImageTag', `not a valid tag: ${imageTag}`);
}

function checkDigest(imageDigest: string): void {
  if (!DIGEST.test(imageDigest)) throw new IdFailure('InvalidImageDigest', 'not a sha256 digest: expected sha256: and 64 hex digits');
}

function hasDigest(image: Docker.ImageInspectInfo, repository: string, digest: string): boolean {
  return image.Id === digest || (image.RepoDigests ?? []).includes(`${repository}@${digest}`);
}

/** `<repository>:<tag>`: untags it (and deletes the image once nothing else refers to it). */
async function deleteTag(docker: EngineClient, repository: string, imageTag: string, imageDigest: string | undefined): Promise<DeletedId> {
  const reference = `${repository}:${imageTag}`;
  const image = await engine(reference, docker.getImage(reference).inspect());
  if (imageDigest !== undefined && !hasDigest(image, repository, imageDigest)) {
    throw new IdFailure('ImageTagDoesNotMatchDigest', `${reference} is ${image.Id}, not ${imageDigest}`);
  }
  await engine(reference, docker.getImage(reference).remove());
  return { imageTag, imageDigest: imageDigest ?? image.Id };
}

/** The image with this ID or repository digest: every tag and digest of `repository` referring to it goes. */
async function deleteDigest(docker: EngineClient, repository: string, imageDigest: string): Promise<DeletedId> {
  const digested = `${repository}@${imageDigest}`;
  const image = await engine(digested, docker.getImage(digested).inspect()).catch((err: unknown) => {
    if (err instanceof IdFailure && err.code === 'ImageNotFound') return engine(imageDigest, docker.getImage(imageDigest).inspect());
    throw err;
  });
  const references = [...(image.RepoTags ?? []), ...(image.RepoDigests ?? [])].filter(
    (reference) => reference.startsWith(`${repository}:`) || reference.startsWith(`${repository}@`),
  );
  if (references.length === 0) throw new IdFailure('ImageNotFound', `image ${imageDigest} is not in repository ${repository}`);
  for (const reference of references) await engine(reference, docker.getImage(reference).remove());
  return { imageDigest };
}

async function deleteOne(docker: EngineClient, repository: string, { imageTag, imageDigest }: ImageIdentifier): Promise<DeletedId> {
  if (imageTag !== undefined) {
    checkTag(imageTag);
    if (imageDigest !== undefined) checkDigest(imageDigest);
    return deleteTag(docker, repository, imageTag, imageDigest);
  }
  if (imageDigest === undefined) throw new IdFailure('MissingDigestAndTag', 'an image id needs an imageTag or an imageDigest');
  checkDigest(imageDigest);
  return deleteDigest(docker, repository, imageDigest);
}

/** ECR BatchDeleteImage on one engine: ids in order, one by one, never forced; per-id failures keep the row ok. */
export const imageBatchDelete: Executor<'docker.image.batch-delete'> = async ({ body }, { docker }) => {
  const imageIds: DeletedId[] = [];
  const failures: ImageFailure[] = [];
  for (const imageId of body.imageIds) {
    try {
      imageIds.push(await deleteOne(docker, body.repositoryName, imageId));
    } catch (err) {
      if (!(err instanceof IdFailure)) throw err;
      failures.push({ imageId, failureCode: err.code, failureReason: err.message });
    }
  }
  return { changed: imageIds.length > 0, message: `${imageIds.length} deleted, ${failures.length} failed`, imageIds, failures };
};
