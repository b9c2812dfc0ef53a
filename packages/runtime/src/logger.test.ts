import { createLogger } from './logger';

function captured(): { lines: string[]; write: (line: string) => void } {
  const lines: string[] = [];
  return { lines, write: (line) => lines.push(line) };
}

describe('createLogger', () => {
  it("writes no credential header the contract names, nor a bare secret, whatever the call's fields", () => {
    const out = captured();
    const log = createLogger('test', 'info', out);
    log.info(
      { headers: { authorization: 'Bearer key-123', 'x-api-key': 'key-456', 'x-registry-auth': 'cred-789', accept: 'text/plain' } },
      'request',
    );
    log.info({ authorization: 'Bearer key-abc', secret: 'sec-def', registry: { password: 'pw-ghi' } }, 'other');
    const text = out.lines.join('');
    for (const leaked of ['key-123', 'key-456', 'cred-789', 'key-abc', 'sec-def', 'pw-ghi']) expect(text).not.toContain(leaked);
    expect(text).toContain('text/plain');
    expect(text.match(/\[redacted\]/g)).toHaveLength(6);
  });
});
