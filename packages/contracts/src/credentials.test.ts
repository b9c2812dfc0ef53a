import { credentialHeaders } from './credentials';

describe('credentialHeaders', () => {
  it("names the contract's key headers and every x-secret-header, lower-cased", () => {
    expect(credentialHeaders()).toEqual(['authorization', 'x-api-key', 'x-registry-auth']);
  });

  it('follows the security schemes of the document it reads', () => {
    const contract = {
      components: {
        securitySchemes: {
          basic: { type: 'http' },
          token: { type: 'apiKey', in: 'header', name: 'X-Fleet-Token' },
          cookie: { type: 'apiKey', in: 'cookie', name: 'sid' },
        },
      },
    };
    expect(credentialHeaders(contract)).toEqual(['authorization', 'x-fleet-token', 'x-registry-auth']);
  });
});
