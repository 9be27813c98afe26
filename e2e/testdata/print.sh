#!/bin/sh
# print.sh TEXT: prints TEXT to stdout and exits 0.
printf '%s' "$1"
