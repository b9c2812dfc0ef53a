import pino from 'pino';
import { containerList } from './container/list';
import { containerStop } from './container/stop';
import { imageBatchDelete } from './image/batch-delete';
import { imageDistribution } from './image/distribution';
import { volumeRemove } from './volume/remove';
import type { EngineClient, ExecutionContext, Executor } from './types';

/** A fake engine: only the calls a test gives it exist; anything else an executor calls fails the test. */
function fakeEngine(calls: Record<string, unknown>): EngineClient {
  return calls as unknown as EngineClient;
}

function contextOf(docker: EngineClient): ExecutionContext {
  return {
    docker,
    deadline: Date.now() + 5_000,
    signal: new AbortController().signal,
    log: pino({ level: 'silent' }),
    emit: () => undefined,
    secret: async () => undefined,
    maxOutputBytes: 256 * 1024,
    upload: () => {
      throw new Error('this job has no upload');
    },
    sendFile: async () => {
      throw new Error('this job answers with no file');
    },
  };
}

/** An error as dockerode raises it for an Engine answer: the status and the Engine's JSON body. */
function engineError(statusCode: number, message: string): Error {
  return Object.assign(new Error(`(HTTP code ${statusCode}) ${message}`), { statusCode, json: { message } });
}

describe('executors against a fake engine', () => {
  it('container list: hands the filters to the engine as JSON and reports its containers', async () => {
    const asked: unknown[] = [];
    const docker = fakeEngine({
      listContainers: async (options: unknown) => {
        asked.push(options);
        return [{ Id: 'c1', Names: ['/web'] }];
      },
    });
    const outcome = await containerList({ all: true, filters: { label: ['app=web'] } } as never, contextOf(docker));
    expect(asked).toEqual([{ all: true, limit: undefined, size: undefined, filters: '{"label":["app=web"]}' }]);
    expect(outcome).toEqual({ changed: false, message: '1 containers', containers: [{ Id: 'c1', Names: ['/web'] }] });
  });

  it('container stop: a container the engine says is already stopped (304) is not changed', async () => {
    const docker = fakeEngine({
      getContainer: () => ({
        stop: async () => {
          throw engineError(304, 'container already stopped');
        },
      }),
    });
    expect(await containerStop({ id: 'web' }, contextOf(docker))).toEqual({ changed: false, id: 'web', message: 'container already stopped' });
  });

  it('volume remove with force: an absent volume (404 on inspect) is reported unchanged, and force reaches the engine', async () => {
    const dialed: Array<{ path: string; method: string; options: unknown }> = [];
    const docker = fakeEngine({
      getVolume: () => ({
        inspect: async () => {
          throw engineError(404, 'no such volume');
        },
      }),
      modem: {
        dial: (request: { path: string; method: string; options: unknown }, callback: (err: unknown, data: unknown) => void) => {
          dialed.push({ path: request.path, method: request.method, options: request.options });
          callback(null, '');
        },
      },
    });
    expect(await volumeRemove({ name: 'data', force: true }, contextOf(docker))).toEqual({ changed: false, id: 'data', message: 'volume already absent' });
    expect(dialed).toEqual([{ path: '/volumes/data?', method: 'DELETE', options: { force: true } }]);
  });

  it('image distribution: asks the engine with the job\'s credential and reports the descriptor and platforms', async () => {
    const asked: Array<{ reference: string; options: unknown }> = [];
    const descriptor = { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: 'sha256:' + 'c'.repeat(64), size: 527 };
    const docker = fakeEngine({
      getImage: (reference: string) => ({
        distribution: async (options: unknown) => {
          asked.push({ reference, options });
          return { Descriptor: descriptor, Platforms: [{ architecture: 'amd64', os: 'linux' }] };
        },
      }),
    });
    const credential = Buffer.from('{"username":"fleet","password":"pw"}').toString('base64');
    const outcome = await imageDistribution({ image: '127.0.0.1:5000/busybox:t1' }, { ...contextOf(docker), secret: async () => credential });
    expect(asked).toEqual([{ reference: '127.0.0.1:5000/busybox:t1', options: { authconfig: { base64: credential } } }]);
    expect(outcome).toEqual({ changed: false, id: '127.0.0.1:5000/busybox:t1', message: '1 platform', descriptor, platforms: [{ architecture: 'amd64', os: 'linux' }] });
  });

  it('image batch delete: each id succeeds or fails alone, in order, and the row stays ok', async () => {
    const removed: string[] = [];
    const images: Record<string, { Id: string; RepoTags: string[]; RepoDigests: string[] }> = {
      'local/app:1': { Id: 'sha256:' + 'a'.repeat(64), RepoTags: ['local/app:1'], RepoDigests: [] },
      'local/app:2': { Id: 'sha256:' + 'b'.repeat(64), RepoTags: ['local/app:2'], RepoDigests: [] },
    };
    const docker = fakeEngine({
      getImage: (reference: string) => ({
        inspect: async () => {
          if (!images[reference]) throw engineError(404, `No such image: ${reference}`);
          return images[reference];
        },
        remove: async () => {
          if (reference === 'local/app:2') throw engineError(409, 'image is being used by a stopped container');
          removed.push(reference);
          return [{ Untagged: reference }];
        },
      }),
    });
    const outcome = await imageBatchDelete(
      { body: { repositoryName: 'local/app', imageIds: [{ imageTag: '1' }, { imageTag: '2' }, { imageTag: '3' }, { imageTag: 'bad tag' }] } },
      contextOf(docker),
    );
    expect(removed).toEqual(['local/app:1']);
    expect(outcome).toEqual({
      changed: true,
      message: '1 deleted, 3 failed',
      imageIds: [{ imageTag: '1', imageDigest: 'sha256:' + 'a'.repeat(64) }],
      failures: [
        { imageId: { imageTag: '2' }, failureCode: 'ImageInUse', failureReason: 'image is being used by a stopped container' },
        { imageId: { imageTag: '3' }, failureCode: 'ImageNotFound', failureReason: 'No such image: local/app:3' },
        { imageId: { imageTag: 'bad tag' }, failureCode: 'InvalidImageTag', failureReason: 'not a valid tag: bad tag' },
      ],
    });
  });

  it('an engine failure that is not about one id (engine down) fails the whole batch', async () => {
    const docker = fakeEngine({
      getImage: () => ({
        inspect: async () => {
          throw Object.assign(new Error('connect ENOENT /run/docker.sock'), { code: 'ENOENT' });
        },
      }),
    });
    await expect(imageBatchDelete({ body: { repositoryName: 'local/app', imageIds: [{ imageTag: '1' }] } }, contextOf(docker))).rejects.toThrow('ENOENT');
  });
});

// Rows are typed from the contract: `npm run typecheck` fails if either of these compiles.
// @ts-expect-error `containers` is a list of objects in the contract
export const containersNotAList: Executor<'docker.container.list'> = async () => ({ changed: false, containers: 'none' });
// @ts-expect-error every row says whether it changed the engine
export const rowWithoutChanged: Executor<'docker.container.wait'> = async () => ({ message: 'exited' });
