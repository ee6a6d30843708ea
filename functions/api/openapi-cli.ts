// `npm run -s openapi > openapi.json`, or `npm run openapi -- <file>`: the OpenAPI 3.1 document
// of the HTTP API, generated from the schemas the handlers validate with.
import { writeFile } from 'node:fs/promises';
import { openApiDocument } from './openapi.ts';

const [path, ...rest] = process.argv.slice(2);
if (rest.length > 0 || path === '-h' || path === '--help') {
  process.stderr.write('Usage: npm run openapi -- [output file]   (default: standard output)\n');
  process.exit(path === '-h' || path === '--help' ? 0 : 2);
}
const json = `${JSON.stringify(openApiDocument(), null, 2)}\n`;
if (path === undefined) process.stdout.write(json);
else await writeFile(path, json);
