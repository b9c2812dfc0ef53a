// @ts-check
/**
 * `fleet/import-boundaries`: the rooms of the repository (README "Architecture", ARCHITECTURE.md) and what each may
 * import, so the dependency graph is the one the package.json files declare.
 *
 * - An app (apps/<name>) never imports another app, by `@fleet/<app>` or by path: shared code lives in packages/.
 * - Apps export nothing: nobody imports `@fleet/agent`, `@fleet/api` or `@fleet/cli`.
 * - deploy/ is imported as `@fleet/deploy`, its one public index: never by path from outside, never `@fleet/deploy/…`.
 * - A package (packages/<name>) imports neither an app nor deploy; deploy imports no app.
 * - test/ and bench/ drive the apps as processes and import packages; they do not reach into apps/ by path.
 * - A package is imported by its name, not by a path into packages/.
 *
 * An exception is an `eslint-disable-next-line fleet/import-boundaries -- why` on the import itself.
 */
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..');
const APPS = ['agent', 'api', 'cli'];

/** Which room a file is in: `app:<name>`, `package:<name>`, `deploy`, `test`, `bench`, or `root`. */
function roomOf(file) {
  const [top, name] = path.relative(REPO_ROOT, file).split(path.sep);
  if (top === 'apps' && name) return `app:${name}`;
  if (top === 'packages' && name) return `package:${name}`;
  if (top === 'deploy' || top === 'test' || top === 'bench') return top;
  return 'root';
}

/** Why importing `specifier` from `file` crosses a wall, or undefined when it does not. */
function violation(file, specifier) {
  const from = roomOf(file);
  if (specifier.startsWith('.')) return pathViolation(file, from, roomOf(path.resolve(path.dirname(file), specifier)));
  const [scope, name, ...deep] = specifier.split('/');
  if (scope !== '@fleet') return undefined;
  if (APPS.includes(name)) return `'${specifier}': apps export nothing; shared code lives in packages/`;
  if (name === 'deploy' && deep.length > 0) return `'${specifier}': import '@fleet/deploy', its one public index`;
  if (name === 'deploy' && from.startsWith('package:')) return `'${specifier}': a package does not import deploy`;
  return undefined;
}

function pathViolation(file, from, to) {
  if (to === from || to === 'root') return undefined;
  if (to === 'deploy') return "deploy/ is imported as '@fleet/deploy', not by path";
  if (to.startsWith('package:')) return `import the package '@fleet/${to.slice('package:'.length)}' by name, not by path`;
  if (to.startsWith('app:') && from.startsWith('app:')) return 'an app never imports another app; shared code lives in packages/';
  if (to.startsWith('app:'))
    return `${from === 'root' ? 'this file' : from.replace(/:.*/, '')} does not import an app's files; apps export nothing`;
  // Tests next to the code they test may use the repository's test helpers (test/support).
  if (to === 'test' && /\.test\.ts$/.test(file)) return undefined;
  return `${from} does not import from ${to}`;
}

/** @type {import('eslint').Rule.RuleModule} */
const importBoundaries = {
  meta: { type: 'problem', docs: { description: 'keeps apps, packages, deploy, tests and bench in their rooms' }, schema: [] },
  create(context) {
    const check = (node) => {
      if (!node || node.type !== 'Literal' || typeof node.value !== 'string') return;
      const reason = violation(context.filename, node.value);
      if (reason) context.report({ node, message: reason });
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
      CallExpression: (node) => {
        if (node.callee.type === 'Identifier' && node.callee.name === 'require') check(node.arguments[0]);
      },
    };
  },
};

module.exports = { rules: { 'import-boundaries': importBoundaries } };
