/**
 * Parses PowerShell with the tree-sitter PowerShell grammar (tree-sitter-powershell, run in WebAssembly by
 * web-tree-sitter): every script the tool sends to Windows is checked to be valid PowerShell syntax.
 */
import { createRequire } from 'node:module';
import { Language, Parser, type Node } from 'web-tree-sitter';

let parser: Parser | undefined;

async function getParser(): Promise<Parser> {
  if (parser) return parser;
  await Parser.init();
  const wasm = createRequire(import.meta.url).resolve('tree-sitter-powershell/tree-sitter-powershell.wasm');
  const p = new Parser();
  p.setLanguage(await Language.load(wasm));
  parser = p;
  return p;
}

export interface PsParse {
  ok: boolean;
  /** Where the grammar found errors: row:column and the offending text. */
  errors: string[];
  /** Every command name the script calls (cmdlets, functions, executables), for reviewing what it uses. */
  commands: string[];
}

export async function parsePowerShell(script: string): Promise<PsParse> {
  const tree = (await getParser()).parse(script);
  if (!tree) throw new Error('tree-sitter returned no tree');
  const errors: string[] = [];
  const commands = new Set<string>();
  const walk = (n: Node): void => {
    if (n.isError || n.isMissing) {
      errors.push(`${n.startPosition.row + 1}:${n.startPosition.column + 1} ${n.isMissing ? 'missing ' + n.type : JSON.stringify(n.text.slice(0, 60))}`);
    }
    if (n.type === 'command_name') commands.add(n.text);
    for (const c of n.children) if (c) walk(c);
  };
  walk(tree.rootNode);
  tree.delete();
  return { ok: errors.length === 0, errors, commands: [...commands].sort() };
}
