import { Readable } from 'node:stream';
import { contextOf, engineError, fakeEngine, runExecutor } from '../fake-engine';
import { imageBatchDelete } from './batch-delete';
import { imageDistribution } from './distribution';
import { imageHistory } from './history';
import { imageInspect } from './inspect';
import { imageList } from './list';
import { imageLoad } from './load';
import { imagePrune } from './prune';
import { imagePull } from './pull';
import { imagePush } from './push';
import { imageRemove } from './remove';
import { imageSave } from './save';
import { imageTag } from './tag';

const aSignal = expect.any(AbortSignal);
const DIGEST = 'sha256:' + 'd'.repeat(64);

/** An engine answer of newline-delimited JSON (pull and push progress, load). */
const ndjson = (lines: object[]) => Readable.from(lines.map((line) => `${JSON.stringify(line)}\n`));

describe('docker.image.list', () => {
  it('hands all, digests and the filters as JSON to the engine and reports its images', async () => {
    const engine = fakeEngine({ listImages: () => [{ Id: 'sha256:a', RepoTags: ['local/a:1'] }] });
    const outcome = await imageList({ all: true, digests: true, filters: { dangling: ['false'] } } as never, contextOf(engine.docker));
    expect(engine.calls).toEqual([
      { call: 'listImages', args: [{ all: true, digests: true, filters: '{"dangling":["false"]}', abortSignal: aSignal }] },
    ]);
    expect(outcome).toEqual({ changed: false, message: '1 images', images: [{ Id: 'sha256:a', RepoTags: ['local/a:1'] }] });
  });
});

describe('docker.image.pull', () => {
  const progress = [
    { status: 'Pulling from local/busybox', id: 't1' },
    { status: 'Pull complete', id: 'layer1' },
    { status: `Digest: ${DIGEST}` },
    { status: 'Status: Downloaded newer image for 127.0.0.1:5000/busybox:t1' },
  ];

  it("pulls with the job's credential, relays progress when asked, and reports the image, digest and layers", async () => {
    const engine = fakeEngine({ createImage: () => ndjson(progress), 'image.inspect': () => ({ Id: 'sha256:img' }) });
    const emitted: unknown[] = [];
    const credential = Buffer.from('{"username":"fleet"}').toString('base64');
    const ctx = contextOf(engine.docker, { secret: async () => credential, emit: (event, data) => emitted.push([event, data]) });
    const outcome = await imagePull({ fromImage: '127.0.0.1:5000/busybox', tag: 't1', progress: true }, ctx);
    expect(engine.calls).toEqual([
      {
        call: 'createImage',
        args: [{ fromImage: '127.0.0.1:5000/busybox', tag: 't1', authconfig: { base64: credential }, abortSignal: aSignal }],
      },
      { call: 'image(127.0.0.1:5000/busybox:t1).inspect', args: [] },
    ]);
    expect(outcome).toEqual({
      changed: true,
      id: 'sha256:img',
      message: 'Status: Downloaded newer image for 127.0.0.1:5000/busybox:t1',
      reference: '127.0.0.1:5000/busybox:t1',
      digest: DIGEST,
      layers_transferred: 1,
    });
    expect(emitted).toEqual(progress.map((line) => ['progress', line]));
  });

  it('an up-to-date image is not changed; a digest tag is pulled as repo@digest; no progress is relayed unless asked', async () => {
    const engine = fakeEngine({
      createImage: () => ndjson([{ status: 'Status: Image is up to date for local/busybox' }]),
      'image.inspect': () => ({ Id: 'sha256:img' }),
    });
    const emitted: unknown[] = [];
    const outcome = await imagePull(
      { fromImage: 'local/busybox', tag: DIGEST },
      contextOf(engine.docker, { emit: (e) => emitted.push(e) }),
    );
    expect(engine.calls[0].args).toEqual([expect.objectContaining({ authconfig: {} })]);
    expect(engine.calls[1]).toEqual({ call: `image(local/busybox@${DIGEST}).inspect`, args: [] });
    expect(outcome).toMatchObject({ changed: false, reference: `local/busybox@${DIGEST}`, layers_transferred: 0 });
    expect(emitted).toEqual([]);
  });

  it("an error line inside the 200 answer fails the row with the engine's words and a status they imply", async () => {
    const engine = fakeEngine({ createImage: () => ndjson([{ errorDetail: { message: 'manifest unknown' }, error: 'manifest unknown' }]) });
    await expect(imagePull({ fromImage: 'local/none', tag: 'x' }, contextOf(engine.docker))).rejects.toMatchObject({
      statusCode: 404,
      message: 'manifest unknown',
    });
  });
  it('a job stopped before the engine finished (deadline, client gone) fails the row rather than reporting a partial pull', async () => {
    const engine = fakeEngine({ createImage: () => ndjson(progress) });
    const stopped = new AbortController();
    stopped.abort();
    const ctx = contextOf(engine.docker, { signal: stopped.signal });
    await expect(imagePull({ fromImage: 'local/busybox', tag: 't1' }, ctx)).rejects.toThrow('stopped before the engine finished');
    expect(engine.calls.map((c) => c.call)).toEqual(['createImage']);
  });
});

describe('docker.image.inspect', () => {
  it("reports the engine's inspect under the image id", async () => {
    const { outcome, calls } = await runExecutor(
      imageInspect,
      { image: 'local/a:1' },
      { 'image.inspect': () => ({ Id: 'sha256:abc', RepoTags: ['local/a:1'] }) },
    );
    expect(outcome).toEqual({ changed: false, id: 'sha256:abc', image: { Id: 'sha256:abc', RepoTags: ['local/a:1'] } });
    expect(calls).toEqual([{ call: 'image(local/a:1).inspect', args: [] }]);
  });
});

describe('docker.image.history', () => {
  it('reports the layers', async () => {
    const history = [
      { Id: 'sha256:abc', CreatedBy: 'CMD ["sh"]' },
      { Id: '<missing>', CreatedBy: 'ADD rootfs' },
    ];
    const { outcome, calls } = await runExecutor(imageHistory, { image: 'local/a:1' }, { 'image.history': () => history });
    expect(outcome).toEqual({ changed: false, id: 'local/a:1', message: '2 layers', history });
    expect(calls).toEqual([{ call: 'image(local/a:1).history', args: [] }]);
  });
});

describe('docker.image.distribution', () => {
  it("asks the engine with the job's credential and reports the descriptor and platforms", async () => {
    const descriptor = { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: DIGEST, size: 527 };
    const engine = fakeEngine({
      'image.distribution': () => ({ Descriptor: descriptor, Platforms: [{ architecture: 'amd64', os: 'linux' }] }),
    });
    const credential = Buffer.from('{"username":"fleet","password":"pw"}').toString('base64');
    const outcome = await imageDistribution(
      { image: '127.0.0.1:5000/busybox:t1' },
      contextOf(engine.docker, { secret: async () => credential }),
    );
    expect(engine.calls).toEqual([
      { call: 'image(127.0.0.1:5000/busybox:t1).distribution', args: [{ authconfig: { base64: credential } }] },
    ]);
    expect(outcome).toEqual({
      changed: false,
      id: '127.0.0.1:5000/busybox:t1',
      message: '1 platform',
      descriptor,
      platforms: [{ architecture: 'amd64', os: 'linux' }],
    });
  });

  it("a credential in JavaScript's unpadded base64url reaches the engine padded, as Go's URL encoding wants it", async () => {
    const engine = fakeEngine({ 'image.distribution': () => ({ Descriptor: {}, Platforms: null }) });
    const outcome = await imageDistribution({ image: 'local/a' }, contextOf(engine.docker, { secret: async () => 'ab+/c' }));
    expect(engine.calls[0].args).toEqual([{ authconfig: { base64: 'ab-_c===' } }]);
    expect(outcome).toMatchObject({ message: '0 platforms', platforms: [] });
  });
});

describe('docker.image.tag', () => {
  it('tags the image, latest when no tag is given', async () => {
    const engine = fakeEngine({
      'image(local/a:1).inspect': () => ({ Id: 'sha256:abc' }),
      'image(local/b:latest).inspect': () => Promise.reject(engineError(404, 'No such image')),
      'image.tag': () => undefined,
    });
    expect(await imageTag({ image: 'local/a:1', repo: 'local/b' }, contextOf(engine.docker))).toEqual({
      changed: true,
      id: 'sha256:abc',
      message: 'tagged local/b:latest',
    });
    expect(engine.calls).toEqual([
      { call: 'image(local/a:1).inspect', args: [] },
      { call: 'image(local/b:latest).inspect', args: [] },
      { call: 'image(local/a:1).tag', args: [{ repo: 'local/b', tag: 'latest' }] },
    ]);
  });

  it('a tag that already names this image is not changed and not sent again', async () => {
    const engine = fakeEngine({ 'image.inspect': () => ({ Id: 'sha256:abc' }) });
    expect(await imageTag({ image: 'local/a:1', repo: 'local/b', tag: 'v2' }, contextOf(engine.docker))).toEqual({
      changed: false,
      id: 'sha256:abc',
      message: 'local/b:v2 already names this image',
    });
    expect(engine.calls.map((c) => c.call)).toEqual(['image(local/a:1).inspect', 'image(local/b:v2).inspect']);
  });
});

describe('docker.image.push', () => {
  it("pushes with the job's credential (an empty one when none) and reports the digest and layers pushed", async () => {
    const engine = fakeEngine({
      'image.push': () =>
        ndjson([
          { status: 'Pushed', id: 'layer1' },
          { status: `t1: digest: ${DIGEST} size: 527`, aux: undefined },
          { aux: { Digest: DIGEST } },
        ]),
    });
    const outcome = await imagePush({ image: '127.0.0.1:5000/busybox', tag: 't1' }, contextOf(engine.docker));
    expect(engine.calls).toEqual([
      { call: 'image(127.0.0.1:5000/busybox).push', args: [{ tag: 't1', authconfig: {}, abortSignal: aSignal }] },
    ]);
    expect(outcome).toEqual({
      changed: true,
      message: `t1: digest: ${DIGEST} size: 527`,
      reference: '127.0.0.1:5000/busybox:t1',
      digest: DIGEST,
      layers_transferred: 1,
    });
  });

  it('a refusal inside the stream fails the row', async () => {
    const engine = fakeEngine({ 'image.push': () => ndjson([{ error: 'denied: requested access to the resource is denied' }]) });
    await expect(imagePush({ image: 'local/a' }, contextOf(engine.docker))).rejects.toMatchObject({
      statusCode: 500,
      message: 'denied: requested access to the resource is denied',
    });
  });
});

describe('docker.image.remove', () => {
  it('passes force and noprune on, and reports what the engine untagged and deleted', async () => {
    const { outcome, calls } = await runExecutor(
      imageRemove,
      { image: 'local/a:1', force: true, noprune: false },
      { 'image.remove': () => [{ Untagged: 'local/a:1' }, { Deleted: 'sha256:abc' }] },
    );
    expect(outcome).toEqual({
      changed: true,
      id: 'sha256:abc',
      message: 'image removed',
      untagged: ['local/a:1'],
      deleted: ['sha256:abc'],
    });
    expect(calls).toEqual([{ call: 'image(local/a:1).remove', args: [{ force: true, noprune: false }] }]);
  });

  it('a tag of an image that keeps other tags is only untagged', async () => {
    const engine = fakeEngine({ 'image.remove': () => [{ Untagged: 'local/a:2' }] });
    expect(await imageRemove({ image: 'local/a:2' }, contextOf(engine.docker))).toEqual({
      changed: true,
      id: 'local/a:2',
      message: 'image untagged',
      untagged: ['local/a:2'],
      deleted: [],
    });
  });
});

describe('docker.image.prune', () => {
  it('hands the filters on as JSON and counts only deleted images, not untagged references', async () => {
    const deleted = [{ Untagged: 'local/a:1' }, { Deleted: 'sha256:abc' }];
    const engine = fakeEngine({ pruneImages: () => ({ ImagesDeleted: deleted, SpaceReclaimed: 1024 }) });
    const outcome = await imagePrune({ filters: { dangling: ['true'] } } as never, contextOf(engine.docker));
    expect(engine.calls).toEqual([{ call: 'pruneImages', args: [{ filters: '{"dangling":["true"]}', abortSignal: aSignal }] }]);
    expect(outcome).toEqual({ changed: true, message: '1 images deleted', ImagesDeleted: deleted, SpaceReclaimed: 1024 });
  });

  it("nothing to prune (the engine's nulls) is not changed", async () => {
    const engine = fakeEngine({ pruneImages: () => ({ ImagesDeleted: null, SpaceReclaimed: null }) });
    expect(await imagePrune({}, contextOf(engine.docker))).toEqual({
      changed: false,
      message: '0 images deleted',
      ImagesDeleted: [],
      SpaceReclaimed: 0,
    });
  });
});

describe('docker.image.batch-delete', () => {
  it('each id succeeds or fails alone, in order, and the row stays ok', async () => {
    const images: Record<string, { Id: string; RepoTags: string[]; RepoDigests: string[] }> = {
      'local/app:1': { Id: 'sha256:' + 'a'.repeat(64), RepoTags: ['local/app:1'], RepoDigests: [] },
      'local/app:2': { Id: 'sha256:' + 'b'.repeat(64), RepoTags: ['local/app:2'], RepoDigests: [] },
    };
    const engine = fakeEngine({
      'image(local/app:1).inspect': () => images['local/app:1'],
      'image(local/app:2).inspect': () => images['local/app:2'],
      'image(local/app:3).inspect': () => Promise.reject(engineError(404, 'No such image: local/app:3')),
      'image(local/app:1).remove': () => [{ Untagged: 'local/app:1' }],
      'image(local/app:2).remove': () => Promise.reject(engineError(409, 'image is being used by a stopped container')),
    });
    const body = {
      repositoryName: 'local/app',
      imageIds: [{ imageTag: '1' }, { imageTag: '2' }, { imageTag: '3' }, { imageTag: 'bad tag' }],
    };
    const outcome = await imageBatchDelete({ body }, contextOf(engine.docker));
    expect(engine.calls).toEqual([
      { call: 'image(local/app:1).inspect', args: [] },
      { call: 'image(local/app:1).remove', args: [] },
      { call: 'image(local/app:2).inspect', args: [] },
      { call: 'image(local/app:2).remove', args: [] },
      { call: 'image(local/app:3).inspect', args: [] },
    ]);
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

  it('a digest removes every reference of the repository to that image, and a tag that names another digest is refused', async () => {
    const image = { Id: DIGEST, RepoTags: ['local/app:1', 'other/app:1'], RepoDigests: [`local/app@${DIGEST}`] };
    const engine = fakeEngine({ 'image.inspect': () => image, 'image.remove': () => [] });
    const body = {
      repositoryName: 'local/app',
      imageIds: [{ imageDigest: DIGEST }, { imageTag: '1', imageDigest: 'sha256:' + 'e'.repeat(64) }, {}],
    };
    const outcome = await imageBatchDelete({ body }, contextOf(engine.docker));
    expect(engine.calls.filter((c) => c.call.endsWith('.remove')).map((c) => c.call)).toEqual([
      'image(local/app:1).remove',
      `image(local/app@${DIGEST}).remove`,
    ]);
    expect(outcome).toEqual({
      changed: true,
      message: '1 deleted, 2 failed',
      imageIds: [{ imageDigest: DIGEST }],
      failures: [
        {
          imageId: body.imageIds[1],
          failureCode: 'ImageTagDoesNotMatchDigest',
          failureReason: `local/app:1 is ${DIGEST}, not sha256:${'e'.repeat(64)}`,
        },
        { imageId: {}, failureCode: 'MissingDigestAndTag', failureReason: 'an image id needs an imageTag or an imageDigest' },
      ],
    });
  });

  it('an engine failure that is not about one id (engine down) fails the whole batch', async () => {
    const engine = fakeEngine({
      'image.inspect': () => Promise.reject(Object.assign(new Error('connect ENOENT /run/docker.sock'), { code: 'ENOENT' })),
    });
    await expect(
      imageBatchDelete({ body: { repositoryName: 'local/app', imageIds: [{ imageTag: '1' }] } }, contextOf(engine.docker)),
    ).rejects.toThrow('ENOENT');
  });
});

describe('docker.image.save', () => {
  it("dials the Engine for every name at once and sends its tar as the job's file", async () => {
    const engine = fakeEngine({ 'modem.dial': () => Readable.from([Buffer.from('image-tar')]) });
    const sent: string[] = [];
    const sendFile = async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) sent.push(chunk.toString());
      return sent.join('').length;
    };
    const outcome = await imageSave({ names: ['local/a:1', 'local/b:2'] }, contextOf(engine.docker, { sendFile }));
    expect(engine.calls).toEqual([
      { call: 'modem.dial', args: [{ path: '/images/get?', method: 'GET', options: { names: ['local/a:1', 'local/b:2'] } }] },
    ]);
    expect(sent).toEqual(['image-tar']);
    expect(outcome).toEqual({ changed: false, message: '9 bytes of local/a:1, local/b:2 sent' });
  });
});

describe('docker.image.load', () => {
  it('hands the upload to the engine quietly and reports each image the engine says it loaded', async () => {
    const received: string[] = [];
    const engine = fakeEngine({
      loadImage: async (body: NodeJS.ReadableStream) => {
        for await (const chunk of body) received.push(chunk.toString());
        return ndjson([{ stream: 'Loaded image: local/a:1\n' }, { stream: 'Loaded image ID: sha256:beef\n' }]);
      },
    });
    const outcome = await imageLoad({}, contextOf(engine.docker, { upload: () => Readable.from([Buffer.from('tar')]) }));
    expect(engine.calls).toEqual([{ call: 'loadImage', args: [expect.anything(), { quiet: true, abortSignal: aSignal }] }]);
    expect(received).toEqual(['tar']);
    expect(outcome).toEqual({ changed: true, message: '2 images loaded', images: ['local/a:1', 'sha256:beef'] });
  });

  it('an error line inside the answer fails the row as bad input', async () => {
    const engine = fakeEngine({ loadImage: () => ndjson([{ errorDetail: { message: 'unexpected EOF' }, error: 'unexpected EOF' }]) });
    const ctx = contextOf(engine.docker, { upload: () => Readable.from([Buffer.from('tar')]) });
    await expect(imageLoad({}, ctx)).rejects.toMatchObject({ statusCode: 400, message: 'unexpected EOF' });
  });

  it("an upload that fails midway is the row's error, not the aborted engine call", async () => {
    const stuck = (_body: unknown, options: { abortSignal: AbortSignal }) =>
      new Promise((_, reject) => options.abortSignal.addEventListener('abort', () => reject(new Error('aborted'))));
    const engine = fakeEngine({ loadImage: stuck });
    const failing = new Readable({ read() {} });
    const load = imageLoad({}, contextOf(engine.docker, { upload: () => failing }));
    failing.destroy(new Error('the upload ended after 3 of 9 bytes'));
    await expect(load).rejects.toThrow('the upload ended after 3 of 9 bytes');
  });
});
