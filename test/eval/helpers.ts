// A temporary CelebA-layout folder of a few real people, linked from ../shared/data (never copied
// into the repository). Returns null when the data is not there.
import { existsSync, mkdtempSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const CELEBA = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'celeba-subset');

export function tinyCeleba(people: number, perPerson: number): { dir: string; ids: string[]; files: Map<string, string[]> } | null {
  if (!existsSync(join(CELEBA, 'identity.txt'))) return null;
  const byId = new Map<string, string[]>();
  for (const line of readFileSync(join(CELEBA, 'identity.txt'), 'utf8').split('\n')) {
    const [f, id] = line.trim().split(/\s+/);
    if (f && id) (byId.get(id) ?? byId.set(id, []).get(id)!).push(f);
  }
  const ids = [...byId.keys()].sort().slice(0, people);
  const files = new Map(ids.map((id) => [id, byId.get(id)!.slice(0, perPerson)]));
  const dir = mkdtempSync(join(tmpdir(), 'face0-eval-'));
  mkdirSync(join(dir, 'images'));
  const all = [...files.values()].flat();
  writeFileSync(join(dir, 'identity.txt'), ids.flatMap((id) => files.get(id)!.map((f) => `${f} ${id}`)).join('\n') + '\n');
  const attr = readFileSync(join(CELEBA, 'attributes.txt'), 'utf8').split('\n');
  writeFileSync(join(dir, 'attributes.txt'), [String(all.length), attr[1], ...attr.slice(2).filter((l) => all.includes(l.trim().split(/\s+/)[0]))].join('\n') + '\n');
  for (const f of all) symlinkSync(join(CELEBA, 'images', f), join(dir, 'images', f));
  return { dir, ids, files };
}
