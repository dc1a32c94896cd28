/**
 * The built package as users get it: `import ... from 'sedna-sdk'` from plain .mjs files and from
 * user TypeScript compiled with either decorator mode. Runs against dist/ (npm test builds it).
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { runNode } from '../helpers/child.js';
import { ROOT, SCRATCH } from '../helpers/paths.js';

const dir = path.join(SCRATCH, 'package-api');

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'index.js')))
    throw new Error('dist/ is missing: run `npm run build` (npm test does)');
  fs.mkdirSync(dir, { recursive: true });
});

async function runScript(name: string, source: string): Promise<unknown> {
  const file = path.join(dir, name);
  fs.writeFileSync(file, source);
  const result = await runNode([file], { cwd: ROOT, env: { LOG_LEVEL: 'silent' } });
  if (result.code !== 0) throw new Error(`${name} exited with ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as unknown;
}

// A user's algorithm module written in TypeScript with a class decorator.
const USER_TS = `
import { ClassFactory, ClassType } from 'sedna-sdk';

@ClassFactory.register(ClassType.HEM, 'UserFilter')
export class UserFilter {
  readonly threshold: number;
  constructor(params: { threshold?: string | number } = {}) {
    this.threshold = Number(params.threshold ?? 0.5);
  }
  isHard(score: number): boolean {
    return score < this.threshold;
  }
}

const Found = ClassFactory.getCls<typeof UserFilter>(ClassType.HEM, 'UserFilter');
const filter = new Found({ threshold: '0.7' });
process.stdout.write(JSON.stringify({
  same: Found === UserFilter,
  hard: filter.isHard(0.6),
  exists: ClassFactory.isExists(ClassType.HEM, 'UserFilter'),
}));
`;

describe.each([
  ['standard (TC39) decorators', false],
  ['experimentalDecorators', true],
])('a user class decorated with @ClassFactory.register, compiled with %s', (_label, experimentalDecorators) => {
  it('is registered and usable', async () => {
    const out = ts.transpileModule(USER_TS, {
      compilerOptions: {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        experimentalDecorators,
      },
    });
    // The two modes really emit different code: the legacy helper vs the standard one.
    expect(out.outputText).toContain(experimentalDecorators ? '__decorate' : '__esDecorate');
    const result = await runScript(`user-${experimentalDecorators ? 'legacy' : 'standard'}.mjs`, out.outputText);
    expect(result).toEqual({ same: true, hard: true, exists: true });
  });
});

describe('plain JavaScript (.mjs) users', () => {
  it('register with the function form and get coded errors', async () => {
    const result = await runScript(
      'function-form.mjs',
      `
import { ClassFactory, ClassType, SednaError } from 'sedna-sdk';
class MyAgg { constructor(p) { this.p = p; } }
class Other {}
const name = ClassFactory.registerCls(MyAgg, ClassType.FL_AGG, 'MyAgg');
let duplicate, unknown;
try { ClassFactory.registerCls(Other, ClassType.FL_AGG, 'MyAgg'); } catch (e) { duplicate = e instanceof SednaError && e.code; }
try { ClassFactory.getCls(ClassType.FL_AGG, 'Nope'); } catch (e) { unknown = e.code; }
process.stdout.write(JSON.stringify({ name, found: ClassFactory.getCls(ClassType.FL_AGG, 'MyAgg') === MyAgg, duplicate, unknown }));
`,
    );
    expect(result).toEqual({
      name: 'MyAgg',
      found: true,
      duplicate: 'SEDNA_ERR_DUPLICATE_ALGORITHM',
      unknown: 'SEDNA_ERR_UNKNOWN_ALGORITHM',
    });
  });

  it('get the whole public core API from the package root', async () => {
    const result = await runScript(
      'public-api.mjs',
      `
import { loadConfig, getParameter, getAlgorithmFromConfig, SednaError, ClassFactory, ClassType } from 'sedna-sdk';
const env = { JOB_NAME: 'demo', HEM_NAME: 'IBT', HEM_PARAMETERS: 'null', epochs: '4' };
const config = loadConfig(env);
let code;
try { loadConfig({ LC_PERIOD: 'abc' }); } catch (e) { code = e instanceof SednaError ? e.code : 'not a SednaError'; }
process.stdout.write(JSON.stringify({
  jobName: config.jobName,
  hem: getAlgorithmFromConfig('HEM', { threshold_img: 0.9 }, env),
  epochs: getParameter('EPOCHS', '1', env),
  code,
  registry: typeof ClassFactory.register,
  hemKind: ClassType.HEM,
}));
`,
    );
    expect(result).toEqual({
      jobName: 'demo',
      hem: { method: 'IBT', param: { threshold_img: 0.9 } },
      epochs: '1',
      code: 'SEDNA_ERR_INVALID_CONFIG',
      registry: 'function',
      hemKind: 'hard_example_mining',
    });
  });

  it('keep wire-level pieces in sedna-sdk/protocol, out of the root', async () => {
    const result = await runScript(
      'entry-points.mjs',
      `
import * as root from 'sedna-sdk';
import * as protocol from 'sedna-sdk/protocol';
const wire = ['encodeWeightsFrame', 'CLOSE_CODES', 'jobReport', 'reportBody', 'backoffDelay', 'toErrorReply', 'MicroBatcher', 'HotUpdatePoller'];
const frame = protocol.encodeWeightsFrame([{ name: 'w', dtype: 'float32', shape: [2], data: new Float32Array([1, 2]) }]);
process.stdout.write(JSON.stringify({
  inRoot: wire.filter((name) => name in root),
  inProtocol: wire.filter((name) => name in protocol),
  roundTrip: Array.from(protocol.decodeWeightsFrame(frame).weights[0].data),
  jobs: ['JointInference', 'BigModelService', 'IncrementalLearning', 'FederatedLearning', 'JobBase'].every((n) => typeof root[n] === 'function'),
}));
`,
    );
    expect(result).toEqual({
      inRoot: [],
      inProtocol: [
        'encodeWeightsFrame',
        'CLOSE_CODES',
        'jobReport',
        'reportBody',
        'backoffDelay',
        'toErrorReply',
        'MicroBatcher',
        'HotUpdatePoller',
      ],
      roundTrip: [1, 2],
      jobs: true,
    });
  });

  it('two copies of the package share one registry', async () => {
    // A second copy of dist/ at another path is a second module instance (as with a nested node_modules).
    const copy = path.join(dir, 'copy-of-dist');
    fs.rmSync(copy, { recursive: true, force: true });
    fs.cpSync(path.join(ROOT, 'dist'), copy, { recursive: true });
    const result = await runScript(
      'two-copies.mjs',
      `
import { ClassFactory as A } from 'sedna-sdk';
import { ClassFactory as B } from ${JSON.stringify(path.join(copy, 'index.js'))};
class X {}
A.registerCls(X, 'shared_kind', 'X');
process.stdout.write(JSON.stringify({ distinctModules: A !== B, seenByCopy: B.getCls('shared_kind', 'X') === X }));
`,
    );
    expect(result).toEqual({ distinctModules: true, seenByCopy: true });
  });
});
