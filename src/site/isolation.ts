// Cross-origin isolation: browsers give wasm threads (SharedArrayBuffer) only to pages sent with
// these headers. `face0 serve` sends them; a static site carries them in _headers (Netlify,
// Cloudflare Pages), other hosts need them configured.
export const ISOLATION_HEADERS = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } as const;
