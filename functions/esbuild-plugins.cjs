// esbuild plugins for `serverless package` (serverless-esbuild loads this file: `custom.esbuild.plugins` in
// serverless.yml). Both cut what a function parses and runs at cold start (issue 14, target 5); the bench that
// measures it is test/bench/aws-bundles.ts, which builds through this file too.
'use strict';
const { basename, dirname, extname, join } = require('node:path');

/**
 * Code splitting, one chunk folder per function. What a function imports with `await import()` (the kube client,
 * ACME, AWS Private CA, Route 53, node-forge) goes into chunk files read only when a request needs them, instead of
 * one bundle that Node parses whole at init. serverless-esbuild builds each function on its own into the same
 * folder and zips every file there except the other functions' bundles, which it recognises by the prefix
 * `functions/<other>.`: naming the chunks `functions/<fn>.chunks/...` keeps each function's chunks in its own zip.
 */
const perFunctionChunks = {
  name: 'rekey-per-function-chunks',
  setup(build) {
    const options = build.initialOptions;
    const entries = Array.isArray(options.entryPoints) ? options.entryPoints : [];
    if (entries.length !== 1 || typeof entries[0] !== 'string') return;
    const fn = basename(entries[0], extname(entries[0]));
    options.splitting = true;
    options.chunkNames = `${fn}.chunks/[name]-[hash]`;
  },
};

/**
 * zod's `z` namespace re-exports `locales`, every language's error messages (about 260 KB of the 460 KB zod adds
 * to a bundle), which esbuild cannot drop because `z` is one object. rekey never reads `z.locales` (messages are
 * English, the default zod installs itself), so that one module is replaced by English alone.
 */
const zodEnglishOnly = {
  name: 'rekey-zod-english-only',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => {
      if (!/[\\/]zod[\\/]v4[\\/](?:classic[\\/]external|core[\\/]index)\.js$/.test(args.importer)) return undefined;
      return { path: join(dirname(args.importer), '..', 'locales', 'index.js'), namespace: 'rekey-zod-locales' };
    });
    build.onLoad({ filter: /.*/, namespace: 'rekey-zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), 'en.js'))};\n`,
      loader: 'js',
      resolveDir: dirname(args.path),
    }));
  },
};

module.exports = [perFunctionChunks, zodEnglishOnly];
