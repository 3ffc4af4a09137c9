#!/usr/bin/env node
// Thin launcher: the CLI lives in the compiled library (npm run build).
import { main } from '../dist/cli/index.js';
main(process.argv).catch((err) => {
  console.error(`face0: ${err?.message ?? err}`);
  process.exit(1);
});
