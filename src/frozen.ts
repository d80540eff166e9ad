/**
 * Nothing mutable is exported (issue 17): an exported table, default or registry is frozen at run
 * time and readonly by type, so one caller cannot change what verge computes for every other
 * caller in the process. Below every layer, like errors.ts; no imports.
 *
 * - plain objects and arrays: `Object.freeze` (flat) or `deepFreeze` (nested);
 * - registries keyed by name: `frozenMap`/`frozenSet`, read-only views (a `Map` itself cannot be
 *   frozen: `Object.freeze` leaves `set` working).
 *
 * test/package/frozen-exports.test.ts walks every layer's public API and fails on anything else.
 */

/** T readonly all the way down through plain objects, arrays, Maps and Sets (functions kept). */
export type DeepReadonly<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends ReadonlyMap<infer K, infer V>
    ? ReadonlyMap<K, DeepReadonly<V>>
    : T extends ReadonlySet<infer V>
      ? ReadonlySet<DeepReadonly<V>>
      : T extends object
        ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
        : T;

function isPlainData(value: object): boolean {
  if (Array.isArray(value)) return true;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Freezes value and every plain object and array reachable from it (registry entries holding
 * functions included); class instances (schemas, RegExps) are left as they are.
 */
export function deepFreeze<T>(value: T): DeepReadonly<T> {
  if (value !== null && typeof value === 'object' && isPlainData(value)) {
    // own data properties, non-enumerable ones included (z.toJSONSchema adds a hidden `~standard`)
    for (const key of Reflect.ownKeys(value)) {
      const d = Object.getOwnPropertyDescriptor(value, key);
      if (d && 'value' in d) deepFreeze(d.value);
    }
    Object.freeze(value);
  }
  return value as DeepReadonly<T>;
}

/** A read-only view of a Map that owns its entries (nothing else holds the Map). */
export class FrozenMap<K, V> implements ReadonlyMap<K, V> {
  readonly #map: Map<K, V>;
  constructor(entries: Iterable<readonly [K, V]>) {
    this.#map = new Map(entries);
    Object.freeze(this);
  }
  get size(): number {
    return this.#map.size;
  }
  get(key: K): V | undefined {
    return this.#map.get(key);
  }
  has(key: K): boolean {
    return this.#map.has(key);
  }
  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    this.#map.forEach((v, k) => fn.call(thisArg, v, k, this));
  }
  keys(): MapIterator<K> {
    return this.#map.keys();
  }
  values(): MapIterator<V> {
    return this.#map.values();
  }
  entries(): MapIterator<[K, V]> {
    return this.#map.entries();
  }
  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.#map[Symbol.iterator]();
  }
}

/** A read-only view of a Set that owns its values. */
export class FrozenSet<T> implements ReadonlySet<T> {
  readonly #set: Set<T>;
  constructor(values: Iterable<T>) {
    this.#set = new Set(values);
    Object.freeze(this);
  }
  get size(): number {
    return this.#set.size;
  }
  has(value: T): boolean {
    return this.#set.has(value);
  }
  forEach(fn: (value: T, key: T, set: ReadonlySet<T>) => void, thisArg?: unknown): void {
    this.#set.forEach((v) => fn.call(thisArg, v, v, this));
  }
  keys(): SetIterator<T> {
    return this.#set.keys();
  }
  values(): SetIterator<T> {
    return this.#set.values();
  }
  entries(): SetIterator<[T, T]> {
    return this.#set.entries();
  }
  [Symbol.iterator](): SetIterator<T> {
    return this.#set[Symbol.iterator]();
  }
}
