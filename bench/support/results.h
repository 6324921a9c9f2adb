/*
 * A benchmark figure as one JSON object a line appended to
 * $MOBIUS_RESULTS, {"name","value","unit","target","pass"}, which
 * scripts/run-bench.sh gathers into build/bench/results.json.  Without
 * $MOBIUS_RESULTS (a bench run by hand) nothing is written.
 */
#ifndef BENCH_RESULTS_H
#define BENCH_RESULTS_H

/* target "<= 1000" or NULL for a figure without one (pass ignored). */
int bench_result(const char *name, double value, const char *unit,
    const char *target, int pass);

#endif
