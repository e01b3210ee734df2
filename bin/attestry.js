#!/usr/bin/env node
// The `attestry` command. Needs Node 24 (TypeScript type stripping, node:sqlite): npm scripts
// and `npx attestry` get it from the project's pinned `node` devDependency.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(`attestry needs Node.js 24 or later (this is ${process.version}); run it through npm (npm start, npx attestry)\n`);
  process.exit(1);
}
await import('../src/cli/main.ts');
