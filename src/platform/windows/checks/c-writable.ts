import type { WindowsCheck } from './check.js';

/** C: must take the new files. Read: a folder with one byte created in C:\ and deleted again by the facts script. */
export const cWritable: WindowsCheck = (f) => {
  const id = 'c-writable';
  if (f.c.writable === true) return { id, status: 'pass', detail: 'C: is writable' };
  if (f.c.writable === false) return { id, status: 'fail', detail: `C: is not writable for ${f.user ?? 'the login user'}${f.c.writeError ? `: ${f.c.writeError}` : ''}` };
  return { id, status: 'error', detail: `could not tell whether C: is writable${f.errors.cwrite ? `: ${f.errors.cwrite}` : ''}` };
};
