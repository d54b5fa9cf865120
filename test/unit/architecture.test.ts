import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The import rules of docs/ARCHITECTURE.md, read from the code itself: the layers from the bottom up, each
 * importing only from its own folder or a lower layer; no circle of imports between files; and no code
 * outside platform/ (and inventory/, which reads which OS a target is) that asks which OS a host runs.
 */
const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

/** The layers, bottom first: a module may import from its own layer or one below, never above. */
const LAYERS = [
  'version', 'files', 'log', 'dialect', 'package', 'inventory', 'errors', 'core', 'cloud',
  'transport', 'privilege', 'fleet', 'platform', 'session', 'audit', 'reset', 'lifecycle', 'report', 'cli',
] as const;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}
const all = files(src);
/** A file's layer: its first folder under src/, or its own name for a file directly in src/. */
/** Any way of asking which OS it is: (in)equality with an OS name, a case label, includes/startsWith/indexOf, a regex test. */
const OS_NAME = String.raw`['"\x60](?:windows|linux)['"\x60]`;
const OS_QUESTION = new RegExp([
  String.raw`[!=]==?\s*${OS_NAME}`, String.raw`${OS_NAME}\s*[!=]==?`, String.raw`\bcase\s+${OS_NAME}`,
  String.raw`\.(?:includes|startsWith|endsWith|indexOf)\(\s*${OS_NAME}`, String.raw`\[\s*${OS_NAME}\s*\]\.includes`,
  String.raw`\/(?:windows|linux)\/[a-z]*\.test\(`,
].join('|'), 'g');
const layerOf = (f: string) => path.relative(src, f).split(path.sep)[0]!.replace(/\.ts$/, '');

/** Every relative import of a file (static, type-only, dynamic), resolved to the imported .ts file. */
function importsOf(f: string): string[] {
  const text = readFileSync(f, 'utf8');
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]/g), ...text.matchAll(/import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
  return specs.map((s) => path.resolve(path.dirname(f), s).replace(/\.js$/, '.ts'));
}
const graph = new Map(all.map((f) => [f, importsOf(f)]));

describe('architecture', () => {
  it('knows every folder of src/ as a layer', () => {
    for (const f of all) expect(LAYERS as readonly string[], path.relative(src, f)).toContain(layerOf(f));
  });

  it('imports only from the same layer or below (no upward arrow)', () => {
    const upward: string[] = [];
    for (const [f, deps] of graph) {
      for (const d of deps) {
        if (LAYERS.indexOf(layerOf(d) as never) > LAYERS.indexOf(layerOf(f) as never)) upward.push(`${path.relative(src, f)} -> ${path.relative(src, d)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('has no circle of imports between files', () => {
    // Tarjan's strongly connected components: any component of more than one file is a circle.
    let index = 0;
    const idx = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const on = new Set<string>();
    const circles: string[][] = [];
    const visit = (v: string) => {
      idx.set(v, index);
      low.set(v, index++);
      stack.push(v);
      on.add(v);
      for (const w of graph.get(v) ?? []) {
        if (!graph.has(w)) continue;
        if (!idx.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
      if (low.get(v) === idx.get(v)) {
        const c: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          on.delete(w);
          c.push(path.relative(src, w));
        } while (w !== v);
        if (c.length > 1) circles.push(c);
      }
    };
    for (const f of graph.keys()) if (!idx.has(f)) visit(f);
    expect(circles).toEqual([]);
  });

  it('recognises every way of asking which OS it is: comparisons, case labels, includes/startsWith, a regex test', () => {
    const asked = [
      "if (t.os === 'windows')", 'if ("linux" !== os)', 'switch (t.os) { case `windows`: }', "if (['windows'].includes(t.os))",
      "t.os.startsWith('win' + '') || t.os.startsWith(\"windows\")", 'if (/windows/i.test(t.os))', "const w = t.os == 'windows'",
    ];
    for (const a of asked) expect(a.match(OS_QUESTION), a).not.toBeNull();
    expect("['windows', p.windows ? 'yes' : 'no']".match(OS_QUESTION)).toBeNull();
  });

  it('asks which OS a host runs only in platform/ (and inventory/, which decides it for a target)', () => {
    const asks: string[] = [];
    for (const f of all) {
      const l = layerOf(f);
      if (l === 'platform' || l === 'inventory') continue;
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(OS_QUESTION)) asks.push(`${path.relative(src, f)}: ${m[0]}`);
    }
    expect(asks).toEqual([]);
  });

  it('keeps each platform to itself: no platform folder imports another (linux/, windows/, any new one)', () => {
    const cross: string[] = [];
    for (const [f, deps] of graph) {
      const mine = /platform\/([^/]+)\//.exec(f)?.[1];
      for (const d of deps) {
        const theirs = /platform\/([^/]+)\//.exec(d)?.[1];
        if (mine && theirs && mine !== theirs) cross.push(`${path.relative(src, f)} -> ${path.relative(src, d)}`);
      }
    }
    expect(cross).toEqual([]);
  });
});
