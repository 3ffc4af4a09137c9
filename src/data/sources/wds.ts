// WebDataset tars as input: members grouped by key (the name up to the first dot of the base
// name); a sample needs an image member, and may carry .txt (caption) and .json (labels).
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import tar from 'tar-stream';
import { IMAGE_EXT, makeKey, type Source, type SourceItem } from './types.js';

interface Group { key: string; members: Map<string, Buffer> }

async function* groups(tarPath: string): AsyncGenerator<Group> {
  const extract = tar.extract();
  createReadStream(tarPath).on('error', (e) => extract.destroy(e)).pipe(extract);
  let current: Group | undefined;
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    if (entry.header.type !== 'file') continue;
    const name = entry.header.name;
    const base = basename(name);
    const dot = base.indexOf('.');
    if (dot <= 0) continue;
    const key = join(dirname(name), base.slice(0, dot));
    const ext = base.slice(dot + 1).toLowerCase();
    if (!current || current.key !== key) {
      if (current) yield current;
      current = { key, members: new Map() };
    }
    current.members.set(ext, Buffer.concat(chunks));
  }
  if (current) yield current;
}

export function wdsSource(path: string): Source {
  const skipped: Record<string, number> = {};
  return {
    name: 'wds',
    root: path,
    skipped,
    async *items(): AsyncGenerator<SourceItem> {
      const tars = (await stat(path)).isDirectory() ? (await readdir(path)).filter((f) => f.endsWith('.tar')).sort().map((f) => join(path, f)) : [path];
      for (const t of tars) {
        for await (const g of groups(t)) {
          const imageExt = [...g.members.keys()].find((e) => IMAGE_EXT.test(`.${e}`));
          if (!imageExt) { skipped.no_image_member = (skipped.no_image_member ?? 0) + 1; continue; }
          let attributes: Record<string, unknown> = {};
          let identity: string | null = null;
          const json = g.members.get('json');
          if (json) {
            try {
              const meta = JSON.parse(json.toString('utf8')) as Record<string, unknown>;
              attributes = (meta.attributes as Record<string, unknown>) ?? {};
              identity = typeof meta.identity === 'string' ? meta.identity : null;
            } catch { skipped.bad_json = (skipped.bad_json ?? 0) + 1; }
          }
          const bytes = g.members.get(imageExt)!;
          const caption = g.members.get('txt')?.toString('utf8').trim().split('\n')[0];
          const file = `${basename(t)}/${g.key}.${imageExt}`;
          yield { source: 'wds', key: makeKey('wds', `${basename(t, '.tar')}_${g.key}`), file, identity, attributes, caption, load: async () => bytes };
        }
      }
    },
  };
}
