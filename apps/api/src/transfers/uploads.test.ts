import { Readable } from 'node:stream';
import pino from 'pino';
import { UploadStore, UploadTooLargeError } from './uploads';

/** An object store that reads what it is given to the end, as the NATS one does, and remembers it. */
function fakeBucket() {
  const stored: Array<{ name: string; bytes: number }> = [];
  const bucket = {
    put: async (meta: { name: string }, body: ReadableStream<Uint8Array>) => {
      let bytes = 0;
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
      stored.push({ name: meta.name, bytes });
      return { size: bytes, nuid: 'N1' };
    },
  };
  return { stored, bucket };
}

function chunks(count: number, size: number): Readable {
  return Readable.from(Array.from({ length: count }, () => Buffer.alloc(size, 1)));
}

describe('the upload store', () => {
  it('stores a body within the limit under the job id and says where its chunks are', async () => {
    const { stored, bucket } = fakeBucket();
    const uploads = new UploadStore(bucket as never, {} as never, pino({ level: 'silent' }), 1000);
    expect(await uploads.receive('job-1', chunks(4, 250))).toEqual({ jobId: 'job-1', bytes: 1000, chunkSubject: '$O.fleet_uploads.C.N1' });
    expect(stored).toEqual([{ name: 'job-1', bytes: 1000 }]);
  });

  it('fails past the limit while streaming (no length given), and refuses a declared length over it before reading', async () => {
    const { stored, bucket } = fakeBucket();
    const uploads = new UploadStore(bucket as never, {} as never, pino({ level: 'silent' }), 1000);
    const body = chunks(5, 250);
    await expect(uploads.receive('job-2', body)).rejects.toBeInstanceOf(UploadTooLargeError);
    expect(stored).toEqual([]);
    const untouched = chunks(1, 10);
    await expect(uploads.receive('job-3', untouched, 1001)).rejects.toThrow('larger than FLEET_UPLOAD_MAX_BYTES (1000 bytes)');
    expect(untouched.readableDidRead).toBe(false);
  });
});
