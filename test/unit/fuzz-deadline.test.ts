import { deadlineSecondsOf, type HostileRequest } from '../support/fuzz';

const request = (fields: Partial<HostileRequest>): HostileRequest =>
  ({ operation: 'stack.host.remove', kind: 'x', method: 'DELETE', path: '', headers: [], mustReject: false, ...fields }) as HostileRequest;

describe("the fuzzer's reading of a request's own deadline", () => {
  it('reads `timeout` from the path, or from the request line of a raw request', () => {
    expect(deadlineSecondsOf(request({ path: '/node/web-01/stack/x?timeout=7' }))).toBe(7);
    const raw = Buffer.from('DELETE /node/web-01/stack/x?timeout=5 HTTP/1.1\r\nhost: x\r\nx-unicode: \u00ff\r\n\r\n', 'latin1');
    expect(deadlineSecondsOf(request({ raw }))).toBe(5);
  });

  it('is the default 30 s without one, and 5 s for a value no gateway takes', () => {
    expect(deadlineSecondsOf(request({ path: '/node/web-01/stack/x' }))).toBe(30);
    expect(deadlineSecondsOf(request({ path: '/node/web-01/stack/x?timeout=-1' }))).toBe(5);
  });
});
