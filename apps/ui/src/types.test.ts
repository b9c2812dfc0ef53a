/**
 * The dashboard restates no contract type: every object type it declares is checked against every object schema
 * in the contract, and one whose fields are all fields of a schema (three or more) is a hand-written copy of it.
 * The SDK is imported for types only (`import type`), so none of its code reaches the browser.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import CONTRACT from '@fleet/contracts/contract.json';

const UI_SOURCES = __dirname;
/** Fewer fields than this say too little to call a type a copy (`{ hostname }` is in many schemas). */
const FIELDS_OF_A_COPY = 3;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) ? [full] : [];
  });
}

/** Every object schema anywhere in the contract (components and inline bodies), as its set of field names. */
function contractFieldSets(node: unknown, into: Array<Set<string>> = []): Array<Set<string>> {
  if (Array.isArray(node)) node.forEach((item) => contractFieldSets(item, into));
  else if (node && typeof node === 'object') {
    const properties = (node as { properties?: unknown }).properties;
    if (properties && typeof properties === 'object' && !Array.isArray(properties)) into.push(new Set(Object.keys(properties)));
    Object.values(node).forEach((value) => contractFieldSets(value, into));
  }
  return into;
}

interface DeclaredType {
  name: string;
  file: string;
  fields: string[];
}

/** The interfaces and object type aliases declared in `source`, with their own field names. */
function declaredTypes(file: string, source: string): DeclaredType[] {
  const found: DeclaredType[] = [];
  const fieldsOf = (members: ts.NodeArray<ts.TypeElement>) =>
    members.flatMap((member) => (member.name && ts.isIdentifier(member.name) ? [member.name.text] : []));
  const visit = (node: ts.Node) => {
    if (ts.isInterfaceDeclaration(node)) found.push({ name: node.name.text, file, fields: fieldsOf(node.members) });
    if (ts.isTypeAliasDeclaration(node) && ts.isTypeLiteralNode(node.type)) {
      found.push({ name: node.name.text, file, fields: fieldsOf(node.type.members) });
    }
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS));
  return found;
}

function copiesOfContractTypes(types: DeclaredType[]): string[] {
  const schemas = contractFieldSets(CONTRACT);
  return types
    .filter((type) => type.fields.length >= FIELDS_OF_A_COPY && schemas.some((schema) => type.fields.every((field) => schema.has(field))))
    .map((type) => `${path.basename(type.file)}: ${type.name} { ${type.fields.join(', ')} }`);
}

describe('the dashboard and the contract', () => {
  const files = sourceFiles(UI_SOURCES);

  it('declares no copy of a contract type', () => {
    expect(files.length).toBeGreaterThan(10);
    const declared = files.flatMap((file) => declaredTypes(file, readFileSync(file, 'utf8')));
    expect(declared.length).toBeGreaterThan(5);
    expect(copiesOfContractTypes(declared)).toEqual([]);
  });

  it('tells a copy when it sees one', () => {
    const copy = 'interface AuditRow { time: string; caller: string | null; method: string; path: string; status: number }';
    expect(copiesOfContractTypes(declaredTypes('copy.ts', copy))).toEqual(['copy.ts: AuditRow { time, caller, method, path, status }']);
  });

  it('imports the SDK and the contract types for types only', () => {
    const valueImports = files.filter((file) => /^import (?!type )[^;]*from '@fleet\/(sdk|contracts)';/m.test(readFileSync(file, 'utf8')));
    expect(valueImports).toEqual([]);
  });
});
