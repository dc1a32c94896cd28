import { configureLogger, getLogger } from '../../src/common/logger.js';
import { buildProgram } from '../../src/cli/program.js';
import { captureLogs as capture } from '../helpers/log-capture.js';

describe('logger', () => {
  afterAll(() => configureLogger({ level: 'silent', name: 'sedna' }));

  it('writes JSON lines named after the job, at the configured level', () => {
    const out = capture();
    configureLogger({ level: 'warn', name: 'my-job', destination: out.stream });
    getLogger('reporter').info('hidden');
    getLogger('reporter').warn({ attempt: 2 }, 'LC unreachable');
    const lines = out.lines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      name: 'my-job',
      component: 'reporter',
      msg: 'LC unreachable',
      attempt: 2,
      level: 40,
    });
  });

  it('takes level and name from LOG_LEVEL / JOB_NAME when not given', () => {
    const saved = { LOG_LEVEL: process.env.LOG_LEVEL, JOB_NAME: process.env.JOB_NAME };
    process.env.LOG_LEVEL = 'DEBUG';
    process.env.JOB_NAME = 'from-env';
    try {
      const out = capture();
      configureLogger({ destination: out.stream });
      getLogger().debug('seen');
      expect(out.lines()[0]).toMatchObject({ name: 'from-env', msg: 'seen', level: 20 });
    } finally {
      process.env.LOG_LEVEL = saved.LOG_LEVEL;
      if (saved.JOB_NAME === undefined) delete process.env.JOB_NAME;
      else process.env.JOB_NAME = saved.JOB_NAME;
    }
  });

  it('a bad LOG_LEVEL is a coded error', () => {
    const saved = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = 'chatty';
    try {
      expect(() => configureLogger({})).toThrow(expect.objectContaining({ code: 'SEDNA_ERR_INVALID_CONFIG' }) as Error);
    } finally {
      process.env.LOG_LEVEL = saved;
    }
  });
});

describe('sedna CLI', () => {
  it('`sedna config` prints the resolved configuration with secrets hidden', async () => {
    let printed = '';
    const program = buildProgram({
      env: { JOB_NAME: 'cli-job', SECRET_ACCESS_KEY: 's3cr3t', LC_PERIOD: '7' },
      stdout: (t) => (printed += t),
    });
    await program.parseAsync(['node', 'sedna', 'config']);
    const shown = JSON.parse(printed) as Record<string, unknown>;
    expect(shown).toMatchObject({ jobName: 'cli-job', lcPeriod: 7, secretAccessKey: '***', accessKeyId: '' });
    expect(printed).not.toContain('s3cr3t');
  });

  it('`sedna config` with a bad variable rejects with the coded error', async () => {
    const program = buildProgram({ env: { LC_PERIOD: 'abc' }, stdout: () => undefined });
    await expect(program.parseAsync(['node', 'sedna', 'config'])).rejects.toMatchObject({
      code: 'SEDNA_ERR_INVALID_CONFIG',
    });
  });
});
