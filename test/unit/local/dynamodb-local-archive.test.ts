import { describe, expect, it } from 'vitest';
import { onlyJarsOnClassPath } from '../../../infra/local/dynamodb-local-archive.ts';

/** A manifest as DynamoDB Local's jar has it: CRLF, lines of 72 bytes continued by a space. */
function manifest(lines: string[]): string {
  const out: string[] = [];
  for (const line of lines) {
    out.push(line.slice(0, 72));
    for (let at = 72; at < line.length; at += 71) out.push(` ${line.slice(at, at + 71)}`);
  }
  return `${out.join('\r\n')}\r\n\r\n`;
}

/** The manifest's attributes, continuation lines joined. */
function attributes(text: string): Map<string, string> {
  const joined = text.replace(/\r\n /g, '');
  return new Map(
    joined
      .split('\r\n')
      .filter(Boolean)
      .map((line) => {
        const colon = line.indexOf(': ');
        return [line.slice(0, colon), line.slice(colon + 2)] as [string, string];
      }),
  );
}

describe('onlyJarsOnClassPath', () => {
  const jars = Array.from({ length: 30 }, (_, index) => `DynamoDBLocal_lib/library-${index}.jar`);
  const original = manifest([
    'Manifest-Version: 1.0',
    'Main-Class: software.amazon.dynamodb.services.local.main.ServerRunner',
    `Class-Path: . log4j2.xml ${jars.join(' ')} DynamoDBLocal_lib/libsqlite4java-linux-amd64.so DynamoDBLocal_lib/sqlite4java-win32-x64.dll`,
    `Bundle-Description: ${'a long description '.repeat(8).trim()}`,
  ]);

  it('keeps only the jars on the Class-Path, in their order, and every other attribute as it was', () => {
    const rewritten = attributes(onlyJarsOnClassPath(original));
    const before = attributes(original);

    expect(rewritten.get('Class-Path')).toBe(jars.join(' '));
    for (const name of ['Manifest-Version', 'Main-Class', 'Bundle-Description']) {
      expect(rewritten.get(name)).toBe(before.get(name));
    }
  });

  it('writes lines of at most 72 bytes, CRLF, ending with an empty line', () => {
    const rewritten = onlyJarsOnClassPath(original);

    expect(rewritten.endsWith('\r\n\r\n')).toBe(true);
    const lines = rewritten.slice(0, -4).split('\r\n');
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(72);
  });

  it('reads a manifest with LF line ends too', () => {
    const rewritten = attributes(onlyJarsOnClassPath(original.replace(/\r\n/g, '\n')));

    expect(rewritten.get('Class-Path')).toBe(jars.join(' '));
  });
});
