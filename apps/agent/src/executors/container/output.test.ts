import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { demultiplex } from './output';

/** One frame of the engine's multiplexed stream: stream type 1 stdout, 2 stderr. */
function frame(stream: 1 | 2, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('demultiplex', () => {
  const modem = new Docker({ socketPath: '/nonexistent' }).modem;

  it('keeps at most maxBytes per stream, counts every byte, and says it truncated', async () => {
    const source = new PassThrough();
    const done = demultiplex(modem, source, new AbortController().signal, 1000);
    for (let i = 0; i < 50; i++) source.write(frame(1, Buffer.alloc(100, 'a')));
    source.write(frame(2, Buffer.from('err')));
    source.end();
    const output = await done;
    expect(output).toMatchObject({ stdout_bytes: 5000, stderr_bytes: 3, stderr: 'err', truncated: true });
    expect(output.stdout).toBe('a'.repeat(1000));
  });

  it('says nothing about truncation when all of it fits, and never splits a character', async () => {
    const whole = await demultiplex(modem, frame(1, Buffer.from('héllo')), new AbortController().signal, 1000);
    expect(whole).toEqual({ stdout: 'héllo', stderr: '', stdout_bytes: 6, stderr_bytes: 0 });
    const cut = await demultiplex(modem, frame(1, Buffer.from('aé')), new AbortController().signal, 2);
    expect(cut).toMatchObject({ stdout: 'a', stdout_bytes: 3, truncated: true });
  });
});
