import { headers, type Msg, type Subscription } from '@nats-io/transport-node';
import { downloadSubject, TRANSFER_HEADERS } from '@fleet/contracts/protocol';
import { Download } from './downloads';

/** A subscription fed by the test, and each message's reply: '' accepted, or the refusal. */
function fakeSubscription() {
  const queue: Msg[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  const sub = {
    unsubscribe: () => {
      closed = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (queue.length > 0) yield queue.shift() as Msg;
        else if (closed) return;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  } as unknown as Subscription;
  const replies: string[] = [];
  const send = (hostname: string, seq: number, part: string, data = '') =>
    new Promise<string>((resolve) => {
      const h = headers();
      h.set(TRANSFER_HEADERS.seq, String(seq));
      h.set(TRANSFER_HEADERS.part, part);
      queue.push({
        subject: downloadSubject('job-1', hostname),
        reply: '_R_.test.1',
        data: new TextEncoder().encode(data),
        headers: h,
        json: () => JSON.parse(data),
        respond: (_data: unknown, opts?: { headers?: ReturnType<typeof headers> }) => {
          const reply = opts?.headers?.get(TRANSFER_HEADERS.error) ?? '';
          replies.push(reply);
          resolve(reply);
          return true;
        },
      } as unknown as Msg);
      wake?.();
    });
  return { sub, send, replies };
}

describe("a download from a job's host", () => {
  it("hears only the job's host, in order, and answers each part once the client took it", async () => {
    const { sub, send } = fakeSubscription();
    const download = new Download(sub);
    download.expect(['web-01']);
    const written: string[] = [];
    const stranger = send('db-01', 0, 'start', '{}');
    expect(await send('web-01', 0, 'start', '{"X-Docker-Container-Path-Stat":"e30="}')).toBe('');
    expect(await download.started).toEqual({ hostname: 'web-01', headers: { 'X-Docker-Container-Path-Stat': 'e30=' } });
    let release!: () => void;
    download.pipeTo(async (chunk) => {
      await new Promise<void>((resolve) => (release = resolve));
      written.push(new TextDecoder().decode(chunk));
      return true;
    });
    const first = send('web-01', 1, 'data', 'tar-bytes');
    // Not answered until the client took the bytes: the agent waits, and so does its engine read.
    await new Promise((resolve) => setImmediate(resolve));
    expect(written).toEqual([]);
    release();
    expect(await first).toBe('');
    expect(await send('web-01', 5, 'data', 'skipped ahead')).toMatch(/expected part 2, got 5/);
    expect(await send('web-01', 2, 'end')).toBe('');
    await download.finished;
    expect(written).toEqual(['tar-bytes']);
    // db-01 is no host of the job: never answered, never written.
    expect(await Promise.race([stranger, new Promise((resolve) => setTimeout(() => resolve('unanswered'), 20))])).toBe('unanswered');
  });

  it('tells the host to stop once the client is gone', async () => {
    const { sub, send } = fakeSubscription();
    const download = new Download(sub);
    download.expect(['web-01']);
    await send('web-01', 0, 'start', '{}');
    download.pipeTo(async () => false);
    expect(await send('web-01', 1, 'data', 'x')).toBe('the client went away');
    download.close();
  });
});
