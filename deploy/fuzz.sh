#!/usr/bin/env bash
# Runs every fuzz target of the repository for FUZZTIME each (default 20s).
# The seed corpora run in `make test` anyway; this explores beyond them.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-20s}
failed=0
while IFS= read -r line; do
	file=${line%%:*}
	name=$(sed -E 's/.*func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$line")
	pkg=./$(dirname "$file")
	echo "== $pkg $name ($FUZZTIME)"
	if ! go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME"; then
		failed=1
	fi
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' agent hub pkg simulators | sort)
exit $failed
