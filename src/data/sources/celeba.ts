// CelebA layout: images/, identity.txt (`file id`), attributes.txt (count, names, `file ±1 …`).
import { createReadStream, existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { makeKey, type Source, type SourceItem } from './types.js';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface CelebaRecord {
  file: string;
  path: string;
  identity: string | null;
  attributes: Record<string, boolean>;
}

async function* lines(path: string): AsyncGenerator<string> {
  const rl = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  for await (const line of rl) if (line.trim()) yield line;
}

/** identity.txt → Map(file → identity). Small (one line per image), so read whole. */
export async function readIdentities(dir: string): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  const path = join(dir, 'identity.txt');
  if (!existsSync(path)) return map;
  let n = 0;
  for await (const line of lines(path)) {
    n++;
    const [file, id] = line.trim().split(/\s+/);
    if (!file || !id) throw new Error(`${path}:${n}: expected "<file> <identity>"`);
    map.set(file, id);
  }
  return map;
}

/** attributes.txt → Map(file → attributes), CelebA's list_attr format. */
export async function readAttributes(dir: string): Promise<{ names: string[]; byFile: Map<string, Record<string, boolean>> }> {
  const byFile = new Map<string, Record<string, boolean>>();
  const path = join(dir, 'attributes.txt');
  if (!existsSync(path)) return { names: [], byFile };
  let names: string[] = [];
  let n = 0;
  for await (const line of lines(path)) {
    n++;
    if (n === 1) continue; // image count
    const parts = line.trim().split(/\s+/);
    if (n === 2) { names = parts; continue; }
    const file = parts[0];
    const values = parts.slice(1);
    if (values.length !== names.length) throw new Error(`${path}:${n}: ${values.length} values for ${names.length} attributes`);
    const attrs: Record<string, boolean> = {};
    names.forEach((name, i) => { attrs[name] = values[i] === '1'; });
    byFile.set(file, attrs);
  }
  return { names, byFile };
}

/** Every image of a CelebA-layout folder, in file-name order, with identity and attributes. */
export async function readCeleba(dir: string): Promise<CelebaRecord[]> {
  const imagesDir = join(dir, 'images');
  if (!existsSync(imagesDir)) throw new Error(`${dir}: not a CelebA-layout folder (no images/)`);
  const ids = await readIdentities(dir);
  const { byFile } = await readAttributes(dir);
  const files = (await readdir(imagesDir)).filter((f) => /\.(jpe?g|png|webp)$/i.test(f)).sort();
  return files.map((file) => ({ file, path: join(imagesDir, file), identity: ids.get(file) ?? null, attributes: byFile.get(file) ?? {} }));
}

/** CelebA as an augment source (identities and attributes attached). */
export function celebaSource(root: string): Source {
  return {
    name: 'celeba',
    root,
    skipped: {},
    estimate: async () => (await readCeleba(root)).length,
    identities: async () => [...new Set((await readIdentities(root)).values())],
    async *items(): AsyncGenerator<SourceItem> {
      for (const r of await readCeleba(root)) {
        yield { source: 'celeba', key: makeKey('celeba', r.file.replace(/\.[^.]+$/, '')), file: r.file, identity: r.identity, attributes: r.attributes, load: () => readFile(r.path) };
      }
    },
  };
}
