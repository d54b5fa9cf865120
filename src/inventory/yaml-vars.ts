import { createRequire } from 'node:module';
import type { Vars } from './model.js';
import { InventoryError } from './target.js';
import { decryptVault, type VaultSecret } from './vault.js';

type Yaml = typeof import('yaml');
type Tags = import('yaml').Tags;
type Tag = Tags[number];

/**
 * The yaml package's YAML 1.1 scalars made to match PyYAML's resolver (ansible-core reads YAML with PyYAML), so a
 * value is a string where Ansible has a string: `y`/`n` are no booleans, `123e4567` and `1e3` no floats (PyYAML
 * wants a dot and a signed exponent), `09` and `08:00` no integers; timestamps stay strings.
 */
const PY: Record<string, RegExp> = {
  'bool:true': /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/,
  'bool:false': /^(?:[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/,
  'int:': /^[-+]?(?:0|[1-9][0-9_]*)$/,
  'int:TIME': /^[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+$/,
  'float:EXP': /^[-+]?[0-9][0-9_]*\.[0-9_]*[eE][-+][0-9]+$/,
  'float:': /^(?:[-+]?[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)$/,
};
function asPyYaml(t: Tag): Tag | null {
  if (typeof t === 'string') return t;
  const x = t as { tag?: string; format?: string; test?: RegExp };
  if (x.tag === 'tag:yaml.org,2002:timestamp') return null;
  if (!x.test) return t;
  const kind = x.tag?.replace('tag:yaml.org,2002:', '');
  if (kind === 'bool') return { ...t, test: x.test.test('true') ? PY['bool:true'] : PY['bool:false'] } as Tag;
  // inf/nan keep theirs (PyYAML's are the same), and so do binary, octal, hex and sexagesimal floats.
  if (kind === 'float' && x.test.test('.inf')) return t;
  const py = PY[`${kind}:${x.format ?? ''}`];
  return py ? ({ ...t, test: py } as Tag) : t;
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
    // Integers as BigInt (none rounded past 2^53); duplicate keys allowed, the last one winning (as PyYAML).
    options: {
      lineCounter: lc, prettyErrors: false, version: '1.1' as const, intAsBigInt: true, uniqueKeys: false,
      customTags: (tags: Tags) => [...tags.map(asPyYaml).filter((t): t is Tag => t !== null), vault],
    },
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
    // The parser's words, never the text around the error (it may be a password).
    throw new InventoryError(`${file}:${o.lineOf(e.pos[0])}: not valid YAML (${e.code.toLowerCase().replace(/_/g, ' ')})`);
  }
  // An unknown tag (`!Foo x`): Ansible refuses the file, so does this.
  const w = doc.warnings.find((x) => x.code === 'TAG_RESOLVE_FAILED');
  if (w) throw new InventoryError(`${file}:${o.lineOf(w.pos[0])}: not valid YAML (a tag Ansible does not know)`);
  return { doc, lineOf: o.lineOf };
}

/** The document's value (aliases and merge keys resolved), or a one-line error that quotes nothing of it. */
export function yamlValue(doc: import('yaml').Document, node: unknown, file: string): unknown {
  try {
    return node === doc.contents ? doc.toJS() : (node as import('yaml').Node).toJS(doc);
  } catch {
    throw new InventoryError(`${file}: not valid YAML (an alias or a merge key that cannot be resolved)`);
  }
}

/** A vars file's text (YAML or JSON): a mapping, or nothing. */
export function parseYamlVars(text: string, file: string, secrets: VaultSecret[]): Vars {
  const { doc } = parseAnsibleYamlDoc(text, file, secrets);
  const js = yamlValue(doc, doc.contents, file);
  if (js === null || js === undefined) return {};
  if (typeof js !== 'object' || Array.isArray(js)) throw new InventoryError(`${file}: a vars file must be a mapping of "name: value" lines`);
  return js as Vars;
}
