#!/usr/bin/env node
// The README's sample grids, made by the library from a model bundle (run `npm run build` first):
//   node scripts/showcase.mjs [--bundle models/face0-64] [--out docs/images]
// One held-out person under several prompts (face on, and the same seeds with the face off); two
// random-identity characters across the same prompts; an interpolation (slerp) between two held-out
// people; attribute sliders. Only generated pixels are written: the reference photos are CelebA's
// and stay in ../shared. Everything that made a grid (photos, seeds, scales) goes to showcase.json.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { createPipeline, makeGrid, slerp } from '../dist/index.js';
import { readIdentities } from '../dist/data/sources/celeba.js';
import { readHoldout } from '../dist/eval/run.js';
import { intOption } from '../dist/cli/options.js';

const program = new Command('showcase')
  .option('--bundle <dir>', 'model bundle', 'models/face0-64')
  .option('--data <dir>', 'CelebA subset (identity.txt, images/)', '../shared/data/celeba-subset')
  .option('--holdout <file>', "the dataset's held-out people", 'work/data64/holdout.txt')
  .option('--out <dir>', 'output folder', 'docs/images')
  .option('--seed <n>', 'first seed', intOption, 1)
  .option('--scale <n>', 'upscale factor of each 64x64 image in the grids', intOption, 2)
  .parse();
const o = program.opts();

const PROMPTS = [
  'a photo of a person',
  'a photo of a smiling person',
  'a photo of a person wearing eyeglasses',
  'a photo of a person with blond hair',
  'a photo of a person wearing a hat',
  'a photo of an old person',
];

async function heldOutPeople() {
  const held = await readHoldout(o.holdout);
  const byId = new Map();
  for (const [file, id] of await readIdentities(o.data)) byId.set(id, [...(byId.get(id) ?? []), path.join(o.data, 'images', file)]);
  return [...held].map((id) => ({ id, photos: (byId.get(id) ?? []).sort() })).filter((p) => p.photos.length > 0);
}

const up = (png) => sharp(png).resize({ width: 64 * o.scale, kernel: 'lanczos3' }).png().toBuffer();
async function grid(name, pngs, columns) {
  const file = path.join(o.out, name);
  await writeFile(file, await makeGrid(await Promise.all(pngs.map(up)), { columns, gap: 4 }));
  console.log(`wrote ${file}`);
}

const pipe = await createPipeline({ bundleDir: o.bundle });
const record = { bundle: pipe.bundle.manifest.name, defaults: pipe.bundle.manifest.defaults, prompts: PROMPTS, grids: {} };
const one = async (opts) => (await pipe.generate({ count: 1, ...opts })).images[0].png;
await mkdir(o.out, { recursive: true });
try {
  const people = await heldOutPeople();
  if (people.length < 2) throw new Error(`need two held-out CelebA people with photos in ${o.data}`);
  const [a, b] = people;
  const embA = (await pipe.embedFace(a.photos[0])).embedding;
  const embB = (await pipe.embedFace(b.photos[0])).embedding;

  // 1. a held-out person: row 1 face on, row 2 the same seeds with the face off (the base model)
  const person = [];
  for (const [faceScale, row] of [[undefined, 'face'], [0, 'base']]) {
    for (const [i, prompt] of PROMPTS.entries()) {
      person.push(await one({ embedding: embA, prompt, seed: o.seed + i, faceScale }));
    }
    console.log(`person: ${row} row done`);
  }
  await grid('showcase-person.png', person, PROMPTS.length);
  record.grids['showcase-person.png'] = { person: `celeba:${a.id}`, photo: path.basename(a.photos[0]), rows: ['face on', 'face off (base)'], seeds: PROMPTS.map((_, i) => o.seed + i) };

  // 2. invented characters: random identities 42 and 7, one row each, same prompts and seeds
  const chars = [];
  for (const r of [42, 7]) for (const [i, prompt] of PROMPTS.entries()) chars.push(await one({ randomIdentity: r, prompt, seed: o.seed + i }));
  await grid('showcase-character.png', chars, PROMPTS.length);
  record.grids['showcase-character.png'] = { random_identities: [42, 7], seeds: PROMPTS.map((_, i) => o.seed + i) };

  // 3. interpolation A -> B by slerp, two seeds
  const ts = [0, 0.25, 0.5, 0.75, 1];
  const interp = [];
  for (const s of [o.seed, o.seed + 1]) for (const t of ts) interp.push(await one({ embedding: slerp(embA, embB, t), prompt: PROMPTS[0], seed: s }));
  await grid('showcase-interpolation.png', interp, ts.length);
  record.grids['showcase-interpolation.png'] = { from: `celeba:${a.id}`, to: `celeba:${b.id}`, photos: [path.basename(a.photos[0]), path.basename(b.photos[0])], t: ts, prompt: PROMPTS[0], seeds: [o.seed, o.seed + 1] };

  // 4. attribute sliders on person A: Male and Young, amounts in units of the direction vector
  const amounts = [-2, -1, 0, 1, 2];
  const slider = [];
  for (const attr of ['Male', 'Young']) for (const amt of amounts) slider.push(await one({ embedding: embA, attributes: { [attr]: amt }, prompt: PROMPTS[0], seed: o.seed }));
  await grid('showcase-slider.png', slider, amounts.length);
  record.grids['showcase-slider.png'] = { person: `celeba:${a.id}`, rows: ['Male', 'Young'], amounts, prompt: PROMPTS[0], seed: o.seed };

  await writeFile(path.join(o.out, 'showcase.json'), JSON.stringify(record, null, 1) + '\n');
} finally {
  await pipe.close();
}
