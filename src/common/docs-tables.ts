/**
 * Tables that docs/*.md embed between `<!-- generated:NAME -->` markers, rendered from the code
 * that defines them (`npm run docs:gen` writes them; a test fails when a page is stale).
 */
import { renderConfigTable } from './config.js';
import { ERROR_CATALOG } from './errors.js';

export function renderErrorTable(): string {
  const lines = ['| code | HTTP | meaning | fix |', '|---|---|---|---|'];
  for (const [code, info] of Object.entries(ERROR_CATALOG)) {
    lines.push(
      `| \`${code}\` | ${info.httpStatus} | ${info.meaning.replace(/\|/g, '\\|')} | ${info.fix.replace(/\|/g, '\\|')} |`,
    );
  }
  return lines.join('\n');
}

/** Generated tables by page (relative to docs/) and marker name. */
export const GENERATED_TABLES: Readonly<Record<string, Readonly<Record<string, () => string>>>> = {
  'errors.md': { 'error-codes': renderErrorTable },
  'configuration.md': { variables: renderConfigTable },
};

/** Replaces the block between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`. */
export function fillGenerated(page: string, name: string, table: string): string {
  const open = `<!-- generated:${name} -->`;
  const close = `<!-- /generated:${name} -->`;
  const start = page.indexOf(open);
  const end = page.indexOf(close);
  if (start < 0 || end < start) throw new Error(`page has no ${open} ... ${close} block`);
  return `${page.slice(0, start + open.length)}\n${table}\n${page.slice(end)}`;
}
