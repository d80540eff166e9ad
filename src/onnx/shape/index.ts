export { inferShapes, inferShapesAndValues, inferValues, withValueInfo, type InferOptions } from './infer.ts';
export { ruleFor, shapeRuleOps } from './registry.ts';
export type { ShapeRule, ShapeContext, SymbolicValue, InferResult } from './rule.ts';
