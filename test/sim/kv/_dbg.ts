import { runSeed, type SimFailure } from "./run.ts";

const seed = Number(process.argv[2]);
const grep = process.argv[3] ? new RegExp(process.argv[3]) : null;
try {
  const r = runSeed(seed, { keepTrace: true });
  console.log("ok", r.traceDigest);
  if (grep)
    console.log(
      r
        .trace!.split("\n")
        .filter((l) => grep.test(l))
        .join("\n"),
    );
} catch (e) {
  const f = e as SimFailure;
  console.log(f.message.split("\n").slice(0, 12).join("\n"));
  if (grep)
    console.log(
      f
        .trace!.split("\n")
        .filter((l) => grep.test(l))
        .slice(-Number(process.argv[4] ?? 200))
        .join("\n"),
    );
}
