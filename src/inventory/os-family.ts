/**
 * The operating-system families the tool has a platform for (src/platform/<family>/), named once: the
 * registry, targets, results and the cloud's OS names all use this type, so a new family is added here.
 */
export type OsFamily = 'linux' | 'windows';
