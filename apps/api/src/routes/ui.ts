import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { Router } from 'express';
import { ApiError } from '../api-error';

/**
 * Where `npm run build` writes the dashboard (README, "Dashboard"): dist/ui beside the compiled gateway,
 * or, for a gateway run from its sources, the repository's dist/ui.
 */
const UI_DIST_CANDIDATES = [path.join(__dirname, 'ui'), path.resolve(__dirname, '..', '..', '..', '..', 'dist', 'ui')];
const UI_DIST = UI_DIST_CANDIDATES.find((dir) => existsSync(path.join(dir, 'index.html'))) ?? UI_DIST_CANDIDATES[0];

/**
 * The page may talk to the gateway only: no inline script or style, no CDN,
 * no framing. The dashboard reads the API with fetch from the same origin.
 */
export const UI_CSP = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "style-src 'self'",
  "script-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The dashboard's static files at /ui, public like /docs: every call it makes carries the operator's own key. */
export function uiRoutes(distDir: string = UI_DIST): Router {
  const router = Router();
  router.use('/ui', (req, res, next) => {
    res.set('content-security-policy', UI_CSP);
    res.set('x-content-type-options', 'nosniff');
    res.set('referrer-policy', 'no-referrer');
    // /ui without the slash would resolve the page's relative URLs one level too high.
    if (req.originalUrl === '/ui') return res.redirect(301, '/ui/');
    if (!existsSync(path.join(distDir, 'index.html'))) {
      return res.status(503).json(new ApiError('dashboard_not_built', "run 'npm run build'").body());
    }
    next();
  });
  router.use('/ui', express.static(distDir, { index: 'index.html', maxAge: 0, fallthrough: false }));
  return router;
}
