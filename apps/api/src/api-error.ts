/**
 * A failure that carries the HTTP status it answers with. Raised by the HTTP
 * layer (auth, routes); the job layer's own errors are mapped to it in
 * http/error-answer.ts. Every non-2xx answer is `{error, details, code}` with all
 * three filled (the contract's `Error` schema; README, "Responses").
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly status: number,
    readonly error: string,
    readonly details: string,
    readonly extra: Record<string, unknown> = {},
    /** Response headers that go with the error, e.g. `retry-after` on a 429. */
    readonly headers: Record<string, string> = {},
  ) {
    super(`${error}: ${details}`);
  }

  body(): Record<string, unknown> {
    return { error: this.error, details: this.details, code: this.status, ...this.extra };
  }
}

export const badRequest = (details: string) => new ApiError(400, 'invalid request', details);
export const notFound = (error: string, details: string) => new ApiError(404, error, details);
