// Known answers with the real networks: real photos used as "generations" give G ≈ 1; a constant
// grey image has no face (face rate 0, G undefined).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { join } from 'node:path';
import { Judges } from '../../src/eval/judges.js';
import { identification, identityMetrics, type IdentityEmbeddings } from '../../src/eval/metrics.js';
import { tinyCeleba } from './helpers.js';

const data = tinyCeleba(3, 4);

test('real photos as generations: G > 0.8 (evaluation and conditioning nets); grey image: no face', { skip: data ? false : 'no ../shared/data/celeba-subset' }, async () => {
  const judges = await Judges.create('faceres');
  assert.ok(judges.evalNet, `evaluation network missing: ${judges.evalNetError}`);
  const nets = ['eval', 'cond'] as const;
  const people: Record<string, IdentityEmbeddings[]> = { eval: [], cond: [] };
  for (const id of data!.ids) {
    const js = [];
    for (const f of data!.files.get(id)!) js.push(await judges.judge(await judges.decode(join(data!.dir, 'images', f)), { attributes: false }));
    // photos 0..2 are the real set; photo 3 plays a generation made from photo 0
    for (const net of nets) people[net].push({ id, real: js.slice(0, 3).map((j) => j[net]), gen: [{ source: 0, embedding: js[3][net] }] });
  }
  for (const net of nets) {
    const m = identityMetrics(people[net]);
    assert.ok(m.G !== null && m.G > 0.8, `${net}: G = ${m.G}`);
    assert.equal(m.face_rate, 1);
    // a real photo of the person is nearer its own person's centroid than anyone else's
    const id = identification(people[net], { B: 100 });
    assert.ok(id.top1 !== null && id.top1 > id.chance!, `${net}: top-1 ${id.top1} (${id.hits}/${id.n_images}), chance ${id.chance}`);
  }
  const grey = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toBuffer();
  const jg = await judges.judge(await Judges.upscale(grey));
  assert.equal(jg.face, false);
  const withGrey = people.eval.map((p) => ({ ...p, gen: [{ source: 0, embedding: jg.eval }] }));
  const m = identityMetrics(withGrey);
  assert.equal(m.face_rate, 0);
  assert.equal(m.G, null);
  assert.equal(identification(withGrey).top1, 0);
});
