#!/bin/sh
# Throughput of the SS-MIX2 (HL7 v2) and UKE converters on synth output.
# Usage: bench/convert/run.sh [DIR] [PATIENTS] [--threads 1,2] [--only hl7|uke] [--repeat K] [--digest]
# Builds in release. When DIR (default /tmp/medtwin-bench-convert) has no
# ssmix2/ and uke/ yet, generates them first with synth (PATIENTS, default
# 10000; the issue's target is stated for 100000). Then converts them as
# `medtwin convert` does (walk, read, decode, map, validate, serialize
# NDJSON) on 1 and 2 threads, and prints messages/s and lines/s (wall and per
# CPU-second) with the load average. --digest adds a hash of the NDJSON
# output (to check that a change kept it byte-identical; costs some CPU).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/../../target}"
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
dir="${1:-/tmp/medtwin-bench-convert}"
[ $# -gt 0 ] && shift
patients="${1:-10000}"
[ $# -gt 0 ] && shift
exec "$CARGO_TARGET_DIR/release/medtwin-bench-convert" "$dir" "$patients" "$@"
