import jwt from 'jsonwebtoken';
import {
  DEFAULT_MAX_KEY_TTL_SECONDS,
  InvalidTokenError,
  KeyVerifier,
  MintError,
  mintToken,
  TOKEN_ISSUER,
  verificationKey,
  verifyToken,
} from './index';

const SECRET = 's'.repeat(40);
const KEY = verificationKey(SECRET);
const forged = (claims: object) =>
  jwt.sign({ role: 'admin', sub: 'x', jti: 'j1', iss: TOKEN_ISSUER, ...claims }, SECRET, { algorithm: 'HS256' });

describe('mintToken', () => {
  it.each(['', '_all', '_any', 'role:', 'a b'])("refuses the scope '%s' rather than minting an unscoped key", (scope) => {
    expect(() => mintToken({ secret: SECRET, role: 'admin', ttlSeconds: 60, scope })).toThrow(MintError);
  });

  it.each(['', 'a b', 'x'.repeat(257), 'new\nline', 'ünï'])(
    "refuses the subject %j, which POST /token's contract refuses too",
    (subject) => {
      expect(() => mintToken({ secret: SECRET, role: 'admin', ttlSeconds: 60, subject })).toThrow(MintError);
    },
  );

  it('mints subjects inside the contract rule, and the default <role>-key', () => {
    expect(verifyToken(mintToken({ secret: SECRET, role: 'admin', ttlSeconds: 60, subject: 'ci@web-01.eu:x_y' }), KEY).sub).toBe(
      'ci@web-01.eu:x_y',
    );
    expect(verifyToken(mintToken({ secret: SECRET, role: 'viewer', ttlSeconds: 60 }), KEY).sub).toBe('viewer-key');
  });

  it('keeps a valid scope in the key', () => {
    const key = mintToken({ secret: SECRET, role: 'viewer', ttlSeconds: 60, scope: 'role:web' });
    expect(verifyToken(key, KEY).scope).toBe('role:web');
  });

  it('refuses a lifetime over the maximum (90 days unless told otherwise)', () => {
    expect(() => mintToken({ secret: SECRET, role: 'admin', ttlSeconds: DEFAULT_MAX_KEY_TTL_SECONDS + 1 })).toThrow('at most 7776000 s');
    expect(() => mintToken({ secret: SECRET, role: 'admin', ttlSeconds: 7200, maxTtlSeconds: 3600 })).toThrow(MintError);
    expect(mintToken({ secret: SECRET, role: 'admin', ttlSeconds: DEFAULT_MAX_KEY_TTL_SECONDS })).toEqual(expect.any(String));
  });
});

describe('verifyToken', () => {
  const now = Math.floor(Date.now() / 1000);

  it('refuses a key signed to live longer than the maximum (a 100-year key)', () => {
    expect(() => verifyToken(forged({ iat: now, exp: now + 100 * 365 * 86400 }), KEY)).toThrow(/lives longer than the maximum/);
    expect(() => verifyToken(forged({ iat: now, exp: now + 7200 }), KEY, 3600)).toThrow(InvalidTokenError);
    expect(verifyToken(forged({ iat: now, exp: now + 3600 }), KEY, 3600).jti).toBe('j1');
  });

  it.each([[''], ['_all'], [42], ['role:*']])('refuses a key whose scope claim is %p', (scope) => {
    expect(() => verifyToken(forged({ exp: now + 60, scope }), KEY)).toThrow('API key scope is not a hostname or key:value selectors');
  });
});

const secret = 'k'.repeat(40);

describe('KeyVerifier', () => {
  afterEach(() => jest.restoreAllMocks());

  it('verifies a key once and answers later requests with the same claims until it expires', () => {
    const verify = jest.spyOn(jwt, 'verify');
    const keys = new KeyVerifier(verificationKey(secret));
    const token = mintToken({ secret, role: 'viewer', ttlSeconds: 60, subject: 'dash' });
    const first = keys.verify(token);
    expect(keys.verify(token)).toEqual(first);
    expect(first).toMatchObject({ sub: 'dash', role: 'viewer' });
    expect(verify).toHaveBeenCalledTimes(1);

    // Past its exp the key is verified again, and refused with jsonwebtoken's reason.
    jest.spyOn(Date, 'now').mockReturnValue((first.exp + 1) * 1000);
    expect(() => keys.verify(token)).toThrow(new InvalidTokenError('API key expired'));
    expect(verify).toHaveBeenCalledTimes(2);
  });

  it('keeps no key that failed, and forgets the least recently used key beyond its capacity', () => {
    const verify = jest.spyOn(jwt, 'verify');
    const keys = new KeyVerifier(verificationKey(secret), { capacity: 2 });
    const forged = mintToken({ secret: 'x'.repeat(40), role: 'admin', ttlSeconds: 60 });
    expect(() => keys.verify(forged)).toThrow(InvalidTokenError);
    expect(() => keys.verify(forged)).toThrow(InvalidTokenError);
    expect(verify).toHaveBeenCalledTimes(2);

    const [a, b, c] = ['a', 'b', 'c'].map((subject) => mintToken({ secret, role: 'viewer', ttlSeconds: 60, subject }));
    keys.verify(a);
    keys.verify(b);
    keys.verify(a); // a is now the most recently used
    keys.verify(c); // evicts b
    verify.mockClear();
    keys.verify(a);
    keys.verify(c);
    expect(verify).toHaveBeenCalledTimes(0);
    keys.verify(b);
    expect(verify).toHaveBeenCalledTimes(1);
  });
});
