import { signal } from '@preact/signals';

/** The view and its filters live in the URL hash, so a link to a filtered view can be shared. */
export interface Route {
  path: string;
  query: string;
}

function parse(): Route {
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  return { path: path || '/fleet', query };
}

export const route = signal<Route>(parse());
window.addEventListener('hashchange', () => {
  route.value = parse();
});

export function go(path: string): void {
  location.hash = `#${path}`;
}
