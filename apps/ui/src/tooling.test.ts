/**
 * `npm run lint` and `npm run typecheck` cover the dashboard's TSX as they cover the rest: ESLint with the
 * repository's config reports a fault in a .tsx file, and the TypeScript project lists every .tsx source.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';
import ts from 'typescript';

const REPO_ROOT = path.join(__dirname, '..', '..', '..');

describe("the dashboard's TSX and the repository's tools", () => {
  it('ESLint lints a .tsx file of the dashboard with the repository config', async () => {
    // The config is passed in: ESLint loads a config file with a dynamic import(), which jest's sandbox does not run.
    const eslint = new ESLint({ cwd: REPO_ROOT, overrideConfigFile: true, overrideConfig: require('../../../eslint.config.js') });
    const source = "const unused = 1;\nexport const view = <p class='muted'>{'x'}</p>;\n";
    const [result] = await eslint.lintText(source, { filePath: path.join(__dirname, 'views', 'example.tsx') });
    expect(result.messages.map((message) => message.ruleId)).toEqual(['@typescript-eslint/no-unused-vars']);
  });

  it('the TypeScript project holds every .tsx source of the dashboard, compiled as Preact JSX', () => {
    const configFile = path.join(REPO_ROOT, 'tsconfig.json');
    const { config } = ts.readConfigFile(configFile, ts.sys.readFile);
    const project = ts.parseJsonConfigFileContent(config, ts.sys, REPO_ROOT);
    expect(project.options.jsx).toBe(ts.JsxEmit.ReactJSX);
    expect(project.options.jsxImportSource).toBe('preact');
    const tsxFiles = readdirSync(__dirname, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.tsx'));
    expect(tsxFiles.length).toBeGreaterThan(10);
    for (const file of tsxFiles) expect(project.fileNames).toContain(path.join(__dirname, file));
  });
});
