import { ApiError } from '../api-error';

const WINDOW_MS = 60_000;

/**
 * Failed authentications (no key, invalid, expired or revoked key) per client address, per
 * gateway replica, in fixed one-minute windows (README "Limits"). Past the limit an address gets
 * 429 with Retry-After instead of 401, and those answers are not audited, so a flood of
 * unauthenticated requests can neither fill the audit trail nor probe keys at speed. A request
 * with a valid key is never counted nor refused here.
 */
export class PreAuthLimit {
  private failures = new Map<string, number>();
  private windowEndsAt = 0;

  constructor(private readonly perMinute: number) {}

  /** Counts one failed authentication from `address`: the 429 to answer with once it is over the limit, else undefined. */
  refusal(address: string | undefined, now = Date.now()): ApiError | undefined {
    if (this.perMinute === 0) return undefined;
    if (now >= this.windowEndsAt) {
      // Starting over each window also bounds the map by the addresses seen within one minute.
      this.failures = new Map();
      this.windowEndsAt = now + WINDOW_MS;
    }
    const key = address ?? 'unknown';
    const count = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, count);
    if (count <= this.perMinute) return undefined;
    const retryAfter = Math.max(1, Math.ceil((this.windowEndsAt - now) / 1000));
    return new ApiError(
      'auth_rate_limited',
      `more than ${this.perMinute} failed authentications from this address within a minute (FLEET_PRE_AUTH_RATE_LIMIT_PER_MINUTE); ` +
        `retry after the Retry-After delay`,
      { headers: { 'retry-after': String(retryAfter) } },
    );
  }
}
