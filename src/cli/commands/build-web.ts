// `face0 build-web`: the static site that generates in the visitor's browser (src/site/).
import { Command } from 'commander';
import { buildSite } from '../../site/build-site.js';
import { resolveBundle } from '../shared.js';

export function register(program: Command): void {
  program
    .command('build-web')
    .description('write a static site (no server needed) that generates on the visitor\'s device: page, browser bundle, wasm runtimes, face-api weights, model bundle')
    .option('--bundle <dir>', 'model bundle folder (default: models/face0-64, else the tiny test bundle)')
    .requiredOption('--out <dir>', 'folder to write the site into (replaced when it holds an earlier site)')
    .action(async (f: { bundle?: string; out: string }) => {
      const bundleDir = resolveBundle(f.bundle, (m) => console.error(m));
      const site = await buildSite({ bundleDir, out: f.out });
      console.log(site.out);
      console.error(`site for bundle ${site.bundle}: ${site.files} files, ${(site.bytes / 1e6).toFixed(1)} MB, built in ${(site.buildMs / 1000).toFixed(1)} s. Serve it with any static server; for wasm threads send the headers in _headers (COOP/COEP).`);
    });
}
