import { readFileSync } from 'node:fs';

/** The tool's version, read from the package.json that ships beside dist/ so it can never drift. */
export function toolVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
