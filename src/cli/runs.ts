import { Command } from 'commander';
import { findRun, listRunFiles, readRun, type RunRecord } from '../fleet/runs.js';
import { oneLine, pad, printable } from '../report/text.js';

/** `runs list` and `runs show <id>`: past runs, read back from their journals. */
function counts(r: RunRecord): string {
  const by = new Map<string, number>();
  for (const h of r.results.values()) by.set(h.outcome, (by.get(h.outcome) ?? 0) + 1);
  const notDone = r.header.hosts.length - r.results.size;
  if (notDone > 0) by.set('not finished', notDone);
  return [...by].map(([k, v]) => `${v} ${k}`).join(', ');
}

export function runsCommand(): Command {
  const list = new Command('list')
    .description('past runs, newest first: id, command, hosts, outcomes, and whether it was interrupted')
    .option('--json', 'as JSON')
    .action((o: { json?: boolean }) => {
      const runs = listRunFiles().flatMap((f) => {
        try {
          return [readRun(f)];
        } catch {
          return [];
        }
      });
      if (o.json) {
        const rows = runs.map((r) => ({ id: r.id, command: r.header.command, startedAt: r.header.t, hosts: r.header.hosts.length, interrupted: r.interrupted, outcomes: Object.fromEntries([...r.results.values()].reduce((m, h) => m.set(h.outcome, (m.get(h.outcome) ?? 0) + 1), new Map<string, number>())) }));
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      if (runs.length === 0) {
        process.stdout.write('no runs yet\n');
        return;
      }
      const w = Math.max(...runs.map((r) => r.id.length));
      for (const r of runs) {
        process.stdout.write(`${pad(r.id, w)}  ${pad(r.header.command, 9)}  ${r.interrupted ? 'INTERRUPTED' : 'complete   '}  ${r.header.hosts.length} hosts: ${counts(r)}\n`);
      }
    });
  const show = new Command('show')
    .description('one run: every host\'s last state and outcome (resume an interrupted one with --resume <id>)')
    .argument('<run>', 'the run id, "latest", or a journal file')
    .option('--json', 'as JSON')
    .action((ref: string, o: { json?: boolean }) => {
      const r = findRun(ref);
      const hosts = r.header.hosts.map((h) => ({ host: h, outcome: r.results.get(h)?.outcome ?? null, lastState: r.lastState.get(h) ?? null, error: r.results.get(h)?.error ?? null }));
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ id: r.id, command: r.header.command, package: r.header.package, interrupted: r.interrupted, journal: r.file, ...(r.vaults.length ? { passwordFiles: r.vaults } : {}), hosts }, null, 2)}\n`);
        return;
      }
      const w = Math.max(4, ...hosts.map((h) => h.host.length));
      process.stdout.write(printable(`run ${r.id}: ${r.header.command}${r.header.package ? ` ${r.header.package.fileName}` : ''}, ${r.interrupted ? 'INTERRUPTED — continue with --resume ' + r.id : 'complete'}\njournal ${r.file}\n${r.vaults.length ? `passwords (age) ${r.vaults.join(', ')}\n` : ''}\n`));
      for (const h of hosts) {
        const what = h.outcome ?? (h.lastState ? `not finished (last: ${h.lastState})` : 'not started');
        // A journal's errors quote what hosts said: one printable line each.
        process.stdout.write(printable(`${pad(h.host, w)}  ${what}${h.error ? `: ${oneLine(h.error)}` : ''}\n`));
      }
      process.stdout.write(`\n${counts(r)}\n`);
    });
  return new Command('runs').description('past runs, from their journals (~/.local/state/resetpwd-fleet/runs)').addCommand(list).addCommand(show);
}
