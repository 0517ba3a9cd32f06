// esbuild plugins for `serverless package` (serverless-esbuild loads this file: `custom.esbuild.plugins` in
// serverless.yml). All cut what a function parses and runs at cold start (issue 14, target 5); the bench that
// measures it is test/bench/aws-bundles.ts, which builds through this file too.
'use strict';
const { readFileSync } = require('node:fs');
const { basename, dirname, extname, isAbsolute, join } = require('node:path');

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

/** The `define` of serverless.yml's esbuild settings that names the packaged inventory (`${param:inventory}`). */
const INVENTORY_DEFINE = '__REKEY_PACKAGED_INVENTORY__';
/** Sources of packaged-inventory.ts already made in this process, by file and text (six functions, one inventory). */
const inventoryModules = new Map();

/**
 * The packaged inventory, validated now and embedded as JSON (functions/lib/packaged-inventory.ts is replaced): the
 * first invocation then reads it without js-yaml and the inventory's zod schema. The validation is the CLI's own
 * (functions/lib/inventory-module.ts, bundled and run here); an invalid inventory fails the packaging.
 */
const packagedInventory = {
  name: 'rekey-packaged-inventory',
  setup(build) {
    const defined = build.initialOptions.define?.[INVENTORY_DEFINE];
    if (!defined) return;
    const root = build.initialOptions.absWorkingDir ?? process.cwd();
    const file = JSON.parse(defined);
    build.onLoad({ filter: /[\\/]functions[\\/]lib[\\/]packaged-inventory\.ts$/ }, async () => {
      const text = readFileSync(isAbsolute(file) ? file : join(root, file), 'utf8');
      const key = `${file}\0${text}`;
      if (!inventoryModules.has(key)) {
        const bundled = await build.esbuild.build({
          entryPoints: [join(root, 'functions/lib/inventory-module.ts')],
          bundle: true,
          platform: 'node',
          format: 'cjs',
          write: false,
          logLevel: 'silent',
        });
        const module = { exports: {} };
        new Function('module', 'exports', 'require', bundled.outputFiles[0].text)(module, module.exports, require);
        inventoryModules.set(key, module.exports.inventoryModuleSource(text, file));
      }
      return { contents: inventoryModules.get(key), loader: 'js' };
    });
  },
};

module.exports = [perFunctionChunks, zodEnglishOnly, packagedInventory];
