import { requestDigest } from './idempotency';

const restart = { operation: 'docker.container.restart', target: 'role:web', params: { id: 'app', t: 1 } };

describe('requestDigest', () => {
  it('is the same for the same request whatever the order of its fields', () => {
    const create = { operation: 'docker.container.create', target: '_all', params: { name: 'app', body: { Image: 'busybox', Cmd: ['sleep', '60'] } } };
    const reordered = { target: '_all', params: { body: { Cmd: ['sleep', '60'], Image: 'busybox' }, name: 'app' }, operation: 'docker.container.create' };
    expect(requestDigest(reordered)).toBe(requestDigest(create));
  });

  it('differs when the operation, target, a parameter, the credential or the file body differs', () => {
    const digest = requestDigest(restart);
    expect(requestDigest({ ...restart, operation: 'docker.container.stop' })).not.toBe(digest);
    expect(requestDigest({ ...restart, target: 'role:db' })).not.toBe(digest);
    expect(requestDigest({ ...restart, params: { id: 'app', t: 2 } })).not.toBe(digest);
    expect(requestDigest({ ...restart, secret: 'a' })).not.toBe(requestDigest({ ...restart, secret: 'b' }));
    expect(requestDigest({ ...restart, uploadDigest: 'SHA-256=a' })).not.toBe(requestDigest({ ...restart, uploadDigest: 'SHA-256=b' }));
  });

  it('is a SHA-256 in hex: no parameter or credential value appears in what is stored', () => {
    expect(requestDigest({ ...restart, secret: 'hunter2' })).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses parameters nested too deep to digest with a 400, not a crash', () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    expect(() => requestDigest({ ...restart, params: deep })).toThrow(expect.objectContaining({ status: 400 }));
  });
});
