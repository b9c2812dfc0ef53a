import pino from 'pino';
import { Readable } from 'node:stream';
import { containerArchiveGet } from './container/archive-get';
import { containerArchivePut } from './container/archive-put';
import { containerCommit } from './container/commit';
import { containerList } from './container/list';
import { containerStop } from './container/stop';
import { imageBatchDelete } from './image/batch-delete';
import { imageDistribution } from './image/distribution';
import { imageLoad } from './image/load';
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

  it('archive put: hands the job\'s upload and the path to the engine; a failed upload is the row\'s error, not the aborted call', async () => {
    const asked: Array<{ body: string; options: Record<string, unknown> }> = [];
    const docker = fakeEngine({
      getContainer: () => ({
        putArchive: async (body: NodeJS.ReadableStream, options: Record<string, unknown>) => {
          const chunks: Buffer[] = [];
          for await (const chunk of body) chunks.push(chunk as Buffer);
          asked.push({ body: Buffer.concat(chunks).toString(), options });
        },
      }),
    });
    const ctx = { ...contextOf(docker), upload: () => Readable.from([Buffer.from('a tar')]) };
    expect(await containerArchivePut({ id: 'web', path: '/tmp' }, ctx)).toEqual({ changed: true, id: 'web', message: 'archive extracted into /tmp' });
    expect(asked).toEqual([{ body: 'a tar', options: expect.objectContaining({ path: '/tmp', noOverwriteDirNonDir: false, copyUIDGID: false }) }]);
    const failing = new Readable({ read() {} });
    const stuck = fakeEngine({ getContainer: () => ({ putArchive: (_body: unknown, options: { abortSignal: AbortSignal }) => new Promise((_, reject) => options.abortSignal.addEventListener('abort', () => reject(new Error('aborted')))) }) });
    const put = containerArchivePut({ id: 'web', path: '/tmp' }, { ...contextOf(stuck), upload: () => failing });
    failing.destroy(new Error('the upload ended after 10 of 20 bytes'));
    await expect(put).rejects.toThrow('the upload ended after 10 of 20 bytes');
  });

  it('archive get: sends the engine\'s tar with its path stat and reports the bytes', async () => {
    const sent: Array<{ bytes: string; headers: Record<string, string> }> = [];
    const archive = Object.assign(Readable.from([Buffer.from('tar-bytes')]), { headers: { 'x-docker-container-path-stat': 'eyJuYW1lIjoiaG9zdG5hbWUifQ==' } });
    const docker = fakeEngine({ getContainer: () => ({ getArchive: async () => archive }) });
    const ctx = {
      ...contextOf(docker),
      sendFile: async (source: AsyncIterable<Buffer>, headers: Record<string, string> = {}) => {
        const chunks: Buffer[] = [];
        for await (const chunk of source) chunks.push(chunk);
        sent.push({ bytes: Buffer.concat(chunks).toString(), headers });
        return Buffer.concat(chunks).length;
      },
    };
    expect(await containerArchiveGet({ id: 'web', path: '/etc/hostname' }, ctx)).toEqual({ changed: false, id: 'web', message: '9 bytes of /etc/hostname sent' });
    expect(sent).toEqual([{ bytes: 'tar-bytes', headers: { 'X-Docker-Container-Path-Stat': 'eyJuYW1lIjoiaG9zdG5hbWUifQ==' } }]);
  });

  it('commit: passes repo, tag, comment and each change to the engine, pausing by default, and reports the new image', async () => {
    const asked: unknown[] = [];
    const docker = fakeEngine({ getContainer: () => ({ commit: async (options: Record<string, unknown>) => (asked.push(options), { Id: 'sha256:abc' }) }) });
    const outcome = await containerCommit({ id: 'web', body: { repo: 'local/snap', tag: 'v1', comment: 'c', changes: ['ENV A=1', 'CMD ["sh"]'] } }, contextOf(docker));
    expect(outcome).toEqual({ changed: true, id: 'sha256:abc', message: 'committed web as local/snap:v1' });
    expect(asked).toEqual([expect.objectContaining({ repo: 'local/snap', tag: 'v1', comment: 'c', changes: ['ENV A=1', 'CMD ["sh"]'], pause: true })]);
  });

  it('image load: reports each image the engine says it loaded; an error line inside the answer fails the row', async () => {
    const answer = (lines: object[]) => Readable.from(lines.map((line) => `${JSON.stringify(line)}\n`));
    const loading = (lines: object[]) => fakeEngine({ loadImage: async () => answer(lines) });
    const ctx = (docker: EngineClient) => ({ ...contextOf(docker), upload: () => Readable.from([Buffer.from('tar')]) });
    const loaded = await imageLoad({}, ctx(loading([{ stream: 'Loaded image: local/a:1\n' }, { stream: 'Loaded image ID: sha256:beef\n' }])));
    expect(loaded).toEqual({ changed: true, message: '2 images loaded', images: ['local/a:1', 'sha256:beef'] });
    await expect(imageLoad({}, ctx(loading([{ errorDetail: { message: 'unexpected EOF' }, error: 'unexpected EOF' }])))).rejects.toMatchObject({ statusCode: 400, message: 'unexpected EOF' });
  });
});

// Rows are typed from the contract: `npm run typecheck` fails if either of these compiles.
// @ts-expect-error `containers` is a list of objects in the contract
export const containersNotAList: Executor<'docker.container.list'> = async () => ({ changed: false, containers: 'none' });
// @ts-expect-error every row says whether it changed the engine
export const rowWithoutChanged: Executor<'docker.container.wait'> = async () => ({ message: 'exited' });
