// The layer rules of docs/architecture.md ("The layers"), checked by `npm run lint:layers` (part of
// `npm test`) over a JavaScript copy of the tree that scripts/lint-layers.mjs strips with oxc
// (dependency-cruiser reads TypeScript only through the `typescript` package's JS API, which
// TypeScript 7 does not have). Paths are relative to the repository root. The script runs it
// twice: on the runtime imports (every rule) and with `import type` kept as imports
// (LINT_LAYERS_PASS=types: the layer rules, not the cycle rules).

/** Test-only modules: named one way (`*-testing.ts`, `testing.ts`, a testing/ or testdata/ folder). */
const TEST_SUPPORT = '(^|/)(testing|testdata)(/|\\.jsx?$)|-testing\\.jsx?$';
/** Tests themselves (they may reach across layers: an engine test may drive the CLI). */
const TESTS = '\\.test\\.jsx?$|^e2e/';
const TEST_ONLY = `${TEST_SUPPORT}|${TESTS}`;
/**
 * Known exceptions, to be moved (docs/architecture.md, "Known exceptions"): the CLI's
 * `export --format F` commands live beside their format and parse argv with src/cli/args.ts; the
 * recipe reads train's flags and checkpoint (src/cli/run-flags.ts, train.ts, train-state.ts) and
 * the worker's dataset preparation.
 */
const EXPORT_KNOWN = '^src/export/([^/]+/command|recipe/(from-run|settings|studio|mapping))\\.js$';
/** The CLI's benchmark commands run synthetic models through the stand-in Hub: they may use test-only modules. */
const BENCH_COMMANDS = '^src/cli/bench-[a-z-]+\\.js$';
/** The layers that run the same in a browser worker and in Node. */
const LOW = '^src/(engine|gpu|io|data|quant)/';
/** The state slices (their createXSlice modules); what they share lives in leaf modules beside them. */
const SLICES = '^src/state/slices/(dataset|export|gpu|hub-push|library|model|settings|training|tryit)\\.js$';

const LAYER_RULES = [
  {
    name: 'low-layer-imports-upward',
    comment: 'engine, gpu, io, data and quant never import the layers above them',
    severity: 'error',
    from: { path: LOW, pathNot: TEST_ONLY },
    to: { path: '^src/(state|ui|worker|cli|app|export|hub|security)/' },
  },
  {
    name: 'low-layer-imports-react',
    comment: 'the engine and what it stands on never import React or the store',
    severity: 'error',
    from: { path: LOW, pathNot: TEST_ONLY },
    to: { path: '(^|/)node_modules/(react|react-dom|zustand)/' },
  },
  {
    name: 'export-imports-front-end',
    comment: 'exporters serve the studio and the CLI: they import neither',
    severity: 'error',
    from: { path: '^src/export/', pathNot: `${TEST_ONLY}|${EXPORT_KNOWN}` },
    to: { path: '^src/(cli|worker|state|ui)/' },
  },
  {
    name: 'worker-imports-page-or-cli',
    severity: 'error',
    from: { path: '^src/worker/', pathNot: TEST_ONLY },
    to: { path: '^src/(state|ui|cli)/' },
  },
  {
    name: 'cli-imports-page-or-worker',
    severity: 'error',
    from: { path: '^src/cli/', pathNot: TEST_ONLY },
    to: { path: '^src/(state|ui|worker)/' },
  },
  {
    name: 'product-imports-test-only',
    comment: 'test-only modules serve tests, e2e specs and the CLI benchmarks only',
    severity: 'error',
    from: { path: '^src/', pathNot: `${TEST_ONLY}|${BENCH_COMMANDS}` },
    to: { path: TEST_ONLY },
  },
];

const RUNTIME_RULES = [
  {
    name: 'state-cycle',
    comment: 'the state layer has no runtime import cycle',
    severity: 'error',
    from: { path: '^src/state/' },
    to: { path: '^src/state/', circular: true },
  },
  {
    name: 'slice-imports-slice',
    comment: "a slice never imports another slice's module: shared values live in the slices' leaf modules",
    severity: 'error',
    from: { path: '^src/state/slices/', pathNot: TEST_ONLY },
    to: { path: SLICES },
  },
];

module.exports = {
  forbidden: [...LAYER_RULES, ...(process.env.LINT_LAYERS_PASS === 'types' ? [] : RUNTIME_RULES)],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
