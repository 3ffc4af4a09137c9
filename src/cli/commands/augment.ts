// `face0 augment`: faces in photos → aligned crops + embeddings + captions in WebDataset shards.
import { Command, Option } from 'commander';
import { runAugment } from '../../data/augment/augment.js';
import { CAPTION_STYLES, type CaptionStyle } from '../../data/captions.js';
import { writeIdentityStats } from '../../data/identity-stats.js';
import { openSource } from '../../data/sources/index.js';
import { defaultDataDir, intOption } from '../options.js';
import { createProgress } from '../progress.js';

export function register(program: Command): void {
  program
    .command('augment')
    .description('detect, align, embed and caption faces; write WebDataset shards (resumable)')
    .argument('[sources...]', 'sources: celeba:DIR, utkface:DIR, folder:DIR (images + sidecar .txt), wds:PATH (tars); a bare DIR is recognised by its layout', [])
    .option('--out <dir>', 'output folder for shards and manifest', 'work/data64')
    .option('--size <px>', 'crop size', intOption, 64)
    .option('--min-face <px>', 'smallest face (box side, px) that counts', intOption, 40)
    .option('--shard-size <n>', 'samples per shard', intOption, 1000)
    .option('--holdout-identities <n>', 'whole identities held out for evaluation', intOption, 0)
    .option('--seed <s>', 'seed for hold-out draw and captions', intOption, 0)
    .option('--shard-index <i>', 'this machine\'s part of a split run', intOption, 0)
    .option('--shard-count <n>', 'number of parts of a split run', intOption, 1)
    .option('--jpeg-quality <q>', 'JPEG quality of the crops (lower: smaller shards, e.g. for a GPU transfer budget)', intOption, 95)
    .option('--caption-variants <n>', 'captions per image: KEY.txt, and the list the trainer draws from with train.caption_variants', intOption, 8)
    .addOption(new Option('--caption-style <style>', 'what a CelebA caption names: random (each present attribute by chance) or salient (hair colour, glasses, hat, beard, smile always)').choices(CAPTION_STYLES).default('random'))
    .option('--threads <n>', 'worker threads (0: main thread)', intOption)
    .option('--limit <n>', 'stop after this many inputs', intOption)
    .option('--no-stats', 'skip identity_stats.json')
    .addHelpText('after', `\nWith no sources: celeba:${defaultDataDir()}/celeba-subset and utkface:${defaultDataDir()}/utkface.`)
    .action(async (specs: string[], o: { out: string; size: number; minFace: number; shardSize: number; holdoutIdentities: number; seed: number; shardIndex: number; shardCount: number; threads?: number; limit?: number; jpegQuality: number; captionVariants: number; captionStyle: CaptionStyle; stats: boolean }) => {
      const list = specs.length ? specs : [`celeba:${defaultDataDir()}/celeba-subset`, `utkface:${defaultDataDir()}/utkface`];
      const sources = list.map(openSource);
      const progress = createProgress('augment');
      const t0 = Date.now();
      const m = await runAugment({
        sources, out: o.out, size: o.size, minFace: o.minFace, shardSize: o.shardSize, holdoutIdentities: o.holdoutIdentities,
        seed: o.seed, shardIndex: o.shardIndex, shardCount: o.shardCount, threads: o.threads, limit: o.limit, jpegQuality: o.jpegQuality, captionVariants: o.captionVariants, captionStyle: o.captionStyle,
        onProgress: (p) => progress.update(p.done, p.total, `kept ${p.kept} dropped ${p.dropped} shards ${p.shards}`),
      }).finally(() => progress.stop());
      const secs = (Date.now() - t0) / 1000;
      console.log(`augment: ${m.counts.kept} kept of ${m.counts.inputs} inputs in ${m.shards.length} shards (${o.out})`);
      console.log(`  this run: ${secs.toFixed(1)} s; whole run: ${m.seconds.toFixed(1)} s, ${(m.counts.inputs / Math.max(1e-3, m.seconds)).toFixed(1)} inputs/s`);
      console.log(`  dropped: ${JSON.stringify(m.counts.dropped)}; held out: ${m.counts.heldOut} images; other parts: ${m.counts.otherPart}`);
      for (const [name, s] of Object.entries(m.perSource)) console.log(`  ${name}: ${JSON.stringify(s)}`);
      if (o.stats && m.counts.kept >= 2) {
        const st = await writeIdentityStats(o.out);
        console.log(`  identity_stats.json: ${st.count} embeddings, ${Object.keys(st.directions).length} directions`);
      }
    });
}
