import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentState, strayProcs } from '../../../../src/platform/linux/agent-state.js';
import { parseLinuxFacts, type LinuxFacts } from '../../../../src/platform/linux/facts.js';

/** The plug-in's state as reported, from recorded facts (scripts/record-facts) and variations of them. */
const rec = (name: string) =>
  parseLinuxFacts(readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/facts', `${name}.txt`), 'utf8'));

/** The recorded old-layout host with the lines of its main agent's section changed by `edit`. */
function c7(edit: (lines: string[]) => string[]): LinuxFacts {
  const text = readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/facts/c7-old.txt'), 'utf8');
  // Section markers carry the token the host drew (its first line).
  const t = /^@@token (\S+)$/m.exec(text)![1]!;
  const [head, rest] = text.split(`@${t} agent cloudResetPwdAgent\n`) as [string, string];
  const i = rest.indexOf(`@${t} agent cloudResetPwdUpdateAgent`);
  return parseLinuxFacts(`${head}@${t} agent cloudResetPwdAgent\n${edit(rest.slice(0, i).trimEnd().split('\n')).join('\n')}\n${rest.slice(i)}`);
}

describe('agentState', () => {
  it('AUTO mode reports the port the wrapper listens on (the socket backend), not a JVM listener that does not exist', () => {
    const a = agentState(rec('c7-old'));
    expect(a).toMatchObject({ installed: true, running: true, mode: 'AUTO', port: 32000, log4j: '2.8.2', updateAgent: true });
    expect(a.findings.filter((f) => /old agent still running/.test(f))).toEqual([]);
  });

  it('PIPE mode has no port; a stopped agent has none either', () => {
    expect(agentState(rec('c7-readonly'))).toMatchObject({ mode: 'PIPE', port: null, running: false });
  });

  it('a wrapper.conf without wrapper.backend.type is AUTO, the wrapper\'s default', () => {
    expect(agentState(c7((l) => l.filter((x) => !x.startsWith('wrapper.backend.type='))))).toMatchObject({ mode: 'AUTO', port: 32000 });
  });

  it('only the JVM\'s connected port known (the wrapper\'s listener not seen): that port', () => {
    expect(agentState(c7((l) => l.filter((x) => !/^socket 111 /.test(x)))).port).toBe(31000);
  });

  it('processes its pid file does not name are an "old agent still running" finding, with where they run', () => {
    const f = c7((l) => [...l, 'proc 405 wrapper - /.resetpwd-fleet/m0abc/CloudrResetPwdAgent/bin (deleted)', 'proc 406 jvm 405 /.resetpwd-fleet/m0abc/CloudrResetPwdAgent/bin (deleted)']);
    expect(strayProcs(f.agents.main).map((p) => p.pid)).toEqual([405, 406]);
    const a = agentState(f);
    expect(a.running).toBe(true);
    expect(a.findings).toContain(
      'old agent still running: cloudResetPwdAgent wrapper 405, JVM 406 not in its pid file (working in /.resetpwd-fleet/m0abc/CloudrResetPwdAgent/bin (deleted)); its own scripts cannot stop it: update or reinstall stops it',
    );
  });

  it('a running wrapper without a pid file: the agent is not running as its scripts see it, and the processes are strays', () => {
    const f = c7((l) => l.filter((x) => !/^(pid|cmdline)=/.test(x)));
    const a = agentState(f);
    expect(a.running).toBe(false);
    expect(a.port).toBeNull();
    expect(strayProcs(f.agents.main).map((p) => p.pid)).toEqual([111, 113]);
    expect(a.findings.some((x) => x.startsWith('old agent still running: cloudResetPwdAgent wrapper 111, JVM 113'))).toBe(true);
  });

  it('update agent processes with the update agent folder gone are reported too', () => {
    const raw = readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/facts/ubuntu-bare.txt'), 'utf8');
    const t = /^@@token (\S+)$/m.exec(raw)![1]!;
    const text = raw.replace(`@${t} agent cloudResetPwdUpdateAgent\n`, `@${t} agent cloudResetPwdUpdateAgent\nproc 77 wrapper - /.resetpwd-fleet/x/CloudResetPwdUpdateAgent/bin (deleted)\n`);
    const a = agentState(parseLinuxFacts(text));
    expect(a.installed).toBe(false);
    expect(a.findings).toEqual(['old agent still running: cloudResetPwdUpdateAgent wrapper 77 not in its pid file (working in /.resetpwd-fleet/x/CloudResetPwdUpdateAgent/bin (deleted)); its own scripts cannot stop it: update or reinstall stops it']);
  });
});
