/**
 * The lifelong-learning index as JSON: what the parser accepts, what it refuses, and that any plain
 * JSON attribute value survives a round trip.
 */
import fc from 'fast-check';
import { parseKBIndex, serializeKBIndex, type JsonValue, type KBIndex } from '../../src/datasources/kb-index.js';
import { errorOf } from '../helpers/errors.js';

function indexWith(metaAttr: JsonValue, entries = ['summer']): KBIndex {
  return {
    format: 'sedna-sdk/kb-index',
    version: 1,
    create_time: '1700000000.000',
    seen_task: {
      extractor: { method: 'TaskDefinitionByDataAttr', attribute: ['season'], entries: { summer: 0 } },
      task_groups: entries.map((entry, i) => ({
        entry,
        deploy: true,
        sample_num: 12,
        tasks: [{ entry, meta_attr: metaAttr, samples: { data_type: 'train', data_url: '', sample_num: 12 } }],
        model: { index: i, entry, model: `/kb/${entry}.model`, format: 'json', result: null, meta_attr: [metaAttr] },
      })),
      global_model: null,
    },
    unseen_task: { extractor: null, task_groups: [] },
  };
}

describe('the KB index', () => {
  it('reads back what it wrote, for any plain JSON attribute value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        // JSON has one zero: -0 is written as 0.
        const meta = JSON.parse(JSON.stringify(value)) as JsonValue;
        expect(parseKBIndex(serializeKBIndex(indexWith(meta)))).toEqual(indexWith(meta));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses attribute values nested past the limit, a repeated group, and another format', () => {
    let deep: JsonValue = 'x';
    for (let i = 0; i < 40; i++) deep = [deep];
    const nested = errorOf(() => parseKBIndex(serializeKBIndex(indexWith(deep))));
    expect(nested.code).toBe('SEDNA_ERR_KB_INDEX');
    expect(nested.message).toContain('not plain JSON data');
    const twice = errorOf(() => parseKBIndex(serializeKBIndex(indexWith('a', ['summer', 'summer']))));
    expect(twice.message).toContain('task group "summer" appears twice');
    const other = errorOf(() => parseKBIndex(JSON.stringify({ ...indexWith('a'), format: 'other' })));
    expect(other.code).toBe('SEDNA_ERR_KB_INDEX');
    expect(errorOf(() => parseKBIndex('{"format": ')).message).toContain('not valid JSON');
  });
});
