import type { LinuxCheck } from './check.js';

/** `/` must take the new files. Read: the root mount's options and access(2)'s W_OK (EROFS when read-only). */
export const rootWritable: LinuxCheck = (f) => {
  const id = 'root-writable';
  if (f.root.mountOptions.includes('ro')) return { id, status: 'fail', detail: '/ is mounted read-only' };
  if (f.root.writable === false) return { id, status: 'fail', detail: `/ is not writable for ${f.user ?? 'the login user'}` };
  if (f.root.writable === null) return { id, status: 'error', detail: 'could not tell whether / is writable' };
  return { id, status: 'pass', detail: '/ is writable' };
};
