import { parseCompose } from './compose';
import { redactComposeEnvironment } from './compose-redaction';

const redacted = (text: string) => redactComposeEnvironment(text);

describe('redactComposeEnvironment', () => {
  it('replaces every value of a map or list environment and keeps the names, comments and the rest as sent', () => {
    const text = [
      '# the shop',
      'services:',
      '  web:',
      '    image: local/web:1 # pinned',
      '    environment:',
      '      DB_PASSWORD: hunter2',
      '      PORT: 8080',
      '  worker:',
      '    image: local/worker:1',
      '    environment:',
      '      - API_TOKEN=s3cr3t=with=equals',
      '      - MODE=fast',
      '',
    ].join('\n');
    const out = redacted(text);
    for (const secret of ['hunter2', '8080', 's3cr3t']) expect(out).not.toContain(secret);
    expect(out).toContain('DB_PASSWORD: <redacted>');
    expect(out).toContain('PORT: <redacted>');
    expect(out).toContain('- API_TOKEN=<redacted>');
    expect(out).toContain('- MODE=<redacted>');
    expect(out).toContain('# the shop');
    expect(out).toContain('image: local/web:1 # pinned');
    // Still a compose file of the subset, with the same services.
    const parsed = parseCompose(out);
    expect(parsed.ok && Object.keys(parsed.spec.services).sort()).toEqual(['web', 'worker']);
  });

  it('redacts a value reached through an anchor, an alias or a merge key where it is written', () => {
    const text = [
      'services:',
      '  base: &base',
      '    image: local/web:1',
      '    environment: &env',
      '      TOKEN: &token abc123',
      '  web:',
      '    <<: *base',
      '    command: ["echo", *token]',
      '  api:',
      '    image: local/api:1',
      '    environment: *env',
      '  job:',
      '    image: local/api:1',
      '    environment:',
      '      <<: *env',
      '      OTHER: xyz789',
      '',
    ].join('\n');
    const out = redacted(text);
    for (const secret of ['abc123', 'xyz789']) expect(out).not.toContain(secret);
    expect(out).toContain('*token');
    // Read as the subset reads it: every service's every environment value is the redaction, whatever way it got there.
    const parsed = parseCompose(out);
    if (!parsed.ok) throw new Error(parsed.message);
    const values = Object.values(parsed.spec.services).flatMap((service) => Object.values(service.environment));
    expect(values.length).toBe(5);
    expect(new Set(values)).toEqual(new Set(['<redacted>']));
  });

  it('leaves a compose file without environment as it was', () => {
    const text = 'services:\n  web:\n    image: local/web:1\n';
    expect(redacted(text)).toBe(text);
  });
});
