/**
 * src/openapi.d.ts (the wire types tokens.ts aliases) is generated from the
 * server's openapi.yaml by `jlpm gen:types`; it must not go stale.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..', '..');
const spec = path.join(root, '..', 'jupyter_mlops', 'server', 'openapi.yaml');
const committed = path.join(root, 'src', 'openapi.d.ts');
const cli = path.join(root, 'node_modules', 'openapi-typescript', 'bin', 'cli.js');

describe('src/openapi.d.ts', () => {
  it('is what `jlpm gen:types` generates from openapi.yaml', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-openapi-'));
    try {
      const fresh = path.join(dir, 'openapi.d.ts');
      execFileSync(process.execPath, [cli, spec, '--output', fresh], {
        cwd: root,
        stdio: 'pipe'
      });
      const expected = fs.readFileSync(fresh, 'utf-8');
      const actual = fs.readFileSync(committed, 'utf-8');
      if (actual !== expected) {
        throw new Error(
          'src/openapi.d.ts is stale versus jupyter_mlops/server/openapi.yaml: ' +
            'run `jlpm gen:types` in labextension/ and commit the result'
        );
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60000);
});
