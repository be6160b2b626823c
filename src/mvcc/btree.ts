/**
 * sorted-btree's B-tree class, resolved the same way under Node.js ESM, Bun and vitest.
 * The package is CommonJS with `exports.default = BTree`: Node's ESM loader hands the whole
 * `module.exports` object to a default import, Bun and vite unwrap `default`.
 */
import BTreeImport, { simpleComparator } from "sorted-btree";

const resolved: unknown =
  typeof BTreeImport === "function" ? BTreeImport : (BTreeImport as unknown as { default: unknown }).default;
if (typeof resolved !== "function") throw new Error("sorted-btree: B-tree class not found");

/** The sorted-btree BTree class. */
export const BTree = resolved as typeof BTreeImport;
/** The B-tree type. */
export type BTree<K, V> = BTreeImport<K, V>;
/** Comparator of plain strings by code unit (`<`), faster than the default comparator. */
export const compareStrings: (a: string, b: string) => number = simpleComparator;
