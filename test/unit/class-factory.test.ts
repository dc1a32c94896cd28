import { ClassFactory, ClassType } from '../../src/common/class-factory.js';
import { errorOf } from '../helpers/errors.js';

describe('ClassType', () => {
  it("carries Sedna's constant names and string values", () => {
    expect(ClassType).toEqual({
      GENERAL: 'general',
      HEM: 'hard_example_mining',
      FL_AGG: 'aggregation',
      MTL: 'multi_task_learening',
      UTD: 'unseen_task_detect',
      OF: 'optical_flow',
      ALGORITHM: 'algorithm',
      DATASET: 'data_process',
      CALLBACK: 'post_process_callback',
      UTP: 'unseen_task_processing',
      KM: 'knowledge_management',
      STP: 'seen_task_processing',
      CLIENT_CHOOSE: 'client_choose', // ours: Sedna's SimpleClientChoose is outside its registry
    });
  });
});

describe('ClassFactory registration', () => {
  const kind = 'test_kind_registration';

  it('registers with the function form and finds the class again', () => {
    class Alpha {
      constructor(readonly params: unknown) {}
    }
    expect(ClassFactory.registerCls(Alpha, kind, 'Alpha')).toBe('Alpha');
    expect(ClassFactory.isExists(kind)).toBe(true);
    expect(ClassFactory.isExists(kind, 'Alpha')).toBe(true);
    expect(ClassFactory.isExists(kind, 'Beta')).toBe(false);
    expect(ClassFactory.isExists('no_such_kind')).toBe(false);
    expect(ClassFactory.getCls(kind, 'Alpha')).toBe(Alpha);
  });

  it('constructs a registered class with its parameters', () => {
    class WithParams {
      constructor(readonly params: Record<string, unknown>) {}
    }
    ClassFactory.registerCls(WithParams, kind, 'WithParams');
    const made = ClassFactory.create<string, string, WithParams>(kind, 'WithParams', { threshold: '0.5' });
    expect(made).toBeInstanceOf(WithParams);
    expect(made.params).toEqual({ threshold: '0.5' });
  });

  it('uses a static algorithmName when no alias is given', () => {
    class Named {
      static readonly algorithmName = 'NamedByStatic';
    }
    expect(ClassFactory.registerCls(Named, kind)).toBe('NamedByStatic');
    expect(ClassFactory.getCls(kind, 'NamedByStatic')).toBe(Named);
  });

  it('refuses to fall back to constructor.name', () => {
    class Anonymousish {}
    const err = errorOf(() => ClassFactory.registerCls(Anonymousish, kind));
    expect(err.code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect(err.message).toContain('explicit name');
    expect(ClassFactory.isExists(kind, 'Anonymousish')).toBe(false);
  });

  it('treats registering the same class again as a no-op', () => {
    class Same {}
    ClassFactory.registerCls(Same, kind, 'Same');
    expect(() => ClassFactory.registerCls(Same, kind, 'Same')).not.toThrow();
    expect(ClassFactory.getCls(kind, 'Same')).toBe(Same);
  });

  it('throws SEDNA_ERR_DUPLICATE_ALGORITHM for a different class under a taken name, keeping the first', () => {
    class First {}
    class Second {}
    ClassFactory.registerCls(First, kind, 'Taken');
    const err = errorOf(() => ClassFactory.registerCls(Second, kind, 'Taken'));
    expect(err.code).toBe('SEDNA_ERR_DUPLICATE_ALGORITHM');
    expect(err.message).toContain('Taken');
    expect(err.message).toContain(kind);
    expect(ClassFactory.getCls(kind, 'Taken')).toBe(First);
  });

  it('allows the same name under different kinds', () => {
    class InKindA {}
    class InKindB {}
    ClassFactory.registerCls(InKindA, 'kind_a', 'Shared');
    ClassFactory.registerCls(InKindB, 'kind_b', 'Shared');
    expect(ClassFactory.getCls('kind_a', 'Shared')).toBe(InKindA);
    expect(ClassFactory.getCls('kind_b', 'Shared')).toBe(InKindB);
  });

  it('throws SEDNA_ERR_UNKNOWN_ALGORITHM listing the known names of that kind', () => {
    class Known1 {}
    class Known2 {}
    ClassFactory.registerCls(Known1, 'kind_listed', 'Zeta');
    ClassFactory.registerCls(Known2, 'kind_listed', 'Eta');
    const err = errorOf(() => ClassFactory.getCls('kind_listed', 'Theta'));
    expect(err.code).toBe('SEDNA_ERR_UNKNOWN_ALGORITHM');
    expect(err.message).toContain('"Theta"');
    expect(err.message).toContain('known names: Eta, Zeta');
    expect(err.details).toMatchObject({ kind: 'kind_listed', name: 'Theta', known: ['Eta', 'Zeta'] });
  });

  it('says (none) for a kind with nothing registered', () => {
    expect(errorOf(() => ClassFactory.getCls('empty_kind', 'X')).message).toContain('known names: (none)');
  });

  it.each([
    ['an empty alias', () => ClassFactory.registerCls(class {}, 'k', '  ')],
    ['a non-function', () => ClassFactory.registerCls({} as never, 'k', 'X')],
    ['an empty kind', () => ClassFactory.registerCls(class {}, '', 'X')],
    ['an empty name on lookup', () => ClassFactory.getCls('k', '')],
  ])('rejects %s with SEDNA_ERR_INVALID_ARGUMENT', (_label, fn) => {
    expect(errorOf(fn).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
  });

  it.each([
    ['an arrow function', (x: number) => x > 0.5],
    ['an async function', async (x: number) => Promise.resolve(x > 0.5)],
  ])(
    'refuses %s as a HEM at registration with SEDNA_ERR_INVALID_ARGUMENT (not "cls is not a constructor" later)',
    (_l, fn) => {
      const err = errorOf(() => ClassFactory.registerCls(fn, ClassType.HEM, 'NotAClass'));
      expect(err.code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
      expect(err.message).toContain('kind "hard_example_mining" builds its algorithms with `new`');
      expect(ClassFactory.isExists(ClassType.HEM, 'NotAClass')).toBe(false);
    },
  );

  it('accepts plain functions (post-process callbacks)', () => {
    const callback = (x: number): number => x + 1;
    ClassFactory.registerCls(callback, ClassType.CALLBACK, 'plusOne');
    const found = ClassFactory.getCls<(x: number) => number>(ClassType.CALLBACK, 'plusOne');
    expect(found(1)).toBe(2);
  });

  it('keeps its state under a global Symbol.for key, shared by copies of the package', () => {
    class Shared {}
    ClassFactory.registerCls(Shared, 'kind_global', 'Shared');
    const holder = globalThis as unknown as Record<symbol, { kinds: Map<string, Map<string, unknown>> }>;
    const stateObject = holder[Symbol.for('sedna-sdk.class-factory')];
    expect(stateObject?.kinds.get('kind_global')?.get('Shared')).toBe(Shared);
  });
});

describe('ClassFactory.register decorator (standard decorators, as compiled by SWC here)', () => {
  it('registers through context.addInitializer when the class is defined', () => {
    @ClassFactory.register(ClassType.HEM, 'DecoratedStandard')
    class DecoratedStandard {
      readonly threshold = 0.5;
    }
    expect(ClassFactory.getCls(ClassType.HEM, 'DecoratedStandard')).toBe(DecoratedStandard);
  });

  it('throws at definition time for a duplicate name', () => {
    @ClassFactory.register('kind_decorated', 'Dup')
    class FirstDecorated {}
    expect(FirstDecorated).toBeDefined();
    expect(() => {
      @ClassFactory.register('kind_decorated', 'Dup')
      class SecondDecorated {}
      return SecondDecorated;
    }).toThrow(expect.objectContaining({ code: 'SEDNA_ERR_DUPLICATE_ALGORITHM' }) as Error);
  });
});
