// Bundles the dashboard into dist/ (served by the gateway at /ui): one script, one stylesheet, one page.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, 'dist');
mkdirSync(dist, { recursive: true });
await build({
  entryPoints: [path.join(here, 'src', 'main.ts')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  outfile: path.join(dist, 'app.js'),
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(path.join(here, 'src', 'index.html'), path.join(dist, 'index.html'));
copyFileSync(path.join(here, 'src', 'style.css'), path.join(dist, 'style.css'));
