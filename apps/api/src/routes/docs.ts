import { Router } from 'express';
import { loadContract } from '@fleet/contracts/operations';
import type { GatewayHandlers } from './operation-table';

/** Redoc's self-contained bundle, served from node_modules: the docs page needs no CDN and no network. */
const REDOC_BUNDLE = require.resolve('redoc/bundles/redoc.standalone.js');

/**
 * The contract, as JSON at /openapi.json and rendered by Redoc at /docs.
 * Both are public (mounted before authentication) and use relative URLs, so
 * they keep working behind a reverse proxy that adds a path prefix.
 */
export function docsHandlers(): Pick<GatewayHandlers, 'docs.openapi' | 'docs.page'> {
  const contract = JSON.stringify(loadContract());
  return {
    'docs.openapi': (_req, res) => {
      res.type('application/json').send(contract);
    },
    'docs.page': (req, res) => {
      // The page's URLs are relative to /docs; under /docs/ they would point one level too deep.
      if (req.path.endsWith('/')) return res.redirect(301, '../docs');
      res.set('content-security-policy', DOCS_CSP).type('html').send(DOCS_PAGE);
    },
  };
}

/** The page's script, no operation of the contract: the file Redoc's bundle is. */
export function docsAssetRoutes(): Router {
  const router = Router();
  router.get('/docs/redoc.standalone.js', (_req, res) => {
    res.sendFile(REDOC_BUNDLE, { maxAge: '1h' });
  });
  return router;
}

/**
 * The page may load from the gateway only. Redoc's sidebar footer fetches its
 * logo from cdn.redoc.ly; this policy keeps the browser from even asking.
 * Redoc injects its styles at run time and runs its search index in a blob: worker.
 */
const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  'worker-src blob:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const DOCS_PAGE = `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Fleet gateway API</title>
    <link rel="icon" href="data:,">
    <style>body { margin: 0; padding: 0; }</style>
  </head>
  <body>
    <redoc spec-url="openapi.json" expand-responses="200,202" json-sample-expand-level="3" path-in-middle-panel="true"></redoc>
    <script src="docs/redoc.standalone.js"></script>
  </body>
</html>
`;
