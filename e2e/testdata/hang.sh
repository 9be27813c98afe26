#!/bin/sh
# hang.sh: a token source that never answers.
exec sleep 1000
