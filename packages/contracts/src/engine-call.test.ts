import { engineCallOf, EngineRequestRefusal, locateEngineRequest } from './engine-proxy';

/** The call the audit records for a request, or undefined where the gateway refuses it. */
function matchEngineCall(method: string, url: string) {
  try {
    return engineCallOf(locateEngineRequest(method, url));
  } catch (err) {
    if (err instanceof EngineRequestRefusal) return undefined;
    throw err;
  }
}

describe('engineCallOf', () => {
  it('gives the endpoint judged with its path parameters and version', () => {
    const call = matchEngineCall('POST', '/v1.41/containers/3f2a/start');
    expect(call?.endpoint).toMatchObject({ method: 'POST', path: '/containers/{id}/start' });
    expect(call?.params).toEqual({ version: '1.41', id: '3f2a' });
  });

  it('decodes a parameter and takes every segment of a {name+} one', () => {
    expect(matchEngineCall('GET', '/images/local%2Dx/busybox:latest/json')?.params).toEqual({ name: 'local-x/busybox:latest' });
  });

  it('matches no endpoint for a version padded with zeros (the gateway refuses it)', () => {
    expect(matchEngineCall('GET', `/v${'0'.repeat(600)}1.041/containers/json`)).toBeUndefined();
  });

  it('has no version when the path has no prefix', () => {
    expect(matchEngineCall('HEAD', '/_ping')?.params).toEqual({});
  });

  it('is undefined wherever matchEngineEndpoint refuses', () => {
    expect(matchEngineCall('GET', '/swarm')).toBeUndefined();
    expect(matchEngineCall('GET', '/containers/a%2fb/json')).toBeUndefined();
    expect(matchEngineCall('GET', '/containers/../json')).toBeUndefined();
  });
});
