// Locations the tests use: the repository root and the project's pinned tools.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'node_modules', '.bin');
/** The Node 24 that runs the registry (the pinned devDependency). */
export const NODE = process.execPath;
/** Third-party fixtures shared by the team (`../shared/fixtures` beside the repository). */
export const FIXTURES = path.resolve(ROOT, '..', 'shared', 'fixtures');
