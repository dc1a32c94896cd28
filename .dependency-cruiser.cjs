// The import rules of the house (docs/architecture.md), checked by `npm run lint` (lint:layers).
// Layers run one way: common <- datasources <- backend <- algorithms <- service <- core <- index.ts,
// cli/ (testing/ sits beside core). A layer never imports one above it; a job folder in src/core/
// never imports another job's folder. Each rule's comment is what the failure prints.
const LAYERS = ['common', 'datasources', 'backend', 'algorithms', 'service', 'core'];
const TOP = ['testing', 'cli', 'index\\.ts', 'protocol\\.ts'];
const FIX =
  'Move the shared piece down to the lowest layer that needs it (src/common/ for what every layer uses), ' +
  'or have the upper layer pass it in as an option or a callback. The order is ' +
  'common <- datasources <- backend <- algorithms <- service <- core <- index.ts, cli (docs/architecture.md).';

const upward = LAYERS.map((layer, i) => {
  const above = [...LAYERS.slice(i + 1), ...TOP];
  return {
    name: `no-upward-import-from-${layer}`,
    severity: 'error',
    comment: `src/${layer}/ may import only ${
      i === 0 ? 'Node built-ins and packages' : `src/{${LAYERS.slice(0, i).join(',')}}/`
    }, never src/{${above.join(',').replace('\\', '')}}. ${FIX}`,
    from: { path: `^src/${layer}/` },
    to: { path: `^src/(${above.join('|')})` },
  };
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'no-import-of-testing-or-cli',
      severity: 'error',
      comment:
        'src/testing/ (the LC emulator entry point) and src/cli/ sit on top: only src/index.ts, the CLI and ' +
        'tests import them. ' +
        FIX,
      from: { path: '^src/(common|datasources|backend|algorithms|service|core)/' },
      to: { path: '^src/(testing|cli)/' },
    },
    {
      name: 'testing-beside-core',
      severity: 'error',
      comment:
        'src/testing/ (sedna-sdk/testing) must not pull in the job kinds: import from src/service/ and below. ' + FIX,
      from: { path: '^src/testing/' },
      to: { path: '^src/(core|cli|index\\.ts|protocol\\.ts)' },
    },
    {
      name: 'no-sibling-job-import',
      severity: 'error',
      comment:
        'A job folder in src/core/ never imports another job folder. Put what two jobs share in ' +
        'src/core/job-base.ts (or another file directly in src/core/), or lower (service/, common/).',
      from: { path: '^src/core/([^/]+)/' },
      to: { path: '^src/core/[^/]+/', pathNot: '^src/core/$1/' },
    },
    {
      name: 'algorithms-are-pure',
      severity: 'error',
      comment:
        'src/algorithms/ is pure computation: no file system, network, processes or servers. Do the I/O in ' +
        'service/ or core/ and pass the algorithm data.',
      from: { path: '^src/algorithms/' },
      to: {
        dependencyTypes: ['core'],
        path: '^(node:)?(fs|fs/promises|net|http|https|http2|dgram|child_process|cluster|tls|dns)$',
      },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make load order fragile. Break the cycle by moving the shared piece to a lower file.',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.build.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'],
    },
  },
};
