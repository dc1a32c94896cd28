/**
 * Post-process callbacks: a function applied to a model's output, given directly or by the name it
 * was registered under (`ClassFactory.registerCls(fn, ClassType.CALLBACK, 'name')`), as Sedna's
 * `post_process` strings are resolved.
 */
import { ClassFactory, ClassType } from '../common/class-factory.js';
import { invalidArgument } from '../common/errors.js';

export type PostProcessFunction<In = unknown, Out = unknown> = (result: In) => Out | Promise<Out>;
export type PostProcess<In = unknown, Out = unknown> = PostProcessFunction<In, Out> | string;

function isClass(fn: unknown): boolean {
  return typeof fn === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

/** The function to apply, or undefined for none. Unknown names throw SEDNA_ERR_UNKNOWN_ALGORITHM. */
export function resolvePostProcess<In, Out>(
  postProcess: PostProcess<In, Out> | null | undefined,
): PostProcessFunction<In, Out> | undefined {
  if (postProcess === null || postProcess === undefined) return undefined;
  if (typeof postProcess === 'function') return postProcess;
  if (typeof postProcess !== 'string' || postProcess === '')
    throw invalidArgument('postProcess', postProcess, 'a function or a registered callback name');
  const fn = ClassFactory.getCls<PostProcessFunction<In, Out>>(ClassType.CALLBACK, postProcess);
  if (isClass(fn))
    throw invalidArgument('postProcess', postProcess, `a registered function; "${postProcess}" is a class`);
  return fn;
}
