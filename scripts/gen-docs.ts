// Regenerates the tables in docs/ from the code that defines them: npm run docs:gen
import fs from 'node:fs';
import path from 'node:path';
import { GENERATED_TABLES, fillGenerated } from '../src/common/docs-tables.js';

const docs = path.join(import.meta.dirname, '..', 'docs');
for (const [page, tables] of Object.entries(GENERATED_TABLES)) {
  const file = path.join(docs, page);
  let text = fs.readFileSync(file, 'utf8');
  for (const [name, render] of Object.entries(tables)) text = fillGenerated(text, name, render());
  fs.writeFileSync(file, text);
  console.log(`updated ${path.relative(process.cwd(), file)}`);
}
