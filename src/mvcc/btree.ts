/**
 * sorted-btree's B-tree class, resolved the same way under Node.js ESM, Bun and vitest.
 * The package is CommonJS with `exports.default = BTree`: Node's ESM loader (and TypeScript with
 * NodeNext) hands the whole `module.exports` object to a default import, Bun and vite unwrap `default`.
 */
import sortedBtree, { simpleComparator } from "sorted-btree";

type BTreeClass = typeof sortedBtree.default;

const resolved: unknown = typeof sortedBtree === "function" ? sortedBtree : sortedBtree.default;
if (typeof resolved !== "function") throw new Error("sorted-btree: B-tree class not found");

/** The sorted-btree BTree class. */
export const BTree = resolved as BTreeClass;

/** Comparator of plain strings by code unit (`<`), faster than the default comparator. */
export const compareStrings: (a: string, b: string) => number = simpleComparator;
