import { encodeWithinRowCap, MAX_ROW_BYTES } from './row-cap';

describe('encodeWithinRowCap', () => {
  const decoded = (json: Uint8Array) => JSON.parse(Buffer.from(json).toString('utf8')) as unknown;

  it('hands a row that fits back as it is, with its JSON encoded once for every later use', () => {
    const row = { hostname: 'web-01', status: 'ok' as const, changed: false, message: 'OK — ünïcode', duration_ms: 2 };
    const { row: kept, json } = encodeWithinRowCap(row);
    expect(kept).toBe(row);
    expect(Buffer.from(json).toString('utf8')).toBe(JSON.stringify(row));
  });

  it('halves output that would not fit a NATS message until it does, marked truncated', () => {
    const row = { hostname: 'web-01', status: 'ok' as const, changed: true, stdout: 'x'.repeat(1_500_000), stderr: 'e' };
    const { row: cut, json } = encodeWithinRowCap(row);
    expect(cut.truncated).toBe(true);
    expect(cut.stdout).toBe('x'.repeat(750_000));
    expect(json.length).toBeLessThanOrEqual(MAX_ROW_BYTES);
    expect(decoded(json)).toEqual(cut);
  });

  it('turns a row too large without output to cut into a failed row that says how large it was', () => {
    const row = { hostname: 'web-01', status: 'ok' as const, changed: false, message: 'm'.repeat(1_000_000), duration_ms: 5 };
    const { row: failed, json } = encodeWithinRowCap(row);
    expect(failed).toMatchObject({ hostname: 'web-01', status: 'failed', changed: false, error_code: 507, duration_ms: 5 });
    expect(failed.error).toContain(`(${Buffer.byteLength(JSON.stringify(row))} bytes)`);
    expect(decoded(json)).toEqual(failed);
  });
});
