import { runSeed, type SimFailure } from "./run.ts";
try { const r = runSeed(Number(process.argv[2]), { keepTrace: true }); console.log("ok", r.traceDigest); }
catch (e) { const f = e as SimFailure; console.log(f.message); if (process.argv[3]) require("node:fs").writeFileSync(process.argv[3], f.trace ?? ""); }
