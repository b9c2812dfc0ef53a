import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A run's values for the `{{name}}` placeholders of an entry. */
export type HistoryValues = Record<string, string | number>;

/** bench/HISTORY.md: what the benchmarks found and what was changed because of it, as BENCHMARKS.md tells it. */
export interface BenchHistory {
  /** The items of "What was optimised", in order. */
  optimisations(values: HistoryValues): string[];
  /** The entry `### <key>` of "Findings". */
  finding(key: string, values: HistoryValues): string;
}

const HISTORY_FILE = join(__dirname, 'HISTORY.md');

export function readHistory(file = HISTORY_FILE): BenchHistory {
  const sections = level2Sections(readFileSync(file, 'utf8'));
  const optimisations = bulletItems(sectionNamed(sections, 'What was optimised'));
  const findings = entries(sectionNamed(sections, 'Findings'));
  return {
    optimisations: (values) => optimisations.map((item) => filled(item, values)),
    finding: (key, values) => {
      const text = findings.get(key);
      if (text === undefined) throw new Error(`bench/HISTORY.md has no finding "${key}"`);
      return filled(text, values);
    },
  };
}

function level2Sections(markdown: string): Map<string, string> {
  const sections = new Map<string, string>();
  for (const part of markdown.split(/^## /m).slice(1)) {
    const newline = part.indexOf('\n');
    sections.set(part.slice(0, newline).trim(), part.slice(newline + 1));
  }
  return sections;
}

function sectionNamed(sections: Map<string, string>, title: string): string {
  const section = sections.get(title);
  if (section === undefined) throw new Error(`bench/HISTORY.md has no section "${title}"`);
  return section;
}

/** `- item` lines, each continued by the indented lines under it. */
function bulletItems(section: string): string[] {
  return section
    .split(/^- /m)
    .slice(1)
    .map((item) => joinedLines(item));
}

/** `### key` headings, each followed by one paragraph. */
function entries(section: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const part of section.split(/^### /m).slice(1)) {
    const newline = part.indexOf('\n');
    found.set(part.slice(0, newline).trim(), joinedLines(part.slice(newline + 1)));
  }
  return found;
}

/** The file wraps its entries for reading; each line break inside one is a space. */
function joinedLines(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ');
}

/** Every placeholder needs a value, so an entry and the renderer cannot drift apart unnoticed. */
function filled(text: string, values: HistoryValues): string {
  return text.replace(/\{\{([a-z0-9-]+)\}\}/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`bench/HISTORY.md: no value for {{${name}}}`);
    return String(values[name]);
  });
}
