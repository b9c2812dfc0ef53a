import { loadAgentConfig, parseLabels } from './config';

describe('parseLabels', () => {
  it('reads key=value pairs', () => {
    expect(parseLabels('role=web,zone=eu.west')).toEqual({ role: 'web', zone: 'eu.west' });
    expect(parseLabels('')).toEqual({});
  });

  it.each(['role', 'role=web=x', 'ro le=web', 'zone=eu..west', 'zone=eu.*'])('refuses %s', (raw) => {
    expect(() => parseLabels(raw)).toThrow(`'${raw}'`);
  });
});

describe('loadAgentConfig', () => {
  it('refuses a hostname that cannot be a subject token', () => {
    expect(() => loadAgentConfig({ FLEET_AGENT_HOSTNAME: 'web.01' })).toThrow("FLEET_AGENT_HOSTNAME='web.01'");
  });
});
