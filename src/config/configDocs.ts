// docs/configuration.md, generated from the environment schema (npm run docs:config). Not imported at run time.
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { envDocs, envGroups, envSchema, type EnvVarDoc } from './config.js';

/** Where the generated file lives (committed; a test fails when it differs from `generateConfigDocs()`). */
export const configDocsPath = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));

/** One documented variable, in schema order. */
export interface EnvVarEntry extends EnvVarDoc {
  name: string;
  /** The default as Markdown: the schema's default in backticks, `shownDefault`, or "unset". */
  shown: string;
}

function shownDefault(schema: z.ZodType, doc: EnvVarDoc): string {
  if (doc.shownDefault !== undefined) return doc.shownDefault;
  if (schema instanceof z.ZodDefault) {
    const value: unknown = schema.def.defaultValue;
    if (Array.isArray(value)) return value.length === 0 ? 'none' : `\`${value.join(',')}\``;
    return `\`${String(value)}\``;
  }
  return 'unset';
}

/** Every variable of the schema with its documentation; throws when one has none. */
export function envVarEntries(): EnvVarEntry[] {
  return Object.entries(envSchema.shape).map(([name, schema]) => {
    const doc = envDocs.get(schema);
    if (doc === undefined) throw new Error(`${name} has no documentation: register it in envDocs`);
    return { name, ...doc, shown: shownDefault(schema, doc) };
  });
}

const cell = (text: string): string => text.replace(/\|/g, '\\|');

/** The Markdown of docs/configuration.md before formatting. */
export function renderConfigDocs(): string {
  const entries = envVarEntries();
  const lines = [
    '# Configuration',
    '',
    '<!-- Generated from src/config/config.ts by `npm run docs:config`; edit the descriptions there. -->',
    '',
    `Lodestar is configured only by environment variables (${entries.length} of them). All are validated`,
    'at start, and every bad one is reported on its own line saying what to fix (exit code 2). An empty',
    'value counts as unset.',
    '',
    ...Object.values(envGroups).map((title) => `- [${title}](#${anchor(title)})`),
  ];
  for (const [group, title] of Object.entries(envGroups)) {
    lines.push('', `## ${title}`, '', '| variable | default | what it does |', '| --- | --- | --- |');
    for (const entry of entries.filter((e) => e.group === group)) {
      lines.push(`| \`${entry.name}\` | ${cell(entry.shown)} | ${cell(entry.doc)} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes. */
function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');
}

/** docs/configuration.md exactly as committed: rendered, then formatted by the project's Prettier. */
export async function generateConfigDocs(): Promise<string> {
  // Prettier is a development tool: loaded only when the docs are generated or checked.
  const prettier = await import('prettier');
  const options = await prettier.resolveConfig(configDocsPath);
  return prettier.format(renderConfigDocs(), { ...options, filepath: configDocsPath });
}
