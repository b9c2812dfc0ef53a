import { PassThrough } from 'node:stream';
import { decodeProxyFrame, encodeProxyFrame, PROXY_CHUNK_BYTES, PROXY_FRAME, PROXY_WINDOW_BYTES } from '@fleet/contracts/protocol';
import { TunnelFlow } from './tunnel';

function recorder() {
  const frames: Array<{ kind: number; payload: Buffer }> = [];
  return { frames, publish: (frame: Uint8Array) => void frames.push(decodeProxyFrame(frame)) };
}

const dataBytes = (frames: Array<{ kind: number; payload: Buffer }>) =>
  frames.filter((frame) => frame.kind === PROXY_FRAME.DATA).reduce((sum, frame) => sum + frame.payload.length, 0);

describe('TunnelFlow: credit-based flow control of one proxy session', () => {
  it('sends at most a window ahead of credit, pausing the source, and resumes on CREDIT', async () => {
    const out = recorder();
    const flow = new TunnelFlow(out.publish);
    const source = new PassThrough();
    flow.pipeFrom(source);
    const chunk = Buffer.alloc(256 * 1024, 1);
    for (let i = 0; i < 8; i++) source.write(chunk);
    await new Promise((resolve) => setImmediate(resolve));
    expect(dataBytes(out.frames)).toBe(PROXY_WINDOW_BYTES);
    expect(source.isPaused()).toBe(true);
    expect(out.frames.every((frame) => frame.kind !== PROXY_FRAME.DATA || frame.payload.length <= PROXY_CHUNK_BYTES)).toBe(true);

    flow.hear(encodeProxyFrame(PROXY_FRAME.CREDIT, String(512 * 1024)));
    await new Promise((resolve) => setImmediate(resolve));
    expect(dataBytes(out.frames)).toBe(PROXY_WINDOW_BYTES + 512 * 1024);
    source.end();
    flow.hear(encodeProxyFrame(PROXY_FRAME.CREDIT, String(PROXY_WINDOW_BYTES)));
    await new Promise((resolve) => setImmediate(resolve));
    expect(dataBytes(out.frames)).toBe(8 * chunk.length);
    expect(out.frames.at(-1)?.kind).toBe(PROXY_FRAME.END);
  });

  it('credits bytes back only once a quarter window was handed on', () => {
    const out = recorder();
    const flow = new TunnelFlow(out.publish);
    flow.consumed(PROXY_WINDOW_BYTES / 4 - 1);
    expect(out.frames).toEqual([]);
    flow.consumed(1);
    expect(out.frames).toEqual([{ kind: PROXY_FRAME.CREDIT, payload: Buffer.from(String(PROXY_WINDOW_BYTES / 4)) }]);
  });

  it('passes on the frames it does not consume and ignores a credit that is not a positive integer', () => {
    const out = recorder();
    const flow = new TunnelFlow(out.publish);
    expect(flow.hear(encodeProxyFrame(PROXY_FRAME.ALIVE))).toBeUndefined();
    expect(flow.hear(encodeProxyFrame(PROXY_FRAME.CREDIT, '-5'))).toBeUndefined();
    expect(flow.hear(encodeProxyFrame(PROXY_FRAME.DATA, Buffer.from('hi')))).toEqual({
      kind: PROXY_FRAME.DATA,
      payload: Buffer.from('hi'),
    });
  });

  it('reports the other side silent past the silence limit', () => {
    const flow = new TunnelFlow(() => undefined);
    expect(flow.keepAlive(Date.now())).toBe(true);
    expect(flow.keepAlive(Date.now() + 60_000)).toBe(false);
  });
});
