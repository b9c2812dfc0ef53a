import type { RequestHandler } from 'express';
import { badRequest } from '../api-error';

/**
 * The OpenAPI validator coerces `1e400` or `Infinity` to a number that then
 * slips past `integer`, `minimum` and `maximum`; nothing downstream can use
 * such a value (a deadline, a page size), so it is refused here, by name.
 */
export const finiteQueryNumbers: RequestHandler = (req, _res, next) => {
  for (const [name, value] of Object.entries(req.query)) {
    if (typeof value === 'number' && !Number.isFinite(value)) throw badRequest(`query.${name} must be a finite number`);
  }
  next();
};
