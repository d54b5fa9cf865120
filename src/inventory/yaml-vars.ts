import { createRequire } from 'node:module';
import type { Vars } from './model.js';
import { InventoryError } from './target.js';
import { decryptVault, type VaultSecret } from './vault.js';

type Yaml = typeof import('yaml');
type Tags = import('yaml').Tags;
type Tag = Tags[number];

const PY_TRUE = /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/;
const PY_FALSE = /^(?:[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/;
/** A YAML 1.1 boolean tag made to match PyYAML's resolver; any other tag as it is. */
function asPyYaml(t: Tag): Tag {
  const test = (t as { test?: RegExp }).test;
  if (typeof t === 'string' || (t as { tag?: string }).tag !== 'tag:yaml.org,2002:bool' || !test) return t;
  return { ...t, test: test.test('true') ? PY_TRUE : PY_FALSE } as Tag;
}

// Required on first use, not imported: only YAML inventories and vars files need the parser.
let yaml: Yaml | undefined;
export const loadYaml = (): Yaml => (yaml ??= createRequire(import.meta.url)('yaml') as Yaml);

/**
 * The YAML parse options for Ansible's files: `!vault |` values decrypted in memory with the run's vault
 * secrets. A value that cannot be opened fails the file (its first such error, naming the file and line).
 */
export function ansibleYamlOptions(file: string, secrets: VaultSecret[]) {
  const Y = loadYaml();
  const lc = new Y.LineCounter();
  let failure: Error | null = null;
  const vault = {
    tag: '!vault',
    resolve(value: string): unknown {
      if (failure) return '';
      try {
        return decryptVault(value, secrets, `${file} (a !vault value)`);
      } catch (e) {
        failure = e as Error;
        return '';
      }
    },
  };
  return {
    // YAML 1.1, as Ansible's PyYAML reads it: `yes`/`no`/`on`/`off` are booleans, `0644` is octal — but not `y`
    // and `n`, which PyYAML's resolver leaves strings (the yaml package's 1.1 schema would make them booleans).
    options: { lineCounter: lc, prettyErrors: false, customTags: (tags: Tags) => [...tags.map(asPyYaml), vault], version: '1.1' as const },
    lineOf: (pos: number) => lc.linePos(pos).line,
    /** Throws the first vault failure met while parsing. */
    check(): void {
      if (failure) throw failure;
    },
  };
}

/** An Ansible YAML file parsed (vault values opened), or a one-line error naming its line; and how to name a node's line. */
export function parseAnsibleYamlDoc(text: string, file: string, secrets: VaultSecret[]) {
  const Y = loadYaml();
  const o = ansibleYamlOptions(file, secrets);
  const doc = Y.parseDocument(text, o.options);
  o.check();
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new InventoryError(`${file}:${o.lineOf(e.pos[0])}: not valid YAML (${e.message.split('\n')[0]})`);
  }
  return { doc, lineOf: o.lineOf };
}

/** A vars file's text (YAML or JSON): a mapping, or nothing. */
export function parseYamlVars(text: string, file: string, secrets: VaultSecret[]): Vars {
  const js = parseAnsibleYamlDoc(text, file, secrets).doc.toJS() as unknown;
  if (js === null || js === undefined) return {};
  if (typeof js !== 'object' || Array.isArray(js)) throw new InventoryError(`${file}: a vars file must be a mapping of "name: value" lines`);
  return js as Vars;
}
