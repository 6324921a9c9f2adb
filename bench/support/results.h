/*
 * Benchmark figures into one JSON file, $MOBIUS_BENCH_RESULTS or
 * build/bench/results.json: {"BENCH": {"FIGURE": {"value", "unit",
 * "target", "result": "PASS"|"MISS"|"-"}}}.  A benchmark rewrites only
 * its own figures, so `make bench` leaves one file with all of them.
 */
#ifndef BENCH_RESULTS_H
#define BENCH_RESULTS_H

/* target NULL: a figure without a target (result "-"); pass ignored. */
int bench_result(const char *bench, const char *figure, double value,
    const char *unit, const char *target, int pass);

#endif
