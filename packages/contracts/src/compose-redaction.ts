/**
 * A stored compose file as a key without `docker:read-data` reads it (README "Stacks"): every environment value of every
 * service is `<redacted>`, names kept, the rest of the text as it was sent. Secrets are passed to containers there, and a
 * container's environment is `docker:read-data` too (data-redaction.ts).
 */
import YAML, { type Document, type Node } from 'yaml';
import { REDACTED_VALUE } from './data-redaction';

/**
 * The compose text with its environment values redacted. Values are changed in place on the parsed document, so an anchor
 * on one keeps its name and an alias elsewhere still points at the redacted value; an environment reached through an
 * alias or a merge key is redacted where it is written. Text that does not parse (it was judged when stored) is withheld whole.
 */
export function redactComposeEnvironment(text: string): string {
  const document = YAML.parseDocument(text, { uniqueKeys: true, merge: true, strict: true });
  if (document.errors.length > 0) return REDACTED_VALUE;
  const services = resolved(document.get('services', true) as Node | undefined, document);
  if (!YAML.isMap(services)) return text;
  const done = new Set<unknown>();
  for (const service of services.items) redactService(resolved(service.value as Node, document), document, done);
  return document.toString();
}

function redactService(service: Node | undefined, document: Document, done: Set<unknown>): void {
  if (!YAML.isMap(service)) return;
  for (const pair of service.items) {
    if (YAML.isScalar(pair.key) && pair.key.value === 'environment')
      redactEnvironment(resolved(pair.value as Node, document), document, done);
    // `<<: *base` (or a list of them): the base service's environment is redacted where it is written.
    if (isMergeKey(pair.key)) {
      const bases = resolved(pair.value as Node, document);
      for (const base of YAML.isSeq(bases) ? bases.items : [bases]) redactService(resolved(base as Node, document), document, done);
    }
  }
}

/** `KEY: value` or `- KEY=value` entries: each value replaced, each name kept. */
function redactEnvironment(environment: Node | undefined, document: Document, done: Set<unknown>): void {
  if (environment === undefined || done.has(environment)) return;
  done.add(environment);
  if (YAML.isMap(environment)) {
    for (const pair of environment.items) {
      const value = resolved(pair.value as Node, document);
      if (YAML.isScalar(value) && value.value !== null) value.value = REDACTED_VALUE;
      else if (isMergeKey(pair.key)) redactEnvironment(value, document, done);
      else if (value !== undefined && !YAML.isScalar(value)) pair.value = document.createNode(REDACTED_VALUE);
    }
  } else if (YAML.isSeq(environment)) {
    environment.items.forEach((item, index) => {
      const entry = resolved(item as Node, document);
      if (YAML.isScalar(entry) && typeof entry.value === 'string' && entry.value.includes('=')) {
        entry.value = `${entry.value.slice(0, entry.value.indexOf('='))}=${REDACTED_VALUE}`;
      } else if (!(YAML.isScalar(entry) && typeof entry.value === 'string')) environment.items[index] = document.createNode(REDACTED_VALUE);
    });
  } else if (YAML.isScalar(environment) && environment.value !== null) environment.value = REDACTED_VALUE;
}

/** A `<<` key (the parser marks it with its own symbol when merge keys are on). */
function isMergeKey(key: unknown): boolean {
  return YAML.isScalar(key) && (key.source === '<<' || String(key.value) === 'Symbol(<<)');
}

/** The node an alias points at; any other node itself. */
function resolved(node: Node | undefined | null, document: Document): Node | undefined {
  if (node === null || node === undefined) return undefined;
  return YAML.isAlias(node) ? (node.resolve(document) as Node | undefined) : node;
}
