#!/usr/bin/env bash
# Scores the hub's streaming gauge detector (hub/internal/anomaly/gauge) on the
# Numenta Anomaly Benchmark corpus: `make nab` runs this.
#
#   NAB_CORPUS  NAB's data folder: <category>/<series>.csv and combined_windows.json
#   NAB_SCORER  a NAB scorer with NAB's command line (results dir, --windows,
#               --data-dir, --threshold PROFILE=T, --per-category, --json FILE)
#   NAB_OUT     where the results go (its all/ and split/ are replaced)
#
# 1. The whole corpus with the detector's defaults, scored as published results
#    are: one threshold per profile, optimised over all series together.
# 2. A 2-fold split, to see how much of that is fitted to the corpus: the series
#    fall in half a or b by an FNV-1a hash of the file name (nab -half). On one
#    half a configuration is picked from GRID (by its standard score, each with
#    its thresholds optimised there), then that configuration and those
#    thresholds score the other half; and the reverse.
set -euo pipefail

GO=${GO:-go}
: "${NAB_CORPUS:?set NAB_CORPUS to NAB\'s data folder}"
: "${NAB_SCORER:?set NAB_SCORER to the NAB scorer}"
: "${NAB_OUT:?set NAB_OUT to a results folder}"
# Each entry: nab -set arguments separated by spaces.
GRID=${GRID:-"half_surprise=3 half_surprise=3.5 half_surprise=4 \
half_surprise=3,record_after=256 half_surprise=3.5,record_after=256 half_surprise=4,record_after=256 \
half_surprise=3,record_after=1024 half_surprise=3.5,record_after=1024 half_surprise=4,record_after=1024"}

NAB_CORPUS=$(realpath -m "$NAB_CORPUS")
NAB_SCORER=$(realpath -m "$NAB_SCORER")
NAB_OUT=$(realpath -m "$NAB_OUT")
cd "$(dirname "$0")/.."

if [ ! -f "$NAB_CORPUS/combined_windows.json" ]; then
	echo "nab: no NAB corpus at NAB_CORPUS=$NAB_CORPUS (want <category>/<series>.csv and combined_windows.json);" >&2
	echo "nab: get NAB's data/ and labels/combined_windows.json (github.com/numenta/NAB) and set NAB_CORPUS" >&2
	exit 1
fi
if [ ! -f "$NAB_SCORER" ]; then
	echo "nab: no NAB scorer at NAB_SCORER=$NAB_SCORER" >&2
	exit 1
fi
command -v python3 >/dev/null || { echo "nab: the scorer needs python3" >&2; exit 1; }

mkdir -p "$NAB_OUT"
rm -rf "$NAB_OUT/all" "$NAB_OUT/split"
$GO build -o "$NAB_OUT/nab" ./hub/cmd/nab

PROFILES="standard reward_low_FP_rate reward_low_FN_rate"
score() { # score RESULTS JSON [scorer args...]; a half draws a warning about the files left out
	local res=$1 json=$2
	shift 2
	python3 "$NAB_SCORER" "$res" --windows "$NAB_CORPUS/combined_windows.json" \
		--data-dir "$NAB_CORPUS" --json "$json" "$@" >/dev/null 2>"$json.log" || { cat "$json.log" >&2; exit 1; }
}
field() { # field JSON PROFILE KEY
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["scores"][sys.argv[2]][sys.argv[3]])' "$@"
}
run() { # run OUT [nab args...]
	local out=$1
	shift
	"$NAB_OUT/nab" -in "$NAB_CORPUS" -out "$out" "$@" >/dev/null
}
setargs() { # "a=1,b=2" -> -set a=1 -set b=2
	local IFS=,
	for kv in $1; do printf -- '-set %s ' "$kv"; done
}

# 1. Whole corpus.
run "$NAB_OUT/all"
python3 "$NAB_SCORER" "$NAB_OUT/all" --windows "$NAB_CORPUS/combined_windows.json" \
	--data-dir "$NAB_CORPUS" --per-category --json "$NAB_OUT/all.json" >"$NAB_OUT/all.txt"
echo "NAB corpus, detector defaults, one threshold per profile optimised over all series:"
sed -n '/^profile/,/^(NAB =/p' "$NAB_OUT/all.txt" | sed '$d'
echo
echo "Per category (the corpus thresholds, each category normalised on its own windows):"
grep -E '^  (standard|reward)' "$NAB_OUT/all.txt" | grep -v 'NAB=n/a'
echo

# 2. Split.
echo "2-fold split (halves by FNV-1a of the file name; configuration from GRID and thresholds tuned on one half, scored on the other):"
printf '%-6s %-6s %-36s %10s %10s %10s\n' tuned scored configuration standard low_FP low_FN
declare -A held
insample=()
for train in a b; do
	test=$([ $train = a ] && echo b || echo a)
	best="" bestscore=""
	for g in $GRID; do
		d="$NAB_OUT/split/$train/$g"
		run "$d" -half $train $(setargs "$g")
		score "$d" "$d.json"
		s=$(field "$d.json" standard normalized_score)
		if [ -z "$best" ] || python3 -c 'import sys; sys.exit(not float(sys.argv[1]) > float(sys.argv[2]))' "$s" "$bestscore"; then
			best=$g bestscore=$s
		fi
	done
	tj="$NAB_OUT/split/$train/$best.json"
	args=()
	for p in $PROFILES; do args+=(--threshold "$p=$(field "$tj" $p threshold)"); done
	d="$NAB_OUT/split/test-$test"
	run "$d" -half $test $(setargs "$best")
	score "$d" "$d.json" "${args[@]}"
	line=()
	for p in $PROFILES; do
		v=$(field "$d.json" $p normalized_score)
		line+=("$(printf '%.2f' "$v")")
		held[$p]="${held[$p]:-} $v"
	done
	printf '%-6s %-6s %-36s %10s %10s %10s\n' $train $test "$best" "${line[@]}"
	# For comparison: the defaults on the training half, in sample.
	d="$NAB_OUT/split/defaults-$train"
	run "$d" -half $train
	score "$d" "$d.json"
	line=()
	for p in $PROFILES; do line+=("$(printf '%.2f' "$(field "$d.json" $p normalized_score)")"); done
	insample+=("$(printf '%-6s %-6s %-36s %10s %10s %10s' $train $train "defaults, in sample" "${line[@]}")")
done
line=()
for p in $PROFILES; do line+=("$(python3 -c 'import sys; v=[float(x) for x in sys.argv[1:]]; print("%.2f" % (sum(v)/len(v)))' ${held[$p]})"); done
printf '%-6s %-6s %-36s %10s %10s %10s\n' "" mean "(held-out halves)" "${line[@]}"
printf '%s\n' "${insample[@]}"
