/**
 * A plug-in package (zip or its .sha256) that is missing, corrupt, unsafe or not the plug-in.
 * The message is one line that names the file and what is wrong; the CLI maps it to exit 2 (nothing touched).
 */
export class PackageError extends Error {
  override name = 'PackageError';
}
