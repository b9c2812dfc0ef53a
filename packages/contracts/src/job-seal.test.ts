import { generateKeyPairSync } from 'node:crypto';
import { jobMessageDigest, jobSealRefusal, paramsDigest, signHostGrant, signJobSeal } from './host-grant';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const message = {
  job_id: 'j1',
  operation: 'docker.container.create',
  target: 'role:web',
  params: { body: { image: 'busybox' } },
  deadline: 1_800_000_000_000,
};

function sealed(hostname: string, contents: Record<string, unknown> = message): Record<string, unknown> {
  // As the agent decodes it: the JSON the gateway sent, parsed.
  return JSON.parse(JSON.stringify({ ...contents, seal: signJobSeal(hostname, jobMessageDigest(contents), privateKey) })) as Record<
    string,
    unknown
  >;
}

describe('job seal', () => {
  it('verifies for the host it was made for, with these exact contents', () => {
    expect(jobSealRefusal(sealed('web-01'), 'web-01', publicKey)).toBeUndefined();
  });

  it('refuses a message without a seal, one sealed for another host, and one changed after sealing', () => {
    expect(jobSealRefusal({ ...message }, 'web-01', publicKey)).toMatch(/no seal/);
    expect(jobSealRefusal(sealed('web-01'), 'web-02', publicKey)).toMatch(/does not verify/);
    for (const change of [
      { params: { body: { image: 'evil' } } },
      { deadline: message.deadline + 1 },
      { operation: 'docker.container.remove' },
      { stream: true },
      { host_grant: { forged: true } },
      { caller_host: true },
    ]) {
      expect(jobSealRefusal({ ...sealed('web-01'), ...change }, 'web-01', publicKey)).toMatch(/does not verify/);
    }
  });

  it("refuses a seal made with another key, and a host grant's signature offered as a seal", () => {
    const other = generateKeyPairSync('ed25519');
    const forged = { ...message, seal: signJobSeal('web-01', jobMessageDigest(message), other.privateKey) };
    expect(jobSealRefusal(forged, 'web-01', publicKey)).toMatch(/does not verify/);
    const grant = signHostGrant(
      {
        job_id: 'j1',
        operation: message.operation,
        hosts: ['web-01'],
        params_sha256: paramsDigest(message.params),
        expires_at: message.deadline,
      },
      privateKey,
    );
    expect(jobSealRefusal({ ...message, seal: grant.signature }, 'web-01', publicKey)).toMatch(/does not verify/);
  });
});
