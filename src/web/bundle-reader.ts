// A BundleReader over HTTP: the model bundle is a folder of the site (build-web copies it there).
import { sha256Hex, type BundleReader } from '../model/bundle-load.js';
import type { FileFetcher } from './fetch-files.js';

export function httpBundleReader(baseUrl: string, files: FileFetcher): BundleReader {
  const root = new URL(baseUrl.endsWith('/') ? baseUrl : baseUrl + '/', location.href).href;
  return {
    location: root,
    readText: (rel) => files.text(new URL(rel, root).href),
    async locate(rel) {
      const url = new URL(rel, root).href;
      return (await files.bytes(url)) === undefined ? undefined : url;
    },
    async sha256(url) {
      const b = await files.bytes(url);
      if (!b) throw new Error(`${url} is gone`);
      return sha256Hex(b);
    },
  };
}
