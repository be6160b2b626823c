import { writeFileSync } from "node:fs";
import { runSeed, type SimFailure } from "./run.ts";

try {
  const r = runSeed(Number(process.argv[2]), { keepTrace: true });
  console.log("ok", r.traceDigest);
  if (process.argv[3]) writeFileSync(process.argv[3], r.trace ?? "");
} catch (e) {
  const f = e as SimFailure;
  console.log(f.message.split("\n").slice(0, 3).join("\n"));
  if (process.argv[3]) writeFileSync(process.argv[3], f.trace ?? "");
}
