// fhirpath.js side of the FHIRPath benchmark (see run.sh): evaluations per
// second of each expression over the resources of its type, median of RUNS
// runs of ~300 ms, written as {name: {evals_per_sec, found}} JSON to stdout
// (`found`: total result items over all resources, to check both engines agree).
'use strict';
const fs = require('fs');
const fhirpath = require('fhirpath');
const r4 = require('fhirpath/fhir-context/r4');

const [specPath, runsArg] = process.argv.slice(2);
const runs = parseInt(runsArg || '5', 10);
const spec = JSON.parse(fs.readFileSync(specPath, 'utf8'));

function measure(fn, resources) {
  const start = process.hrtime.bigint();
  let n = 0;
  let sink = 0;
  for (;;) {
    for (const r of resources) {
      sink += fn(r).length;
    }
    n += resources.length;
    const ns = Number(process.hrtime.bigint() - start);
    if (ns > 300e6) {
      if (sink < 0) console.error(sink);
      return n / (ns / 1e9);
    }
  }
}

const out = {};
for (const e of spec.expressions) {
  const resources = spec.resources.filter((r) => r.resourceType === e.type);
  let fn;
  let found;
  try {
    fn = fhirpath.compile(e.expression, r4);
    found = resources.reduce((acc, r) => acc + fn(r).length, 0);
  } catch (err) {
    // e.g. resolve() is not implemented by fhirpath.js's synchronous API.
    out[e.name] = { error: String(err.message || err).split('\n')[0] };
    continue;
  }
  const perRun = [];
  for (let i = 0; i < runs; i++) perRun.push(measure(fn, resources));
  perRun.sort((a, b) => a - b);
  out[e.name] = { evals_per_sec: perRun[Math.floor(perRun.length / 2)], found };
}
process.stdout.write(JSON.stringify(out));
