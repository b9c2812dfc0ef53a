import { generateKeyPairSync } from 'node:crypto';
import { DEFAULT_REGISTRIES } from '@fleet/contracts/host-access';
import { paramsDigest, signHostGrant } from '@fleet/contracts/host-grant';
import type { JobMessage } from '@fleet/contracts/protocol';
import { hostAccessRefusal, hostRefusalRow, namedAsCalled, type AdmittedJob, type HostPolicy } from './host-policy';

const gateway = generateKeyPairSync('ed25519');
const impostor = generateKeyPairSync('ed25519');
const policy: HostPolicy = { grantKey: gateway.publicKey, allowedPaths: ['/srv'], access: { registries: DEFAULT_REGISTRIES } };

function createJob(binds: string[], grantKey = gateway.privateKey): JobMessage {
  const params = { body: { image: 'app:1', binds } };
  const operation = 'docker.container.create';
  const claims = { job_id: 'j1', operation, hosts: ['web-01'], params_sha256: paramsDigest(params), expires_at: Date.now() + 60_000 };
  return { job_id: 'j1', operation, target: 'web-01', params, deadline: Date.now() + 30_000, host_grant: signHostGrant(claims, grantKey) };
}

describe('hostAccessRefusal', () => {
  it('lets a job that does not reach the host run without a grant', () => {
    const params = { body: { image: 'app:1' } };
    const job: JobMessage = { job_id: 'j1', operation: 'docker.container.create', target: 'web-01', params, deadline: 0 };
    expect(hostAccessRefusal(job, 'web-01', policy)).toBeUndefined();
  });

  it("lets a bind run with the gateway's grant for this host, inside the allowed paths", () => {
    expect(hostAccessRefusal(createJob(['/srv/data:/data']), 'web-01', policy)).toBeUndefined();
  });

  it('refuses a bind without a grant, with one signed by another key or for another host, or outside the allowed paths', () => {
    const { host_grant: _grant, ...ungranted } = createJob(['/srv/data:/data']);
    expect(hostAccessRefusal(ungranted, 'web-01', policy)).toMatch(/carries no host-access grant/);
    expect(hostAccessRefusal(createJob(['/srv/data:/data'], impostor.privateKey), 'web-01', policy)).toMatch(/does not verify/);
    expect(hostAccessRefusal(createJob(['/srv/data:/data']), 'web-02', policy)).toMatch(/does not name this host/);
    const outside = /host path \/etc is outside this agent's FLEET_AGENT_HOST_PATHS/;
    expect(hostAccessRefusal(createJob(['/etc:/data']), 'web-01', policy)).toMatch(outside);
  });
});

describe('namedAsCalled', () => {
  const pinned: AdmittedJob = {
    job: { job_id: 'j1', operation: 'docker.container.exec', target: 'web-01', params: { id: 'f00d'.repeat(16) }, deadline: 0 },
    named: 'web',
  };

  it('names the container in the row as the caller did, not by the full id it was pinned to', () => {
    expect(namedAsCalled({ hostname: 'web-01', status: 'ok', changed: true, id: 'f00d'.repeat(16) }, pinned)).toMatchObject({ id: 'web' });
  });

  it('leaves a row about another object, or of an unpinned job, as it is', () => {
    const other = { hostname: 'web-01', status: 'ok' as const, changed: true, id: 'beef' };
    expect(namedAsCalled(other, pinned)).toBe(other);
    expect(namedAsCalled(other, { job: pinned.job })).toBe(other);
  });
});

describe('hostRefusalRow', () => {
  it('is a failed row with the refusal and its status', () => {
    expect(hostRefusalRow('web-01', { refusal: 'privileged container', status: 403 })).toEqual({
      hostname: 'web-01',
      status: 'failed',
      changed: false,
      error: 'host access refused: privileged container',
      error_code: 403,
    });
  });
});
