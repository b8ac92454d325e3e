# SPDX-License-Identifier: Apache-2.0
# What the benchmark scripts share (sourced by perf/bench, perf/fnlang, perf/oci).

# stats FILE (one number per line, us): "median p99" in ms, "- -" if empty
stats() {
	sort -n "$1" | awk '{a[NR] = $1} END {
		if (!NR) { print "- -"; exit }
		m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		i = int(NR * 0.99 + 0.999); if (i > NR) i = NR
		printf "%.1f %.1f\n", m / 1000, a[i] / 1000 }'
}

# ratio A B: A / B with two decimals, "-" when either is missing
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "-") printf "%.2f", a / b; else print "-" }'; }
