/**
 * Express tries routes in the order they were mounted, and a `{param}`
 * segment matches any literal: `/image/prune` mounted after `/{id}/prune`
 * would read `image` as a container id. Mounting by this order puts every
 * route before the routes that would shadow it.
 */

function isParameter(segment: string): boolean {
  return segment.startsWith('{');
}

/**
 * Compares two OpenAPI path templates segment by segment: at the first
 * difference a literal precedes a `{param}` (two literals go alphabetically:
 * they never match the same URL); a path that is a prefix of the other goes
 * first. Any two templates that can match the same URL are thus ordered most
 * specific first.
 */
export function compareBySpecificity(a: string, b: string): number {
  const left = a.split('/');
  const right = b.split('/');
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    if (left[i] === right[i]) continue;
    const leftParameter = isParameter(left[i]);
    const rightParameter = isParameter(right[i]);
    if (leftParameter !== rightParameter) return leftParameter ? 1 : -1;
    if (!leftParameter) return left[i] < right[i] ? -1 : 1;
  }
  return left.length - right.length;
}

/** OpenAPI `{name}` path templates become express `:name` parameters. */
export function expressPath(openApiPath: string): string {
  return openApiPath.replace(/\{(\w+)\}/g, ':$1');
}
