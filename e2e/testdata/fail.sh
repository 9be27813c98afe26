#!/bin/sh
# fail.sh STDOUT_FILE STDERR [STATUS]: prints the file's content (when the
# path is not empty) to stdout and STDERR (then a second line) to stderr,
# and exits with STATUS (3 unless given). The stdout text comes from a file
# so that it appears nowhere in the command line.
[ -n "$1" ] && cat "$1"
printf '%s\nsecond stderr line\n' "$2" >&2
exit "${3:-3}"
