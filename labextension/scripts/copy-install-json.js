// Copy install.json next to the built extension (jupyter labextension list
// reads it to tell users the extension comes from the jupyter-mlops Python package).
const fs = require('fs');
const path = require('path');

const pkg = require('../package.json');
const outDir = path.resolve(__dirname, '..', pkg.jupyterlab.outputDir);
fs.mkdirSync(outDir, { recursive: true });
fs.copyFileSync(
  path.resolve(__dirname, '..', 'install.json'),
  path.join(outDir, 'install.json')
);
