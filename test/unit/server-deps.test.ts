// Dependencies in src/server run one way: app.ts registers the routes; the routes get what they
// share through context.ts and never import app.ts (which imports them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('../../src/server/', import.meta.url));

test('src/server: no module but app.ts imports ./app.js', () => {
  const importsApp = readdirSync(SERVER)
    .filter((f) => f.endsWith('.ts') && f !== 'app.ts')
    .filter((f) => /from '\.\/app\.js'/.test(readFileSync(SERVER + f, 'utf8')));
  assert.deepEqual(importsApp, []);
});
