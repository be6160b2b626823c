#!/usr/bin/env -S node --single-threaded-gc --heap-growing-percent=100
// The flags: src/cli/member-runtime.ts (MEMBER_NODE_FLAGS).
// Entry point of the `cairn` command: registers the TypeScript loader, then runs the CLI.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
