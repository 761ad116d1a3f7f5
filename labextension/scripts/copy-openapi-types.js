// tsc emits no .d.ts it did not compile: copy the generated wire types next to
// lib/tokens.d.ts, which imports them (./openapi).
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
fs.mkdirSync(path.join(root, 'lib'), { recursive: true });
fs.copyFileSync(
  path.join(root, 'src', 'openapi.d.ts'),
  path.join(root, 'lib', 'openapi.d.ts')
);
