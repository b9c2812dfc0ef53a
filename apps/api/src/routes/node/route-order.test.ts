import { OPERATIONS } from '@fleet/contracts/operations';
import { compareBySpecificity } from './route-order';

const NODE = '/node/{target}/container/docker';

describe('route order by path specificity', () => {
  it('puts a literal segment before a {param} at the same place', () => {
    expect(compareBySpecificity(`${NODE}/prune`, `${NODE}/{id}`)).toBeLessThan(0);
    expect(compareBySpecificity(`${NODE}/{id}`, `${NODE}/prune`)).toBeGreaterThan(0);
    expect(compareBySpecificity(`${NODE}/image/pull`, `${NODE}/image/{image}`)).toBeLessThan(0);
    expect(compareBySpecificity(`${NODE}/image/batch-delete`, `${NODE}/image/{image}`)).toBeLessThan(0);
    expect(compareBySpecificity(`${NODE}/volume/prune`, `${NODE}/volume/{name}`)).toBeLessThan(0);
  });

  it('decides at the first differing segment, not by the number of literals', () => {
    // `/image/{image}/history` must win over `/{id}/history`-shaped routes although both have one parameter after docker.
    expect(compareBySpecificity(`${NODE}/image/{image}/history`, `${NODE}/{id}/top`)).toBeLessThan(0);
    expect(compareBySpecificity(`${NODE}/image/{image}/json`, `${NODE}/{id}/json`)).toBeLessThan(0);
    expect(compareBySpecificity(`${NODE}/{id}/json`, `${NODE}/image/{image}/json`)).toBeGreaterThan(0);
    expect(compareBySpecificity(`${NODE}/system/events`, `${NODE}/{id}/logs`)).toBeLessThan(0);
  });

  it('is 0 only for the same template; a prefix goes first; literals go alphabetically', () => {
    expect(compareBySpecificity(`${NODE}/{id}/stop`, `${NODE}/{id}/stop`)).toBe(0);
    expect(compareBySpecificity(NODE, `${NODE}/image`)).toBeLessThan(0);
    expect(compareBySpecificity(`${NODE}/image`, `${NODE}/volume`)).toBeLessThan(0);
    expect(compareBySpecificity(`${NODE}/{id}/start`, `${NODE}/{id}/stop`)).toBeLessThan(0);
  });

  it('orders the contract so that no route is shadowed by one mounted before it', () => {
    const ordered = OPERATIONS.filter((op) => op.nodeTargeted)
      .map((op) => op.path)
      .sort(compareBySpecificity);
    const shadowed: string[] = [];
    ordered.forEach((path, index) => {
      // A concrete URL for this route: its own literals, `x` for each parameter.
      const concrete = path.split('/').map((segment) => (segment.startsWith('{') ? 'x' : segment));
      const first = ordered.findIndex((candidate) => matches(candidate, concrete));
      if (first !== index && ordered[first] !== path) shadowed.push(`${path} is shadowed by ${ordered[first]}`);
    });
    expect(shadowed).toEqual([]);
  });
});

function matches(template: string, concrete: string[]): boolean {
  const segments = template.split('/');
  return segments.length === concrete.length && segments.every((segment, i) => segment.startsWith('{') || segment === concrete[i]);
}
