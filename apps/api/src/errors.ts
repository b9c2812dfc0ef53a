/**
 * A failure that carries the HTTP status it answers with. Raised by any layer
 * (targets, jobs, routes); only the HTTP layer turns it into a response, and
 * every non-2xx answer is `{error, details, code}` with all three filled (SPEC §4).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly details: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(`${error}: ${details}`);
  }

  body(): Record<string, unknown> {
    return { error: this.error, details: this.details, code: this.status, ...this.extra };
  }
}

export const badRequest = (details: string) => new ApiError(400, 'invalid request', details);
export const notFound = (error: string, details: string) => new ApiError(404, error, details);
