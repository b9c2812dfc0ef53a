/**
 * The repository's import walls (eslint-rules/import-boundaries.js), run through ESLint with the repository's own
 * config as `npm run lint` runs it: each forbidden import is reported, and the legal ones are not.
 */
import path from 'node:path';
import { ESLint } from 'eslint';

const REPO_ROOT = path.join(__dirname, '..', '..');
// The config is passed in rather than looked up: ESLint loads a config file with a dynamic import(), which jest's
// module sandbox does not run.
const eslint = new ESLint({ cwd: REPO_ROOT, overrideConfigFile: true, overrideConfig: require('../../eslint.config.js') });

/** What the boundary rule says about `source` as if it were the file at `file` (repository-relative). */
async function boundaryMessages(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: path.join(REPO_ROOT, file) });
  return result.messages.filter((message) => message.ruleId === 'fleet/import-boundaries').map((message) => message.message);
}

describe('the import walls', () => {
  it.each([
    [
      'an app importing another app by its package name',
      'apps/cli/src/commands/example.ts',
      "import '@fleet/agent/config';",
      'apps export nothing',
    ],
    [
      'an app importing another app by path',
      'apps/cli/src/commands/example.ts',
      "import '../../../api/src/auth/middleware';",
      'an app never imports another app',
    ],
    [
      'an app re-exporting another app',
      'apps/api/src/example.ts',
      "export { AGENT_SETTINGS } from '../../agent/src/config';",
      'an app never imports another app',
    ],
    ['an app requiring another app', 'apps/agent/src/example.ts', "require('../../cli/src/main');", 'an app never imports another app'],
    [
      'an app importing deploy by path',
      'apps/cli/src/commands/example.ts',
      "import '../../../../deploy/lib/fleet';",
      "deploy/ is imported as '@fleet/deploy'",
    ],
    [
      'a test importing deploy by path',
      'test/support/example.ts',
      "import '../../deploy/lib/process';",
      "deploy/ is imported as '@fleet/deploy'",
    ],
    [
      'the bench importing deploy by path',
      'bench/lib/example.ts',
      "import('../../deploy/lib/paths');",
      "deploy/ is imported as '@fleet/deploy'",
    ],
    [
      'a deep import of @fleet/deploy',
      'bench/sections/example.ts',
      "import '@fleet/deploy/lib/state';",
      "import '@fleet/deploy', its one public index",
    ],
    ['a package importing an app by name', 'packages/sdk/src/example.ts', "import '@fleet/api/app';", 'apps export nothing'],
    [
      'a package importing an app by path',
      'packages/contracts/src/example.ts',
      "import '../../../apps/api/src/app';",
      "package does not import an app's files",
    ],
    ['a package importing deploy', 'packages/runtime/src/example.ts', "import '@fleet/deploy';", 'a package does not import deploy'],
    [
      'deploy importing an app',
      'deploy/lib/example.ts',
      "import '../../apps/api/src/auth/middleware';",
      "deploy does not import an app's files",
    ],
    [
      'the bench importing agent internals',
      'bench/sections/example.ts',
      "import '../../apps/agent/src/executors/types';",
      "bench does not import an app's files",
    ],
    [
      'a test reaching into an app',
      'test/e2e/example.test.ts',
      "import '../../apps/api/src/jobs/client';",
      "test does not import an app's files",
    ],
    [
      'a package by path instead of by name',
      'apps/agent/src/example.ts',
      "import '../../../packages/contracts/src/protocol';",
      "import the package '@fleet/contracts' by name",
    ],
  ])('reports %s', async (_name, file, source, reason) => {
    const messages = await boundaryMessages(file, source);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(reason);
  });

  it('lets apps, packages, deploy, tests and bench import what they may', async () => {
    const legal: Array<[string, string]> = [
      [
        'apps/cli/src/commands/example.ts',
        "import '@fleet/deploy';\nimport '@fleet/contracts/grammar';\nimport '@fleet/api-keys';\nimport '../output';\nimport '../../package.json';",
      ],
      ['apps/api/src/example.test.ts', "import '../../../test/support/metrics';\nimport './app';"],
      ['packages/runtime/src/example.ts', "import '@fleet/contracts/grammar';\nimport './config';"],
      ['deploy/lib/example.ts', "import '@fleet/api-keys';\nimport './nats-auth';"],
      ['test/e2e/example.test.ts', "import '@fleet/deploy';\nimport '@fleet/sdk';\nimport '../support/fleet';"],
      ['bench/sections/example.ts', "import '@fleet/deploy';\nimport '../lib/stats';"],
    ];
    for (const [file, source] of legal) expect({ file, messages: await boundaryMessages(file, source) }).toEqual({ file, messages: [] });
  });

  it('is on for every TypeScript file `npm run lint` checks', async () => {
    const config = await eslint.calculateConfigForFile(path.join(REPO_ROOT, 'apps/agent/src/agent.ts'));
    expect(config.rules['fleet/import-boundaries']).toEqual([2]);
  });
});
