import { spawn, spawnSync } from 'node:child_process';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The CLI as a child process, asynchronously (an in-process peer answers meanwhile); with `sample`, every
 * process's command line on this machine is handed to it every 25 ms while the run goes on.
 */
export function runCli(bin: string, args: string[], o: { env: NodeJS.ProcessEnv; cwd?: string | undefined; sample?: ((ps: string) => void) | undefined }): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [bin, ...args], { env: o.env, stdio: ['ignore', 'pipe', 'pipe'], ...(o.cwd ? { cwd: o.cwd } : {}) });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = o.sample ? setInterval(() => o.sample!(spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout), 25) : undefined;
    p.on('error', reject);
    p.on('close', (code) => {
      if (timer) clearInterval(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}
