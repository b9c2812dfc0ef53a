import { redactContainerInspect } from '@fleet/contracts/data-redaction';
import type { ProxyAbort, ProxyHead } from '@fleet/contracts/protocol';
import { RedactedAnswer, type ProxyBridge } from './redacted-answer';
import type { TunnelSession } from './tunnel';

/** What the client was sent. */
class Client implements ProxyBridge {
  sentHead?: ProxyHead;
  body = Buffer.alloc(0);
  ended = false;
  aborted?: ProxyAbort;
  attach(): void {}
  head(head: ProxyHead): void {
    this.sentHead = head;
  }
  data(bytes: Buffer, handedOn: () => void): void {
    this.body = Buffer.concat([this.body, bytes]);
    handedOn();
  }
  end(): void {
    this.ended = true;
  }
  abort(reason: ProxyAbort): void {
    this.aborted = reason;
  }
}

function setup(maxBytes?: number) {
  const client = new Client();
  const aborted: string[] = [];
  const answer = new RedactedAnswer(client, redactContainerInspect, maxBytes);
  answer.attach({ abort: (details: string) => aborted.push(details) } as unknown as TunnelSession, {} as never);
  return { client, answer, aborted };
}

const INSPECT = JSON.stringify({ Id: 'abc', Config: { Env: ['TOKEN=s3cret', 'PATH=/bin'] } });

describe('RedactedAnswer', () => {
  it('sends nothing until the whole answer is in, then the cut answer with its own length', () => {
    const { client, answer } = setup();
    let credited = 0;
    answer.head({ status: 200, headers: { 'content-type': 'application/json', 'Content-Length': String(INSPECT.length) } });
    answer.data(Buffer.from(INSPECT.slice(0, 10)), () => credited++);
    expect(client.sentHead).toBeUndefined();
    answer.data(Buffer.from(INSPECT.slice(10)), () => credited++);
    answer.end();
    const body = client.body.toString();
    expect(JSON.parse(body)).toEqual({ Id: 'abc', Config: { Env: ['TOKEN=<redacted>', 'PATH=<redacted>'] } });
    expect(client.sentHead).toEqual({
      status: 200,
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
    });
    expect({ credited, ended: client.ended }).toEqual({ credited: 2, ended: true });
  });

  it("passes the engine's error answers unchanged", () => {
    const { client, answer } = setup();
    answer.head({ status: 404, headers: { 'content-type': 'application/json' } });
    answer.data(Buffer.from('{"message":"No such container: x"}'), () => undefined);
    answer.end();
    expect({ status: client.sentHead?.status, body: client.body.toString() }).toEqual({
      status: 404,
      body: '{"message":"No such container: x"}',
    });
  });

  it('refuses with a 502 what it cannot judge: too large, compressed, not JSON', () => {
    const large = setup(8);
    large.answer.head({ status: 200, headers: {} });
    large.answer.data(Buffer.from(INSPECT), () => undefined);
    large.answer.end();
    expect({ status: large.client.aborted?.status, sent: large.client.body.length, sessionAborted: large.aborted.length }).toEqual({
      status: 502,
      sent: 0,
      sessionAborted: 1,
    });

    const gzip = setup();
    gzip.answer.head({ status: 200, headers: { 'Content-Encoding': 'gzip' } });
    gzip.answer.data(Buffer.from(INSPECT), () => undefined);
    gzip.answer.end();
    expect({ status: gzip.client.aborted?.status, sent: gzip.client.body.length }).toEqual({ status: 502, sent: 0 });

    const text = setup();
    text.answer.head({ status: 200, headers: {} });
    text.answer.data(Buffer.from('TOKEN=s3cret'), () => undefined);
    text.answer.end();
    expect({ status: text.client.aborted?.status, sent: text.client.body.length }).toEqual({ status: 502, sent: 0 });
  });
});
