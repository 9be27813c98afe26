#!/bin/sh
# counter.sh FILE PREFIX: prints PREFIX-N, where N counts the calls in FILE,
# so that each call's output differs from the last.
n=$(cat "$1" 2>/dev/null || echo 0)
echo $((n + 1)) > "$1"
printf '%s-%s' "$2" "$n"
