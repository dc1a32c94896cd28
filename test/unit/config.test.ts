import {
  CONFIG_VARIABLES,
  getAlgorithmFromConfig,
  getBooleanParameter,
  getIntegerParameter,
  getListParameter,
  getNumberParameter,
  getParameter,
  loadConfig,
  parseCrdParameters,
  type SednaConfig,
} from '../../src/common/config.js';
import { primaryHostIp } from '../../src/common/host-ip.js';
import { errorOf } from '../helpers/errors.js';

describe('loadConfig defaults', () => {
  // Written out by hand from the spec (§1.1, §1.5, §1.6), not derived from the table under test.
  const expected: SednaConfig = {
    namespace: '',
    workerName: '',
    jobName: 'sedna',
    serviceName: '',
    lcServer: 'http://127.0.0.1:9100',
    lcPeriod: 30,
    logLevel: 'info',
    serverMetrics: false,
    backendType: 'TENSORFLOW',
    deviceCategory: 'CPU',
    cudaVisibleDevices: undefined,
    dataPathPrefix: '/home/data',
    originalDatasetUrl: undefined,
    trainDatasetUrl: undefined,
    testDatasetUrl: undefined,
    datasetName: undefined,
    modelUrl: undefined,
    modelUrls: undefined,
    modelName: undefined,
    modelPath: undefined,
    baseModelUrl: undefined,
    pretrainedModelUrl: './',
    modelLoadMode: 'file',
    modelHotUpdate: false,
    modelHotUpdateConfig: undefined,
    modelPollPeriodSeconds: 60,
    indexPollPeriodSeconds: 30,
    heSavedUrl: undefined,
    parameters: undefined,
    s3EndpointUrl: '',
    accessKeyId: '',
    secretAccessKey: '',
    hem: undefined,
    miningMode: 'inference-then-mining',
    bigModelIp: primaryHostIp(),
    bigModelPort: 5000,
    bigModelBindIp: primaryHostIp(), // Sedna's default; was 0.0.0.0 (issue 13)
    bigModelBindPort: 5000,
    aggProtocol: 'ws',
    aggIp: '127.0.0.1',
    aggPort: 7363,
    aggBindIp: primaryHostIp(),
    aggBindPort: 7363,
    connectTimeout: 300,
    participantsCount: 1,
    exitRound: 3,
    aggMaxNumSamples: 10_000_000,
    aggS3KeepObjects: false,
    aggToken: undefined,
    aggTokenFile: undefined,
    serviceToken: undefined,
    serviceTokenFile: undefined,
    aggregationAlgorithm: 'FedAvg',
    transmitter: 'ws',
    aggDataPath: './',
    kbServer: undefined,
    outputUrl: '/tmp',
    hasCompletedInitialTraining: false,
    cloudKbIndex: undefined,
    operator: '>',
    modelThreshold: 0.1,
    minTrainSample: 10,
    edgeOutputUrl: '/var/lib/sedna/kb',
    unseenSaveUrl: '/home/data/unseen_samples',
    kbUrl: 'sqlite:///lifelong_kb.sqlite3',
    knowledgeBaseServer: undefined,
    knowledgeBasePath: '',
    statusIp: '127.0.0.1',
    imageTopicUrl: '/tmp/',
    utd: undefined,
    utSavedUrl: undefined,
    utdSavedUrl: undefined,
    metrics: undefined,
    metricParam: undefined,
    batchSize: 1,
    kafkaEnabled: false,
    kafkaBindIps: [],
    kafkaBindPorts: [],
    reidModelBindUrl: undefined,
    reidModelBindPort: 5000,
    feModelBindUrl: undefined,
    feModelBindPort: 6000,
    detModelBindUrl: undefined,
    detModelBindPort: 4000,
  };

  it.each(Object.keys(expected) as (keyof SednaConfig)[])("%s has Sedna's default", (key) => {
    expect(loadConfig({})[key]).toEqual(expected[key]);
  });

  it('covers every variable of the table and nothing else', () => {
    expect(Object.keys(loadConfig({})).sort()).toEqual(Object.keys(expected).sort());
    expect(Object.keys(CONFIG_VARIABLES).sort()).toEqual(Object.keys(expected).sort());
  });

  it('returns a frozen object', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { jobName: string }).jobName = 'x';
    }).toThrow(TypeError);
  });

  it('treats empty strings as unset', () => {
    const config = loadConfig({ JOB_NAME: '', LC_PERIOD: '', LC_SERVER: '' });
    expect(config.jobName).toBe('sedna');
    expect(config.lcPeriod).toBe(30);
    expect(config.lcServer).toBe('http://127.0.0.1:9100');
  });

  it('derives unseen_save_url from DATA_PATH_PREFIX', () => {
    expect(loadConfig({ DATA_PATH_PREFIX: '/data' }).unseenSaveUrl).toBe('/data/unseen_samples');
  });
});

describe('loadConfig values', () => {
  it('reads what the controller injects into a joint-inference edge worker', () => {
    const config = loadConfig({
      NAMESPACE: 'default',
      SERVICE_NAME: 'helmet',
      WORKER_NAME: 'edgeworker-abcde',
      MODEL_URL: '/home/data/models/little.onnx',
      BIG_MODEL_IP: 'helmet-cloud.default',
      BIG_MODEL_PORT: '5000',
      HEM_NAME: 'IBT',
      HEM_PARAMETERS: '[{"key":"threshold_img","value":"0.9"},{"key":"threshold_box","value":"0.9"}]',
      LC_SERVER: 'http://localhost:9100/',
      LC_PERIOD: '5',
    });
    expect(config).toMatchObject({
      namespace: 'default',
      serviceName: 'helmet',
      jobName: 'sedna',
      workerName: 'edgeworker-abcde',
      modelUrl: '/home/data/models/little.onnx',
      bigModelIp: 'helmet-cloud.default',
      bigModelPort: 5000,
      lcServer: 'http://localhost:9100',
      lcPeriod: 5,
      hem: { method: 'IBT', param: { threshold_img: '0.9', threshold_box: '0.9' } },
    });
  });

  it('parses lists, booleans, enums and numbers', () => {
    const config = loadConfig({
      MODEL_URLS: '/m/new.onnx; /m/old.onnx;',
      MODEL_HOT_UPDATE: 'True',
      KAFKA_ENABLED: 'yes',
      KAFKA_BIND_IPS: '10.0.0.1|kafka-service',
      KAFKA_BIND_PORTS: '9092|9093',
      MINING_MODE: 'mining-then-inference',
      LOG_LEVEL: 'WARNING',
      BACKEND_TYPE: 'onnx',
      LC_PERIOD: '0.5',
      model_threshold: '-0.25',
      operator: '<=',
      S3_ENDPOINT_URL: 'minio.local:9000',
      CUDA_VISIBLE_DEVICES: '0',
    });
    expect(config.modelUrls).toEqual(['/m/new.onnx', '/m/old.onnx']);
    expect(config.modelHotUpdate).toBe(true);
    expect(config.kafkaEnabled).toBe(true);
    expect(config.kafkaBindIps).toEqual(['10.0.0.1', 'kafka-service']);
    expect(config.kafkaBindPorts).toEqual([9092, 9093]);
    expect(config.miningMode).toBe('mining-then-inference');
    expect(config.logLevel).toBe('warn');
    expect(config.backendType).toBe('ONNX');
    expect(config.lcPeriod).toBe(0.5);
    expect(config.modelThreshold).toBe(-0.25);
    expect(config.operator).toBe('<=');
    expect(config.s3EndpointUrl).toBe('https://minio.local:9000');
    expect(config.cudaVisibleDevices).toBe('0');
  });

  it('looks lower-case Sedna names up exactly, then in upper case', () => {
    expect(loadConfig({ MODEL_PATH: '/a' }).modelPath).toBe('/a');
    expect(loadConfig({ model_path: '/b', MODEL_PATH: '/a' }).modelPath).toBe('/b');
    expect(loadConfig({ EXIT_ROUND: '7' }).exitRound).toBe(7);
  });

  it("keeps Sedna's fallback for poll periods below 1", () => {
    expect(loadConfig({ MODEL_POLL_PERIOD_SECONDS: '0' }).modelPollPeriodSeconds).toBe(60);
    expect(loadConfig({ MODEL_POLL_PERIOD_SECONDS: '-3' }).modelPollPeriodSeconds).toBe(60);
    expect(loadConfig({ MODEL_POLL_PERIOD_SECONDS: '5' }).modelPollPeriodSeconds).toBe(5);
    // Sedna's lifelong-learning edge reads the same variable with 30 as its default and fallback.
    expect(loadConfig({}).indexPollPeriodSeconds).toBe(30);
    expect(loadConfig({ MODEL_POLL_PERIOD_SECONDS: '0' }).indexPollPeriodSeconds).toBe(30);
    expect(loadConfig({ MODEL_POLL_PERIOD_SECONDS: '5' }).indexPollPeriodSeconds).toBe(5);
  });
});

describe('loadConfig bad values', () => {
  const cases: [string, string, string][] = [
    ['LC_PERIOD', 'abc', 'a positive number'],
    ['LC_PERIOD', '0', 'a positive number'],
    ['LC_PERIOD', '-5', 'a positive number'],
    ['LC_SERVER', 'not a url', 'http(s) URL'],
    ['LC_SERVER', 'ftp://lc:21', 'http(s) URL'],
    ['BIG_MODEL_PORT', '70000', 'integer from 1 to 65535'],
    ['BIG_MODEL_PORT', '50.5', 'integer from 1 to 65535'],
    ['BIG_MODEL_BIND_PORT', 'http', 'integer from 0 to 65535'],
    ['AGG_PORT', '0', 'integer from 1 to 65535'],
    ['AGG_BIND_PORT', '-1', 'integer from 0 to 65535'],
    ['CONNECT_TIMEOUT', 'soon', 'a positive number'],
    ['PARTICIPANTS_COUNT', '0', 'integer from 1'],
    ['exit_round', 'three', 'integer from 1'],
    ['MODEL_POLL_PERIOD_SECONDS', '1.5', 'an integer'],
    ['MODEL_HOT_UPDATE', 'maybe', 'a boolean'],
    ['KAFKA_ENABLED', '2', 'a boolean'],
    ['HAS_COMPLETED_INITIAL_TRAINING', 'done', 'a boolean'],
    ['KAFKA_BIND_PORTS', '9092|x', 'integers from 1 to 65535 (bad item "x")'],
    ['MINING_MODE', 'both', 'one of inference-then-mining, mining-then-inference'],
    ['LOG_LEVEL', 'LOUD', 'one of trace'],
    ['AGG_PROTOCOL', 'http', 'one of ws, wss'],
    ['TRANSMITTER', 'ftp', 'one of ws, s3'],
    ['operator', '!=', 'one of >, <'],
    ['model_threshold', 'high', 'a number'],
    ['MIN_TRAIN_SAMPLE', '-1', 'integer from 0'],
    ['batch_size', '0', 'integer from 1'],
    ['KB_SERVER', 'kb:9020', 'http(s) URL'],
    ['S3_ENDPOINT_URL', 'http://', 'http(s) URL'],
  ];

  it.each(cases)('%s=%s throws a coded error naming the variable and the value', (name, value, expected) => {
    const err = errorOf(() => loadConfig({ [name]: value }));
    expect(err.code).toBe('SEDNA_ERR_INVALID_CONFIG');
    expect(err.message).toContain(name);
    expect(err.message).toContain(JSON.stringify(value));
    expect(err.message).toContain(expected);
    expect(err.details).toMatchObject({ variable: name, value });
  });

  it('rejects broken HEM_PARAMETERS JSON with the variable named', () => {
    const err = errorOf(() => loadConfig({ HEM_NAME: 'IBT', HEM_PARAMETERS: '[{"key": "threshold_img", ' }));
    expect(err.code).toBe('SEDNA_ERR_INVALID_PARAMETERS');
    expect(err.message).toContain('HEM_PARAMETERS');
    expect(err.message).toContain('not valid JSON');
  });
});

describe('getParameter', () => {
  it('finds the exact name first, then upper case', () => {
    expect(getParameter('epochs', undefined, { EPOCHS: '5' })).toBe('5');
    expect(getParameter('epochs', undefined, { epochs: '3', EPOCHS: '5' })).toBe('3');
  });

  it('treats empty strings as unset and returns the default', () => {
    expect(getParameter('epochs', '10', { epochs: '', EPOCHS: '' })).toBe('10');
    expect(getParameter('epochs', undefined, {})).toBeUndefined();
    expect(getParameter('epochs', 7, {})).toBe(7);
  });

  it('reads process.env by default', () => {
    process.env.SEDNA_TEST_PARAMETER = 'from-env';
    try {
      expect(getParameter('sedna_test_parameter')).toBe('from-env');
    } finally {
      delete process.env.SEDNA_TEST_PARAMETER;
    }
  });
});

describe('the configuration table', () => {
  it('names in "read by" only code that exists (or says: worker scripts, nothing yet, to come)', async () => {
    const root = (await import('../../src/index.js')) as Record<string, unknown>;
    const known = new Set([...Object.keys(root), 'JobBase']);
    const problems: string[] = [];
    for (const variable of Object.values(CONFIG_VARIABLES)) {
      const text = variable.readBy;
      if (/^(to come: |nothing)/.test(text)) continue;
      // Code names (JointInference, LCClient, createEstimator), each with an optional .method;
      // `quoted` field names and values are not code.
      const prose = text.replace(/`[^`]*`/g, '');
      const names = [...prose.matchAll(/\b([A-Za-z]\w*?[a-z]\w*?[A-Z]\w*|[A-Z]{2,}[a-z]{2,}\w*)(?:\.\w+)?/g)].map(
        (m) => m[1] as string,
      );
      const unknown = names.filter((name) => !known.has(name));
      if (names.length === 0 && !/^(worker scripts|logger)/.test(text))
        problems.push(`${variable.name}: "${text}" names no code`);
      if (unknown.length > 0) problems.push(`${variable.name}: ${unknown.join(', ')} do not exist`);
    }
    expect(problems).toEqual([]);
  });
});

describe('typed parameter readers', () => {
  const env = { lr: ' 0.25 ', EPOCHS: '30', loop: 'No', ratio: 'abc', big: '1e3', classes: ' cat, dog ,,bird ' };

  it('cast once, with the getParameter lookup (exact, then upper case) and defaults', () => {
    expect(getNumberParameter('lr', 1, { env })).toBe(0.25);
    expect(getNumberParameter('big', undefined, { env })).toBe(1000);
    expect(getIntegerParameter('epochs', 1, { env })).toBe(30);
    expect(getBooleanParameter('loop', true, env)).toBe(false);
    expect(getListParameter('classes', [], { env })).toEqual(['cat', 'dog', 'bird']);
    expect(getNumberParameter('missing', 7, { env })).toBe(7);
    expect(getIntegerParameter('missing', undefined, { env })).toBeUndefined();
    expect(getBooleanParameter('missing', undefined, env)).toBeUndefined();
    expect(getListParameter('missing', ['x'], { env })).toEqual(['x']);
  });

  it.each([
    ['a word as a number', () => getNumberParameter('ratio', 1, { env }), 'ratio', 'a number'],
    ['a fraction as an integer', () => getIntegerParameter('lr', 1, { env }), 'lr', 'an integer'],
    ['a value above max', () => getIntegerParameter('epochs', 1, { env, max: 10 }), 'epochs', 'an integer ≤ 10'],
    ['a value out of range', () => getNumberParameter('lr', 1, { env, min: 1, max: 2 }), 'lr', 'a number from 1 to 2'],
    ['a word as a boolean', () => getBooleanParameter('ratio', true, env), 'ratio', 'a boolean'],
  ])('throw SEDNA_ERR_INVALID_CONFIG naming the variable for %s (never NaN)', (_label, read, variable, expected) => {
    const err = errorOf(read);
    expect(err.code).toBe('SEDNA_ERR_INVALID_CONFIG');
    expect(err.message).toContain(variable);
    expect(err.message).toContain(expected);
  });
});

describe('getAlgorithmFromConfig', () => {
  it('returns undefined when <PREFIX>_NAME is unset', () => {
    expect(getAlgorithmFromConfig('HEM', {}, { HEM_PARAMETERS: '[]' })).toBeUndefined();
  });

  it.each([
    ['null (what the controller writes for no parameters)', 'null'],
    ['an empty list', '[]'],
    ['unset', undefined],
  ])('accepts %s as no parameters', (_label, raw) => {
    const env = raw === undefined ? { HEM_NAME: 'Threshold' } : { HEM_NAME: 'Threshold', HEM_PARAMETERS: raw };
    expect(getAlgorithmFromConfig('HEM', {}, env)).toEqual({ method: 'Threshold', param: {} });
  });

  it('turns a normal list into a record of strings', () => {
    const env = {
      HEM_NAME: 'IBT',
      HEM_PARAMETERS: '[{"key":"threshold_img","value":"0.9"},{"key":"threshold_box","value":"0.8"},{"key":"empty"}]',
    };
    expect(getAlgorithmFromConfig('HEM', {}, env)).toEqual({
      method: 'IBT',
      param: { threshold_img: '0.9', threshold_box: '0.8', empty: '' },
    });
  });

  it('lets code-supplied overrides win over CRD values', () => {
    const env = {
      HEM_NAME: 'IBT',
      HEM_PARAMETERS: '[{"key":"threshold_img","value":"0.5"},{"key":"threshold_box","value":"0.7"}]',
    };
    expect(getAlgorithmFromConfig('HEM', { threshold_img: 0.9 }, env)).toEqual({
      method: 'IBT',
      param: { threshold_img: 0.9, threshold_box: '0.7' },
    });
  });

  it('works for any prefix (UTD_NAME / UTD_PARAMETERS)', () => {
    expect(getAlgorithmFromConfig('UTD', {}, { UTD_NAME: 'TaskAttrFilter', UTD_PARAMETERS: 'null' })).toEqual({
      method: 'TaskAttrFilter',
      param: {},
    });
  });

  it.each([
    ['non-JSON', 'threshold=0.5', 'not valid JSON'],
    ['an object instead of a list', '{"threshold":"0.5"}', 'expected array'],
    ['a list of strings', '["threshold"]', 'at [0]'],
    ['an entry without key', '[{"value":"0.5"}]', 'at [0].[key]'],
    ['a nested value', '[{"key":"a","value":{"x":1}}]', 'at [0].[value]'],
  ])('rejects %s with a coded error', (_label, raw, problem) => {
    const err = errorOf(() => getAlgorithmFromConfig('HEM', {}, { HEM_NAME: 'IBT', HEM_PARAMETERS: raw }));
    expect(err.code).toBe('SEDNA_ERR_INVALID_PARAMETERS');
    expect(err.message).toContain('HEM_PARAMETERS=');
    expect(err.message).toContain(JSON.stringify(raw));
    expect(err.message).toContain(problem);
  });

  it('parseCrdParameters stringifies numbers and booleans written by hand', () => {
    expect(
      parseCrdParameters('X', '[{"key":"a","value":1},{"key":"b","value":true},{"key":"c","value":null}]'),
    ).toEqual({
      a: '1',
      b: 'true',
      c: '',
    });
  });
});
