import { redactContainerInspect, redactEnv, redactRow, REDACTED_VALUE } from './data-redaction';

describe('data redaction', () => {
  it('keeps every variable name and no value, whatever the value holds', () => {
    expect(redactEnv(['PASSWORD=hunter2', 'URL=postgres://u:p@db/x?a=b', 'EMPTY=', 'BARE'])).toEqual([
      `PASSWORD=${REDACTED_VALUE}`,
      `URL=${REDACTED_VALUE}`,
      `EMPTY=${REDACTED_VALUE}`,
      'BARE',
    ]);
    expect(redactEnv([42, { a: 'b' }])).toEqual([REDACTED_VALUE, REDACTED_VALUE]);
    expect(redactEnv('A=b')).toBe(REDACTED_VALUE);
    expect(redactEnv(null)).toBeNull();
  });

  it('redacts Config.Env of an inspect answer under any spelling the docker CLI would decode, leaving the rest', () => {
    const inspect = { Id: 'abc', Config: { Env: ['TOKEN=s3cret'], Image: 'busybox' }, config: { ENV: ['TOKEN=other'] }, Args: ['x'] };
    expect(redactContainerInspect(inspect)).toEqual({
      Id: 'abc',
      Config: { Env: [`TOKEN=${REDACTED_VALUE}`], Image: 'busybox' },
      config: { ENV: [`TOKEN=${REDACTED_VALUE}`] },
      Args: ['x'],
    });
    expect(JSON.stringify(redactContainerInspect(inspect))).not.toContain('s3cret');
    expect(redactContainerInspect('not an object')).toBe('not an object');
  });

  it("cuts only the rows of operations that hold an environment: a container inspect's", () => {
    const row = { hostname: 'web-01', status: 'ok', container: { Config: { Env: ['K=v'] } } };
    expect(redactRow('docker.container.inspect', row)).toEqual({ ...row, container: { Config: { Env: [`K=${REDACTED_VALUE}`] } } });
    expect(row.container.Config.Env).toEqual(['K=v']);
    const list = { hostname: 'web-01', status: 'ok', containers: [{ Config: { Env: ['K=v'] } }] };
    expect(redactRow('docker.container.list', list)).toBe(list);
    const failed = { hostname: 'web-01', status: 'failed' };
    expect(redactRow('docker.container.inspect', failed)).toBe(failed);
  });
});
